"""Write stage: staging file, shards and metadata, all atomic.

Encoded images are appended to one staging file while inputs stream in (the
index of offsets stays in memory, the pixels do not). Once the plan is made
(:mod:`tfpipe.split`), each split's records are read back in hash order and
written to shards under temporary names, renamed when complete. Metadata is
written last and ``tfpipe.json`` is the very last file: a directory without
it is unfinished, and a rerun rebuilds it byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import TfpipeError
from .format import (
    QUARANTINE,
    SIDECAR,
    TFDS_FILES,
    DatasetInfo,
    ShardInfo,
    SplitInfo,
    frame_record,
    serialize_example,
    shard_name,
    tfds_metadata,
)
from .split import Entry, Plan

STAGING = ".tfpipe-tmp"
MIN_SHARD_BYTES = 64 * 1024**2
MAX_SHARD_BYTES = 1024**3
# Parallel interleave needs several files to read from; below this many
# records per shard the extra files only cost open() calls.
MIN_RECORDS_PER_SHARD = 1024
READ_PARALLELISM = 4
RECORD_OVERHEAD = 16  # TFRecord framing: length, two CRCs


def num_shards(num_records: int, num_bytes: int) -> int:
    """TFDS's sizing (64 MiB..1 GiB per shard, powers of two), but never fewer
    than :data:`READ_PARALLELISM` shards when each still gets enough records."""
    total = num_bytes + RECORD_OVERHEAD * num_records
    n = 1
    while total / n > MAX_SHARD_BYTES or (total / n > 2 * MIN_SHARD_BYTES and n < 1024):
        n *= 2
    while n < READ_PARALLELISM and num_records >= 2 * n * MIN_RECORDS_PER_SHARD:
        n *= 2
    return n


def is_ours(name: str) -> bool:
    return (
        name in (SIDECAR, QUARANTINE, STAGING, "samples.png")
        or name in TFDS_FILES
        or ".tfrecord-" in name
    )


def prepare_output(out: Path, overwrite: bool) -> Path:
    """Make ``out`` ready for a fresh run and return its staging directory.

    A finished dataset is refused unless ``overwrite``; leftovers of an
    interrupted run are removed (the rerun redoes them identically); a
    directory holding files that are not ours is refused unless ``overwrite``.
    """
    if out.exists() and not out.is_dir():
        raise TfpipeError(f"--out: {out} is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TfpipeError(f"--out: cannot create {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise TfpipeError(f"--out: {out} is not writable")
    foreign = sorted(p.name for p in out.iterdir() if not is_ours(p.name))
    if foreign and not overwrite:
        raise TfpipeError(
            f"--out: {out} already holds other files ({', '.join(foreign[:3])}...); "
            "choose an empty directory or pass --overwrite"
        )
    # The commit marker goes first, so a crash here never leaves a dir that looks finished.
    (out / SIDECAR).unlink(missing_ok=True)
    for p in out.iterdir():
        if is_ours(p.name) or overwrite:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    staging = out / STAGING
    staging.mkdir()
    return staging


class Staging:
    """Append-only file of encoded images; entries remember offset and length."""

    def __init__(self, directory: Path):
        self.path = directory / "images.bin"
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self.offset = 0

    def append(self, data: bytes) -> tuple[int, int]:
        self._fh.write(data)
        start, self.offset = self.offset, self.offset + len(data)
        return start, len(data)

    def close(self) -> None:
        self._fh.close()


def shard_slices(entries: list[Entry]) -> list[slice]:
    """How one split's entries (in final order) are cut into shards; both runners use it."""
    n = num_shards(len(entries), sum(e.length for e in entries))
    bounds = [round(i * len(entries) / n) for i in range(n + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(n)]


def split_info(split: str, entries: list[Entry], shards, num_classes: int) -> SplitInfo:
    """Describe a written split: its shards and its examples per class."""
    counts = [0] * num_classes
    for e in entries:
        counts[e.index] += 1
    return SplitInfo(split, tuple(shards), tuple(counts))


@dataclass(frozen=True)
class ShardJob:
    """One shard to write from the staging file: picklable, so a worker process can run it."""

    out: str
    filename: str
    staging: str
    spans: tuple[tuple[int, int, int], ...]  # (offset, length, class index), in record order

    def run(self) -> ShardInfo:
        with open(self.staging, "rb") as staged:
            records = []
            for offset, length, index in self.spans:
                staged.seek(offset)
                records.append(serialize_example(staged.read(length), index))
        return write_shard(Path(self.out), self.filename, records)


def run_job(job: ShardJob) -> ShardInfo:
    return job.run()


def write_split(
    out: Path, name: str, split: str, entries: list[Entry], staging_file: Path,
    num_classes: int, progress=None, mapper=map,
) -> SplitInfo:
    """Write one split's shards (entries already in final order) and describe them.

    ``mapper`` runs the shard jobs: ``map`` here, or a process pool's ``map``
    to write several shards at once (the output is the same bytes either way).
    """
    slices = shard_slices(entries)
    jobs = [
        ShardJob(str(out), shard_name(name, split, i, len(slices)), str(staging_file),
                 tuple((e.offset, e.length, e.index) for e in entries[part]))
        for i, part in enumerate(slices)
    ]
    shards = []
    for job, shard in zip(jobs, mapper(run_job, jobs)):
        shards.append(shard)
        if progress is not None:
            progress.update(len(job.spans))
    return split_info(split, entries, shards, num_classes)


def write_shard(out: Path, filename: str, records, tmp_dir: Path | None = None) -> ShardInfo:
    """Write serialized examples as one TFRecord file: temporary name, then rename.

    ``tmp_dir`` (default: the staging directory) lets concurrent attempts at
    the same shard (Beam retries) each write their own temporary file.
    """
    tmp = (tmp_dir or out / STAGING) / (filename + ".tmp")
    digest, size, count = hashlib.sha256(), 0, 0
    with open(tmp, "wb") as fh:
        for record in records:
            framed = frame_record(record)
            fh.write(framed)
            digest.update(framed)
            size += len(framed)
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out / filename)
    return ShardInfo(filename, count, size, digest.hexdigest())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pixel_stats(entries: list[Entry], pixels_per_image: int, channels: int) -> tuple[tuple, tuple]:
    """Per-channel mean and std (0..255 scale) from the per-image sums."""
    n = len(entries) * pixels_per_image
    if n == 0:
        return (0.0,) * channels, (1.0,) * channels
    s = [sum(e.sums[c] for e in entries) for c in range(channels)]
    sq = [sum(e.sums[channels + c] for e in entries) for c in range(channels)]
    mean = tuple(round(v / n, 6) for v in s)
    std = tuple(round(max(q / n - m * m, 0.0) ** 0.5, 6) for q, m in zip(sq, mean))
    return mean, std


def finish(out: Path, info: DatasetInfo, plan: Plan) -> None:
    """Metadata last: TFDS files, the quarantine list, then the commit marker."""
    staging = out / STAGING
    lines = sorted(
        json.dumps({"origin": origin, "split": split, "category": rej.category, "reason": rej.detail},
                   sort_keys=True)
        for origin, split, rej in plan.rejected
    )
    (staging / QUARANTINE).write_text("".join(line + "\n" for line in lines))
    for filename, text in tfds_metadata(info).items():
        (staging / filename).write_text(text)
        os.replace(staging / filename, out / filename)
    os.replace(staging / QUARANTINE, out / QUARANTINE)
    (staging / "images.bin").unlink(missing_ok=True)  # the big one goes before the commit
    tmp = staging / SIDECAR
    tmp.write_text(info.to_json())
    os.replace(tmp, out / SIDECAR)
    shutil.rmtree(staging)
