"""Verify a converted dataset: every shard, every record, against ``tfpipe.json``.

Usage::

    python -m tfpipe.verify DIR        # exit 0: "ok: N records in S shards verified"
    tfpipe.verify(DIR) -> list[Problem] # [] when the dataset is intact

Checks, per shard listed in ``tfpipe.json``:

1. TFRecord framing and both CRC32C checksums of every record (length and
   data), read here in Python (the CRC is :mod:`tfpipe.format`'s, the one
   the writer uses), so a problem names the shard file, the record index and
   the byte offset -- unlike TensorFlow's ``DataLossError: corrupted record
   at N`` (tensorflow/tensorflow#13463);
2. the record count, byte size and sha256 recorded in the metadata;
3. every record parses as a ``tf.train.Example`` with the reader's own
   ``tf.io.parse_example`` spec, its label is a valid class index and its
   image decodes (:meth:`ImageSpec.decode`) to the dataset's shape;
4. per-split class counts, shard files on disk that the metadata does not
   list, and the shard lengths in TFDS's ``dataset_info.json``.

Shard framing and CRCs come from :mod:`tfpipe.shards` (shared with the
reader); this module adds the checks that need the metadata and TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import TfpipeError
from .format import IMAGE_KEY, LABEL_KEY, DatasetInfo, load_info
from .shards import Problem, ShardScan, check_shard, count_problem, iter_records

__all__ = ["Problem", "check_shard", "iter_records", "main", "verify"]

# --------------------------------------------------------------------------- dataset


def verify(path: str | os.PathLike) -> list[Problem]:
    """Re-read every shard of the dataset at ``path`` and check it against its metadata.

    Returns:
        Every problem found (``[]`` when the dataset is intact), each naming
        the file and, where it applies, the record index.

    Raises:
        TfpipeError: ``path`` is not a finished tfpipe dataset (no ``tfpipe.json``,
            or a format version this tfpipe does not read).
    """
    info = load_info(path)
    problems: list[Problem] = []
    for split in info.splits.values():
        counts = [0] * info.num_classes
        split_ok = True
        for shard, file in zip(split.shards, info.shard_paths(split.name)):
            found = _verify_shard(info, file, shard, counts)
            split_ok &= not found
            problems += found
        if split_ok and tuple(counts) != tuple(split.class_counts):
            problems.append(
                Problem(
                    os.path.join(info.path, "tfpipe.json"),
                    f"split {split.name}: class counts {counts} in the shards, "
                    f"{list(split.class_counts)} in the metadata",
                )
            )
    problems += _stray_shards(info) + _tfds_problems(info)
    return problems


def _verify_shard(info: DatasetInfo, file: str, shard, counts: list[int]) -> list[Problem]:
    if not os.path.isfile(file):
        return [Problem(file, "missing (listed in tfpipe.json)", unreadable=True)]
    scan = ShardScan(file)
    record_problems: list[Problem] = []
    for batch in scan.batches():
        record_problems += _check_examples(info, file, batch, counts)
    problems = scan.problems + count_problem(scan, shard.records)
    if not problems:  # bytes differ although every record is intact: report that instead
        size = os.path.getsize(file)
        if size != shard.bytes:
            problems.append(Problem(file, f"is {size} bytes, tfpipe.json says {shard.bytes}"))
        elif scan.sha256 != shard.sha256:  # hashed while scanning: one read of the file
            problems.append(Problem(file, "sha256 differs from tfpipe.json (replaced or modified)"))
    return sorted(problems + record_problems, key=lambda p: (p.record is None, p.record or 0))


def _check_examples(
    info: DatasetInfo, file: str, batch: list[tuple[int, bytes]], counts: list[int]
) -> list[Problem]:
    """Parse with the reader's spec, check the label, decode the image."""
    if not batch:
        return []
    import tensorflow as tf

    from .format import parse_spec

    spec = parse_spec()
    problems = []
    try:
        parsed = tf.io.parse_example(tf.constant([data for _, data in batch]), spec)
        rows = list(zip(parsed[IMAGE_KEY].numpy(), parsed[LABEL_KEY].numpy()))
    except (tf.errors.InvalidArgumentError, ValueError):
        rows = []
        for index, data in batch:  # find which records do not parse
            try:
                one = tf.io.parse_example(tf.constant([data]), spec)
                rows.append((one[IMAGE_KEY].numpy()[0], one[LABEL_KEY].numpy()[0]))
            except (tf.errors.InvalidArgumentError, ValueError) as exc:
                rows.append(None)
                reason = getattr(exc, "message", str(exc)).splitlines()[0]
                problems.append(Problem(file, f"not a parseable tf.train.Example: {reason}", index))
    img = info.image
    for (index, _), row in zip(batch, rows):
        if row is None:
            continue
        image, label = row
        if not 0 <= int(label) < info.num_classes:
            problems.append(
                Problem(
                    file,
                    f"label {int(label)} is not a class index (0..{info.num_classes - 1})",
                    index,
                )
            )
        else:
            counts[int(label)] += 1
        try:
            img.decode(image)
        except Exception as exc:  # noqa: BLE001 - any failure to decode is the finding
            problems.append(
                Problem(
                    file,
                    f"image does not decode to {img.height}x{img.width}x{img.channels} "
                    f"({img.encoding}): {type(exc).__name__}: {exc}",
                    index,
                )
            )
    return problems


def _stray_shards(info: DatasetInfo) -> list[Problem]:
    listed = {s.file for split in info.splits.values() for s in split.shards}
    prefix = f"{info.name}-"
    return [
        Problem(os.path.join(info.path, name), "shard file not listed in tfpipe.json (stray)")
        for name in sorted(os.listdir(info.path))
        if name.startswith(prefix) and ".tfrecord-" in name and name not in listed
    ]


def _tfds_problems(info: DatasetInfo) -> list[Problem]:
    """TFDS readers size splits from dataset_info.json: it must agree with tfpipe.json."""
    path = os.path.join(info.path, "dataset_info.json")
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return [Problem(path, "missing (TFDS readers need it)")]
    except (OSError, ValueError) as exc:
        return [Problem(path, f"unreadable: {exc}")]
    problems = []
    tfds_splits = {s.get("name"): s for s in doc.get("splits", []) if isinstance(s, dict)}
    for name, split in info.splits.items():
        theirs = tfds_splits.get(name)
        if theirs is None:
            problems.append(Problem(path, f"split {name} is missing"))
            continue
        lengths = [int(n) for n in theirs.get("shardLengths", [])]
        ours = [s.records for s in split.shards]
        if lengths != ours:
            problems.append(
                Problem(path, f"split {name}: shard lengths {lengths}, tfpipe.json says {ours}")
            )
    return problems


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tfpipe.verify",
        description="Re-read every shard of a converted dataset and check it against tfpipe.json.",
    )
    parser.add_argument("dir", help="a dataset directory written by python -m tfpipe.convert")
    args = parser.parse_args(argv)
    try:
        info = load_info(args.dir)
        problems = verify(args.dir)
    except TfpipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if problems:
        for problem in problems:
            print(problem)
        print(f"error: {len(problems)} problem(s) in {args.dir}", file=sys.stderr)
        return 1
    records = sum(s.num_examples for s in info.splits.values())
    shards = sum(len(s.shards) for s in info.splits.values())
    print(f"ok: {records} records in {shards} shard{'' if shards == 1 else 's'} verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
else:
    from ._callable import make_callable

    make_callable(__name__, verify)
