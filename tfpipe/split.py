"""Split + dedup stage: decide, for every staged example, its split, its class index, or its quarantine.

Runs once, after every input has been encoded, on a small index (no pixels):

1. class names: ``--class-names``, else integer labels keep their value as
   the index, else names sorted like ``flow_from_directory`` sorts folders;
2. exact duplicates (same decoded pixels) inside a split are quarantined as
   ``duplicate``; an image found in two splits stays in the first of
   train, validation, test and is quarantined from the others as ``leak``;
3. a source without split information is split by ``--split`` ratios,
   stratified by class, or becomes one ``train`` split; ``--validation-split``
   then carves a stratified validation share out of train (or test);
4. each split is ordered by a hash of its keys (as TFDS does), so output does
   not depend on input order or worker count.

Every choice depends only on keys, labels, pixel hashes and the seed.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from .config import SPLIT_NAMES, ConvertConfig
from .errors import Rejected, TfpipeError, summarize


@dataclass
class Entry:
    """One staged example: where its encoded bytes are and what we know of it."""

    key: str
    origin: str
    label: str | int
    split: str | None
    pixel_hash: bytes
    offset: int
    length: int
    sums: tuple[float, ...]
    index: int = -1  # class index, set by resolve_classes

    @cached_property
    def order(self) -> bytes:
        """Where the entry goes in its split: md5 of its key, as TFDS orders records."""
        return key_hash(self.key)

    @classmethod
    def of(cls, encoded, offset: int, length: int) -> Entry:
        """The index entry of an :class:`~tfpipe.encode.Encoded` stored at ``offset``."""
        return cls(encoded.key, encoded.origin, encoded.label, encoded.split, encoded.pixel_hash,
                   offset, length, encoded.sums)


def key_hash(key: str, salt: str = "") -> bytes:
    return hashlib.md5(f"{salt}{key}".encode()).digest()


@dataclass
class Plan:
    """What the write stage needs: the ordered entries of each split, and the rejects."""

    class_names: list[str]
    splits: dict[str, list[Entry]]
    rejected: list[tuple[str, str | None, Rejected]] = field(default_factory=list)
    duplicates: int = 0
    leaks: int = 0


def plan(entries: list[Entry], config: ConvertConfig) -> Plan:
    class_names, rejected = resolve_classes(entries, config.class_names)
    entries = [e for e in entries if e.index >= 0]
    pooled = config.split is not None or all(e.split is None for e in entries)
    for e in entries:
        e.split = None if pooled else (e.split or "train")
    kept, dups, leaks = dedup(entries, rejected)
    if pooled:
        splits = assign_ratios(kept, config.split or {"train": 1.0}, config.seed)
    else:
        splits = defaultdict(list)
        for e in kept:
            splits[e.split].append(e)
    if config.validation_split:
        carve_validation(splits, config.validation_from, config.validation_split, config.seed)
    ordered = {
        name: sorted(splits[name], key=lambda e: e.order)
        for name in SPLIT_NAMES
        if splits.get(name)
    }
    if not ordered:
        raise TfpipeError(f"no usable image is left: {summarize(rejected)}")
    return Plan(class_names, ordered, rejected, dups, leaks)


MAX_CLASS_INDEX = 100_000


def resolve_classes(entries: list[Entry], given: tuple[str, ...] | None):
    """Class names, and each entry's index into them (-1 and a rejection if it has none).

    Integer labels are indices (a CSV's ``label`` column) when every label is
    an integer or ``--class-names`` names them; otherwise every label is a name.
    """
    rejected = []
    for e in entries:
        if isinstance(e.label, int) and e.label >= MAX_CLASS_INDEX:
            rejected.append((e.origin, e.split, Rejected("bad label", f"label {e.label} is not a plausible class index")))
    labels = {e.label for e in entries if not (isinstance(e.label, int) and e.label >= MAX_CLASS_INDEX)}
    by_index = bool(labels) and all(isinstance(v, int) for v in labels)
    if given:
        names = list(given)
        if by_index and max(labels) >= len(names):
            raise TfpipeError(
                f"--class-names gives {len(names)} names, but the labels are class indices up to "
                f"{max(labels)}: give one name per index 0..{max(labels)}, empty classes included"
            )
    elif by_index:
        names = [str(i) for i in range(max(labels) + 1)]
    else:
        names = sorted({str(v) for v in labels})
    lookup = {n: i for i, n in enumerate(names)}
    for e in entries:
        if isinstance(e.label, int) and e.label >= MAX_CLASS_INDEX:
            e.index = -1
            continue  # already rejected above
        if isinstance(e.label, int) and (by_index or given):
            e.index = e.label if e.label < len(names) else -1
        else:
            e.index = lookup.get(str(e.label), -1)
        if e.index < 0:
            rejected.append((e.origin, e.split, Rejected("unknown label", f"label {e.label!r} is not in the class names")))
    return names, rejected


SPLIT_RANK = {name: i for i, name in enumerate(SPLIT_NAMES)}


def dedup(entries: list[Entry], rejected: list) -> tuple[list[Entry], int, int]:
    groups: dict[bytes, list[Entry]] = defaultdict(list)
    for e in entries:
        groups[e.pixel_hash].append(e)
    kept, dups, leaks = [], 0, 0
    for group in groups.values():
        group.sort(key=lambda e: (SPLIT_RANK.get(e.split, 0), e.order))
        keeper = group[0]
        kept.append(keeper)
        for other in group[1:]:
            if other.split == keeper.split:
                dups += 1
                rej = Rejected("duplicate", f"duplicate of {keeper.origin}")
            else:
                leaks += 1
                rej = Rejected("leak", f"same image as {keeper.origin} in {keeper.split}")
            rejected.append((other.origin, other.split, rej))
    return kept, dups, leaks


def _by_class(entries: list[Entry], seed: int) -> dict[int, list[Entry]]:
    groups: dict[int, list[Entry]] = defaultdict(list)
    for e in entries:
        groups[e.index].append(e)
    for group in groups.values():
        group.sort(key=lambda e: key_hash(e.key, salt=f"{seed}:"))
    return groups


def assign_ratios(entries: list[Entry], ratios: dict[str, float], seed: int) -> dict[str, list[Entry]]:
    """Stratified: each class is cut in the given proportions, after a seeded hash shuffle."""
    splits: dict[str, list[Entry]] = defaultdict(list)
    names = [n for n in SPLIT_NAMES if n in ratios]
    for group in _by_class(entries, seed).values():
        start, acc = 0, 0.0
        for i, name in enumerate(names):
            acc += ratios[name]
            end = len(group) if i == len(names) - 1 else _half_up(acc * len(group))
            for e in group[start:end]:
                e.split = name
                splits[name].append(e)
            start = end
    return splits


def _half_up(x: float) -> int:
    """Round halves up: 5 images at 10% give 1 (Python's round() gives 0, to even)."""
    return int(x + 0.5 + 1e-9)


def carve_validation(splits: dict[str, list[Entry]], source: str, fraction: float, seed: int) -> None:
    """Move a stratified ``fraction`` of ``source`` into validation (like ``validation_split``)."""
    if splits.get("validation"):
        raise TfpipeError("--validation-split: the source already has a validation split")
    if not splits.get(source):
        raise TfpipeError(f"--validation-split: the source has no {source} split to carve from")
    groups = _by_class(splits[source], seed)
    # Largest remainder: each class gets its share rounded down, and the images the
    # rounding left over go to the classes with the largest remainders, so the total
    # is fraction x N even when every class is small (24 classes x 2 images at 20%
    # give 10 validation images, not 0).
    quota = {c: fraction * len(g) for c, g in groups.items()}
    take = {c: int(q) for c, q in quota.items()}
    left = _half_up(fraction * sum(map(len, groups.values()))) - sum(take.values())
    for c in sorted(groups, key=lambda c: (take[c] - quota[c], c))[:max(left, 0)]:
        take[c] += 1
    keep, carved = [], []
    for c, group in groups.items():
        carved += group[: take[c]]
        keep += group[take[c] :]
    for e in carved:
        e.split = "validation"
    splits[source], splits["validation"] = keep, carved
