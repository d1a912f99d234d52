"""What every source yields: :class:`Item`, and the :class:`Source` protocol.

A source only *lists* inputs and reads their bytes; it never decodes images
(that is :mod:`tfpipe.images`) and never decides what is kept (that is
:mod:`tfpipe.split`). Items travel to worker processes, so everything in an
``Item`` must pickle: ``payload`` is raw bytes, a decoded ``numpy`` array, or a
small reference (:class:`FileRef`, :class:`ZipRef`) that the worker resolves
with :func:`read_payload`.
"""

from __future__ import annotations

import lzma
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np

from ..errors import Rejected

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
    "test": "test",
    "testing": "test",
}
SPLITS = ("train", "validation", "test")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class FileRef:
    """An image file on local disk, checked where it is read (in the worker).

    Symbolic links may point anywhere inside ``root``, never outside it; a
    FIFO or device named ``x.jpg`` would hang or never end, so only regular
    files are read, and none bigger than ``max_bytes``.
    """

    path: str
    root: str
    max_bytes: int
    regular: bool = False  # the listing saw a regular file, not a link (free from d_type)

    def read(self) -> bytes:
        if self.regular:  # the common case: no stat calls, the size is checked on the bytes
            with open(self.path, "rb") as fh:
                data = fh.read(self.max_bytes + 1)
            if len(data) > self.max_bytes:
                raise Rejected("too large", f"file is over the cap of {self.max_bytes:,} bytes")
            return data
        try:
            info = os.lstat(self.path)
            if stat.S_ISLNK(info.st_mode):
                real = os.path.realpath(self.path, strict=True)
                if os.path.commonpath([real, self.root]) != self.root:
                    raise Rejected("unsafe path", "symbolic link points outside the source")
                info = os.stat(self.path)
        except (OSError, RuntimeError) as exc:  # broken link, link loop, vanished file
            raise Rejected("unreadable", f"cannot read: {exc}") from None
        if not stat.S_ISREG(info.st_mode):
            raise Rejected("unsafe path", "not a regular file (a directory, FIFO, device or socket)")
        if info.st_size > self.max_bytes:
            raise Rejected("too large", f"file is {info.st_size:,} bytes, over the cap of {self.max_bytes:,}")
        with open(self.path, "rb") as fh:
            return fh.read(self.max_bytes + 1)


@dataclass(frozen=True)
class ZipRef:
    """A member of a zip archive, read in place (never extracted to disk)."""

    archive: str
    member: str
    max_bytes: int

    def read(self) -> bytes:
        zf = _open_zip(self.archive)
        info = zf.getinfo(self.member)
        if info.file_size > self.max_bytes:
            raise Rejected("too large", f"member is {info.file_size} bytes, over the cap of {self.max_bytes}")
        with zf.open(info) as fh:
            data = fh.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise Rejected("too large", f"member inflates past the cap of {self.max_bytes} bytes")
        return data


_ZIP_CACHE: dict[tuple[int, str], zipfile.ZipFile] = {}


def _open_zip(path: str) -> zipfile.ZipFile:
    """One open ZipFile per archive per process (workers reuse it).

    Keyed by process id too: a forked worker must never use the file its
    parent opened, whose offset the parent and its siblings move as well.
    """
    key = (os.getpid(), path)
    zf = _ZIP_CACHE.get(key)
    if zf is None:
        zf = _ZIP_CACHE[key] = zipfile.ZipFile(path)
    return zf


Payload = Union[bytes, np.ndarray, FileRef, ZipRef]  # noqa: UP007 - a runtime alias


@dataclass(frozen=True)
class Item:
    """One input example, before decoding.

    Attributes:
        key: stable, unique, location-independent id (``"Train/A/0001.jpg"``,
            ``"sign_mnist_train.csv:line 12"``). Output order is a hash of it,
            so the same inputs give the same shards wherever they live.
        origin: where a human finds it (path, archive member, line, URL).
        label: class name (``str``) or class index (``int``).
        split: ``"train"``/``"validation"``/``"test"`` when the source says so, else ``None``.
        payload: encoded image bytes, a uint8 array (H, W) or (H, W, C), or a reference.
    """

    key: str
    origin: str
    label: str | int
    split: str | None
    payload: Payload


def read_payload(payload: Payload) -> bytes | np.ndarray:
    """Resolve a payload to bytes or an array (runs in the worker)."""
    if isinstance(payload, (bytes, np.ndarray)):
        return payload
    try:
        return payload.read()
    except Rejected:
        raise
    except (OSError, KeyError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
            zlib.error, lzma.LZMAError) as exc:
        # corrupt deflate streams, encrypted or unsupported members, vanished files
        raise Rejected("unreadable", f"cannot read: {exc}") from exc


@dataclass
class Source:
    """Base class of every source.

    Subclasses set ``kind`` and implement :meth:`items`. ``skipped`` counts
    inputs that are not candidates at all (a ``.txt`` or ``.DS_Store`` in an
    image tree); ``rejected`` collects ``(origin, split, Rejected)`` for inputs
    that the source itself found bad (a CSV row of the wrong length, a
    ``file://`` URL) -- the converter quarantines them.
    """

    path: str
    kind: str = "?"
    class_names: list[str] | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    def items(self) -> Iterator[Item | tuple[str, str | None, Rejected]]:
        """Yield an Item per candidate input, or ``(origin, split, Rejected)`` for a bad one."""
        raise NotImplementedError

    def count(self) -> int | None:
        """Number of candidates, when cheap to know (for the progress bar)."""
        return None

    def default_name(self) -> str:
        return Path(self.path.rstrip("/")).stem or "dataset"

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def normalise_split(name: str) -> str | None:
    """``"Train"`` -> ``"train"``, ``"valid"`` -> ``"validation"``; None if not a split folder."""
    return SPLIT_ALIASES.get(name.lower())


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)
