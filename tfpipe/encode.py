"""Validate + encode stage, run in worker processes: Item -> :class:`Encoded` or a rejection.

This is the CPU-heavy part of conversion (decode, convert, resize, re-encode,
hash), so it is the part that ``--workers`` parallelises. It imports neither
TensorFlow nor anything that opens a network connection.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .errors import Rejected, TfpipeError, summarize
from .format import ImageSpec
from .images import open_image, strict_decoding, to_pixels
from .sources.base import Item, Source, read_payload

Rejection = tuple  # (origin, split, Rejected)


@dataclass(frozen=True)
class Encoded:
    """One validated example, ready to be staged.

    ``pixel_hash`` identifies the decoded pixels (the leak and duplicate
    check); ``sums`` holds per-channel sum and sum of squares for the
    dataset's mean/std.
    """

    key: str
    origin: str
    label: str | int
    split: str | None
    data: bytes
    pixel_hash: bytes
    sums: tuple[float, ...]


def encode_item(item: Item, spec: ImageSpec) -> Encoded:
    pixels = to_pixels(read_payload(item.payload), spec.channels, (spec.height, spec.width))
    digest = hashlib.blake2b(pixels.tobytes(), digest_size=16)
    flat = pixels.reshape(-1, spec.channels).astype(np.int64)  # exact: no float rounding
    sums = tuple(flat.sum(axis=0).tolist()) + tuple(np.einsum("ij,ij->j", flat, flat).tolist())
    return Encoded(item.key, item.origin, item.label, item.split, spec.encode(pixels), digest.digest(), sums)


def encode_batch(items: list[Item], spec: ImageSpec) -> list[Encoded | Rejection]:
    """Encode a chunk of items; a bad item becomes ``(origin, split, Rejected)`` in place."""
    out: list[Encoded | Rejection] = []
    with strict_decoding():  # once per chunk, not once per image
        for item in items:
            try:
                out.append(encode_item(item, spec))
            except Rejected as rej:
                out.append((item.origin, item.split, rej))
    return out


def probe_shape(source: Source, sample: int = 16) -> tuple[int, int, int]:
    """(H, W, C) most common among the first ``sample`` images (ties: the first seen).

    Used when the user gives no ``--image-size``/``--channels``: the source
    lists its inputs in a fixed order, so the answer is deterministic.

    Raises:
        TfpipeError: no input at all decodes; the message says why they failed.
    """
    shapes: list[tuple[int, int, int]] = []
    problems: list[Rejection] = []
    entries = source.items()
    for entry in entries:
        if not isinstance(entry, Item):
            problems.append(entry)
            continue
        try:
            payload = read_payload(entry.payload)
            if isinstance(payload, np.ndarray):
                channels = 1 if payload.ndim == 2 or payload.shape[2] == 1 else 3
                shapes.append((payload.shape[0], payload.shape[1], channels))
            else:
                img = open_image(payload)
                channels = 1 if img.mode in ("1", "L", "LA", "La", "I", "F") or img.mode.startswith("I;16") else 3
                shapes.append((img.height, img.width, channels))
        except Rejected as rej:
            problems.append((entry.origin, entry.split, rej))
        if len(shapes) >= sample:
            break
    entries.close()  # stop a streaming source (e.g. pending downloads) right away
    if not shapes:
        raise TfpipeError(f"found no readable image in {source.path}: {summarize(problems)}")
    counts = Counter(shapes)
    best = max(counts.values())
    return next(s for s in shapes if counts[s] == best)


