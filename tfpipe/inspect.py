"""Look inside a converted dataset: what is in it, why inputs were left out, what it looks like.

Usage::

    python -m tfpipe.inspect DIR [--png PATH] [--no-png]

prints the splits (examples, shards, bytes), the examples per class and
split, the quarantine reasons (counted from ``quarantine.jsonl``), and saves
a small grid of sample images per class to ``DIR/samples.png`` (or PATH).

The module is ``tfpipe.inspect``; inside the package nothing imports it
relatively, so it never hides the standard library's :mod:`inspect`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from .config import SPLIT_NAMES
from .errors import TfpipeError
from .format import IMAGE_KEY, LABEL_KEY, QUARANTINE, DatasetInfo, load_info
from .shards import ShardScan

SAMPLES_PNG = "samples.png"


def quarantine_counts(path: str | os.PathLike) -> Counter:
    """``{category: count}`` from ``DIR/quarantine.jsonl`` (empty if it has no lines).

    A line that is not a JSON object with a ``category`` counts as ``"(unreadable line)"``.
    """
    counts: Counter = Counter()
    file = Path(path) / QUARANTINE
    if not file.is_file():
        return counts
    with open(file, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                category = json.loads(line)["category"]
            except (ValueError, KeyError, TypeError):
                category = "(unreadable line)"
            counts[str(category)] += 1
    return counts


def summary(path: str | os.PathLike) -> str:
    """The dataset at ``path`` in words: splits, classes, shards, bytes, quarantine reasons."""
    info = load_info(path)
    img = info.image
    splits = _ordered_splits(info)
    lines = [
        f"{info.name}: {info.path}  ({img.height}x{img.width}x{img.channels} {img.encoding}, "
        f"{info.num_classes} classes, format v{info.format_version}"
        + (f", from {info.source})" if info.source else ")"),
        f"  {'split':<12}{'examples':>10}{'shards':>8}{'bytes':>14}",
    ]
    for s in splits:
        lines.append(f"  {s.name:<12}{s.num_examples:>10,}{len(s.shards):>8}{s.num_bytes:>14,}")
    lines.append(
        f"  {'total':<12}{sum(s.num_examples for s in splits):>10,}"
        f"{sum(len(s.shards) for s in splits):>8}{sum(s.num_bytes for s in splits):>14,}"
    )
    width = max([5, *map(len, info.class_names)]) + 2
    lines.append("  " + "class".ljust(width) + "".join(f"{s.name:>12}" for s in splits))
    for i, name in enumerate(info.class_names):
        counts = "".join(
            f"{s.class_counts[i] if i < len(s.class_counts) else 0:>12,}" for s in splits
        )
        lines.append("  " + name.ljust(width) + counts)
    quarantined = quarantine_counts(path)
    if quarantined:
        lines.append(f"  quarantined {sum(quarantined.values()):,} (see {QUARANTINE}):")
        for category, n in sorted(quarantined.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {n:>8,} x {category}")
    else:
        lines.append("  quarantined 0")
    stats = ", ".join(f"{m:.1f}/{s:.1f}" for m, s in zip(info.mean, info.std))
    lines.append(
        f"  duplicates {info.duplicates}, leaks {info.leaks}; train pixel mean/std {stats}"
    )
    return "\n".join(lines)


def _ordered_splits(info: DatasetInfo):
    """train, validation, test first (the metadata stores them alphabetically)."""
    rank = {name: i for i, name in enumerate(SPLIT_NAMES)}
    return sorted(info.splits.values(), key=lambda s: (rank.get(s.name, len(rank)), s.name))


def samples(
    info: DatasetInfo, split: str, per_class: int, classes: list[int] | None = None
) -> dict[int, list[np.ndarray]]:
    """Up to ``per_class`` decoded images of each of ``classes`` (default: all), the first
    ones found in ``split``'s shards. Corrupt records are skipped (``tfpipe.verify`` reports them).
    """
    import tensorflow as tf

    from .format import parse_spec

    classes = list(range(info.num_classes)) if classes is None else classes
    found: dict[int, list[np.ndarray]] = {i: [] for i in classes}
    missing = per_class * len(classes)
    for file in info.shard_paths(split):
        if not os.path.isfile(file):
            continue
        for batch in ShardScan(file).batches(max_bytes=1024**2):
            try:
                parsed = tf.io.parse_example(tf.constant([d for _, d in batch]), parse_spec())
            except (tf.errors.InvalidArgumentError, ValueError):
                continue  # a batch with a malformed record: verify's business, not ours
            for image, label in zip(parsed[IMAGE_KEY].numpy(), parsed[LABEL_KEY].numpy()):
                label = int(label)
                if label not in found or len(found[label]) >= per_class:
                    continue
                try:
                    found[label].append(info.image.decode(image))
                except Exception:  # noqa: BLE001, S112 - same: skip what does not decode
                    continue
                missing -= 1
            if missing <= 0:
                return found
    return found


def save_samples(
    path: str | os.PathLike,
    png: str | os.PathLike | None = None,
    *,
    per_class: int = 6,
    max_classes: int = 8,
    split: str | None = None,
) -> Path:
    """Save a grid of sample images (one row per class) as a PNG, with the Agg backend.

    Args:
        path: the dataset directory.
        png: where to save; default ``DIR/samples.png``.
        per_class: images per row.
        max_classes: rows; with more classes, evenly spaced ones are shown.
        split: which split to draw from (default: train, else the first).

    Returns:
        The path of the PNG.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    info = load_info(path)
    split = split or ("train" if "train" in info.splits else next(iter(info.splits)))
    classes = list(range(info.num_classes))
    if len(classes) > max_classes > 1:
        classes = sorted(
            {round(i * (len(classes) - 1) / (max_classes - 1)) for i in range(max_classes)}
        )
    found = samples(info, split, per_class, classes)
    fig = Figure(figsize=(1.1 * per_class + 1.2, 1.1 * len(classes) + 0.4), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(classes), per_class, squeeze=False)
    for row, cls in zip(axes, classes):
        for col, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if col < len(found[cls]):
                pixels = found[cls][col]
                if pixels.shape[2] == 1:
                    ax.imshow(pixels[:, :, 0], cmap="gray", vmin=0, vmax=255)
                else:
                    ax.imshow(pixels)
        row[0].set_ylabel(info.class_names[cls], rotation=0, ha="right", va="center")
    fig.suptitle(f"{info.name} / {split}")
    out = Path(png) if png else Path(info.path) / SAMPLES_PNG
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tfpipe.inspect",
        description="Summarise a converted dataset and save a grid of sample images.",
    )
    parser.add_argument("dir", help="a dataset directory written by python -m tfpipe.convert")
    parser.add_argument(
        "--png", metavar="PATH", help=f"where to save the grid (default: DIR/{SAMPLES_PNG})"
    )
    parser.add_argument("--no-png", action="store_true", help="print the summary only")
    parser.add_argument(
        "--per-class", type=int, default=6, metavar="N", help="sample images per class"
    )
    args = parser.parse_args(argv)
    try:
        print(summary(args.dir))
        if not args.no_png:
            print(
                f"  samples: {save_samples(args.dir, args.png, per_class=max(args.per_class, 1))}"
            )
    except TfpipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot save the sample grid: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
