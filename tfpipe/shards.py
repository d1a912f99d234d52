"""Shard files on their own: is each one there, whole, and readable?

Shared by the reader (:mod:`tfpipe.read`, which checks every shard before
building a pipeline and names the file when one breaks mid-read) and by
:mod:`tfpipe.verify` (which also parses every record).

* :func:`stat_shard` -- existence and byte size against ``tfpipe.json``;
  one ``stat`` call, no reading: what ``tfpipe.load`` does up front.
* :func:`check_shard` -- TFRecord framing, both CRC32C checksums of every
  record, and the record count; reads the whole file in Python (no
  TensorFlow), so a problem names the file, the record index and the byte
  offset -- unlike TensorFlow's ``DataLossError: corrupted record at N``
  (tensorflow/tensorflow#13463).
* :class:`ShardScan`, :func:`iter_records` -- the streaming reader under both.

Every function returns :class:`Problem` values (``[]`` when all is well);
:func:`raise_for` turns them into a :class:`~tfpipe.errors.ShardError`.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .errors import ShardError, TfpipeError
from .format import _masked_crc

HEADER_BYTES = 12  # uint64 length + uint32 masked CRC of the length
FOOTER_BYTES = 4  # uint32 masked CRC of the data
BATCH_BYTES = 8 * 1024**2  # records CRC-checked (and parsed) together


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset.

    Attributes:
        file: path of the shard (or metadata file) concerned.
        message: what is wrong, in words.
        record: index of the record inside ``file`` (0-based), when it applies.
        unreadable: the file is missing or cannot be opened at all (nothing of it can be read).
    """

    file: str
    message: str
    record: int | None = None
    unreadable: bool = False

    def __str__(self) -> str:
        where = f"{self.file}: record {self.record}" if self.record is not None else self.file
        return f"{where}: {self.message}"


class ShardScan:
    """Streams the intact records of one TFRecord file; collects what is wrong.

    After :meth:`batches` is exhausted, ``records`` is the number of records
    read (intact or not) and ``problems`` lists corrupt records and where the
    framing broke, each with its record index.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.records = 0
        self.problems: list[Problem] = []
        self.framing_ok = True
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        """sha256 of the bytes scanned so far (of the whole file once a scan framed it all)."""
        return self._digest.hexdigest()

    def _problem(self, index: int, message: str) -> None:
        self.problems.append(Problem(self.path, message, index))

    def batches(self, max_bytes: int = BATCH_BYTES) -> Iterator[list[tuple[int, bytes]]]:
        """Yield lists of ``(record index, data)`` whose two CRCs are both correct."""
        batch: list[tuple[int, bytes]] = []
        size = 0
        with open(self.path, "rb") as fh:
            file_size = os.fstat(fh.fileno()).st_size
            offset, index = 0, 0
            while True:
                header = fh.read(HEADER_BYTES)
                self._digest.update(header)
                if not header:
                    break
                if len(header) < HEADER_BYTES:
                    self._problem(
                        index,
                        f"truncated: the file ends {len(header)} bytes into a "
                        f"record header at byte {offset} (cut mid-record)",
                    )
                    self.framing_ok = False
                    break
                if _masked_crc(header[:8]) != header[8:]:
                    self._problem(
                        index,
                        f"corrupted length field at byte {offset} (CRC mismatch); "
                        "the rest of the file cannot be framed",
                    )
                    self.framing_ok = False
                    break
                (length,) = struct.unpack("<Q", header[:8])
                left = file_size - offset - HEADER_BYTES
                # Compare with the file size BEFORE reading: a forged length
                # (with a matching CRC) must be reported, not allocated.
                body = fh.read(length + FOOTER_BYTES) if length + FOOTER_BYTES <= left else b""
                self._digest.update(body)
                if len(body) < length + FOOTER_BYTES:
                    self._problem(
                        index,
                        f"truncated: header at byte {offset} announces {length} bytes, "
                        f"the file ends {max(left, 0)} bytes later (cut mid-record)",
                    )
                    self.framing_ok = False
                    break
                data = body[:length]
                if _masked_crc(data) == body[length:]:
                    batch.append((index, data))
                    size += length
                else:
                    self._problem(
                        index,
                        f"data CRC mismatch in the record at byte {offset} (corrupted record)",
                    )
                offset += HEADER_BYTES + length + FOOTER_BYTES
                index += 1
                if size >= max_bytes:
                    yield batch
                    batch, size = [], 0
            self.records = index
        if batch:
            yield batch


def iter_records(path: str | os.PathLike) -> Iterator[bytes]:
    """The records of a TFRecord file, CRC-checked; raises TfpipeError at the first bad one."""
    scan = ShardScan(path)
    for batch in scan.batches():
        if scan.problems:
            break
        for _, data in batch:
            yield data
    if scan.problems:
        raise TfpipeError(str(scan.problems[0]))


def check_shard(path: str | os.PathLike, expected_records: int | None = None) -> list[Problem]:
    """Framing, CRCs and record count of one shard (no parsing, no TensorFlow).

    Returns:
        The problems found; ``[]`` for an intact shard of ``expected_records``
        records (any number when None). A missing file is one problem.
    """
    if not os.path.isfile(path):
        return [Problem(os.fspath(path), "missing (listed in tfpipe.json)", unreadable=True)]
    scan = ShardScan(path)
    for _ in scan.batches():
        pass
    return scan.problems + count_problem(scan, expected_records)


def count_problem(scan: ShardScan, expected: int | None) -> list[Problem]:
    """The record-count mismatch of a finished scan, if any (not when framing broke)."""
    if expected is None or not scan.framing_ok or scan.records == expected:
        return []
    hint = " (cut at a record boundary?)" if scan.records < expected else ""
    return [Problem(scan.path, f"holds {scan.records} records, tfpipe.json says {expected}{hint}")]


def stat_shard(path: str, expected_bytes: int | None = None) -> list[Problem]:
    """Is the shard there, with the size ``tfpipe.json`` recorded? One ``stat``, no reading.

    Works on any filesystem TensorFlow knows (local paths, ``gs://``...).
    A truncated shard is caught here; a flipped byte is not (the size is
    unchanged): :func:`check_shard` or the reader's per-shard count finds it.
    """
    import tensorflow as tf

    try:
        size = tf.io.gfile.stat(path).length
    except tf.errors.NotFoundError:
        return [Problem(path, "missing (listed in tfpipe.json)", unreadable=True)]
    except tf.errors.OpError as exc:
        return [Problem(path, f"cannot be read: {exc.message}", unreadable=True)]
    if expected_bytes is not None and size != expected_bytes:
        return [Problem(path, f"is {size:,} bytes, tfpipe.json says {expected_bytes:,} (truncated or replaced)")]
    return []


def raise_for(problems: Sequence[Problem], what: str = "") -> None:
    """Raise a :class:`ShardError` naming the first problem's file, if there are any."""
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        hint = "; run `python -m tfpipe.verify DIR` for every problem, or reconvert"
        raise ShardError(first.file, f"{what}{first}{more}{hint}", problems=tuple(problems))
