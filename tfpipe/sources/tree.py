"""Class-per-folder image trees, on disk (:class:`FolderSource`) or in a zip (:class:`ZipSource`).

Expected layout (the course's ``sign-language-img.zip``)::

    sign-language-img/           any number of wrapper folders
      Train/                     optional split folder: Train/Test/train/val/valid/validation/test
        A/0001.jpg               class folder = the folder that holds the images
        B/...
      Test/
        A/...

Class names are sorted exactly as ``ImageDataGenerator.flow_from_directory``
sorts them (plain ``sorted`` on the folder names), so class indices agree.
Zip members are read in place: nothing is ever extracted to disk, so a member
named ``../../etc/passwd`` cannot land anywhere; such members are quarantined
with the reason, together with absolute names and symbolic links.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import Rejected, TfpipeError
from .base import FileRef, Item, Source, ZipRef, is_image_name, normalise_split

# Caps, read when a source is opened (tests lower them with monkeypatch).
MAX_MEMBERS = 5_000_000
MAX_ARCHIVE_BYTES = 64 * 1024**3
MAX_MEMBER_BYTES = 256 * 1024**2  # also the cap of one image file in a folder
LOCAL_HEADER_BYTES = 30  # fixed part of a zip local file header
# Methods Python's zipfile inflates; anything else (AES, PPMd...) cannot be read.
READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
# A member that inflates more than this many times (and to more than 1 MiB)
# is a zip bomb, not an image: JPEG/PNG data barely compresses.
MAX_COMPRESSION_RATIO = 200


def place(parts: tuple[str, ...]) -> tuple[str | None, str] | None:
    """(split, class name) of an image at relative path ``parts``, or None if it has no class."""
    if len(parts) < 2:
        return None
    split = None
    for folder in parts[:-2]:
        split = normalise_split(folder) or split
    return split, parts[-2]


def _skip_reason(name: str) -> str | None:
    base = name.rsplit("/", 1)[-1]
    if base.startswith("."):
        return "hidden file"
    if not is_image_name(base):
        return "non-image file"
    return None


@dataclass
class FolderSource(Source):
    kind: str = "folder"

    def __post_init__(self) -> None:
        self.root = os.path.realpath(self.path)
        self._files: list[tuple[str, bool]] | None = None

    def _list(self) -> list[tuple[str, bool]]:
        """``(relative POSIX path, is a regular file)`` of the candidate images, sorted by path."""
        if self._files is None:
            files: list[tuple[str, bool]] = []
            pending = [""]
            while pending:
                rel_dir = pending.pop()
                with os.scandir(os.path.join(self.root, rel_dir)) as it:
                    for entry in it:
                        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                        if entry.name.startswith("."):
                            if not entry.is_dir(follow_symlinks=False):
                                self.skip("hidden file")
                        elif is_image_name(entry.name):
                            # type and safety are checked when read; d_type says if it is a plain file
                            files.append((rel, entry.is_file(follow_symlinks=False)))
                        elif entry.is_dir(follow_symlinks=False):
                            pending.append(rel)
                        else:
                            self.skip("non-image file")
            files.sort()
            self._files = files
        return self._files

    def count(self) -> int:
        return len(self._list())

    def items(self) -> Iterator[Item | tuple[str, str | None, Rejected]]:
        prefix = self.root + os.sep
        for rel, regular in self._list():
            full = prefix + rel
            where = place(tuple(rel.split("/")))
            if where is None:
                yield full, None, Rejected("no class folder", "image is not inside a class folder")
                continue
            yield Item(
                key=_printable(rel),
                origin=full,
                label=where[1],
                split=where[0],
                payload=FileRef(full, self.root, MAX_MEMBER_BYTES, regular),
            )


def _printable(rel: str) -> str:
    """A key that encodes as UTF-8 even when the file name is not valid UTF-8 (surrogates)."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass
class ZipSource(Source):
    """Members of a zip archive, read in place; refused whole if it looks like a zip bomb.

    Caps (``None``: the module constants at open time): ``max_members``
    members, ``max_bytes`` declared uncompressed bytes in total (``zipfile``
    never inflates a member past its declared size: the CRC check fails
    first), :data:`MAX_COMPRESSION_RATIO` per member, and no two members
    may share compressed bytes (the "overlapping files" bomb).
    """

    kind: str = "zip"
    max_members: int | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.max_members is None:
            self.max_members = MAX_MEMBERS
        if self.max_bytes is None:
            self.max_bytes = MAX_ARCHIVE_BYTES
        try:
            with zipfile.ZipFile(self.path) as zf:
                self._infos = sorted(zf.infolist(), key=lambda i: i.filename)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise TfpipeError(f"{self.path} is not a readable zip archive: {exc}") from None
        if len(self._infos) > self.max_members:
            raise TfpipeError(
                f"{self.path} has {len(self._infos):,} members, over the cap of "
                f"{self.max_members:,}; refusing it (zip bomb?)"
            )
        total = sum(i.file_size for i in self._infos)
        if total > self.max_bytes:
            raise TfpipeError(
                f"{self.path} inflates to {total:,} bytes, over the cap of {self.max_bytes:,}; "
                "refusing it (zip bomb?)"
            )
        for info in self._infos:
            if info.file_size > 1024**2 and info.file_size > MAX_COMPRESSION_RATIO * max(
                info.compress_size, 1
            ):
                raise TfpipeError(
                    f"{self.path}: member {info.filename!r} inflates {info.file_size // max(info.compress_size, 1)}x "
                    f"to {info.file_size:,} bytes; refusing the archive (zip bomb?)"
                )
        overlap = _overlapping(self._infos)
        if overlap:
            raise TfpipeError(
                f"{self.path}: members {overlap[0]!r} and {overlap[1]!r} share compressed data; "
                "refusing the archive (zip bomb?)"
            )
        self._root = _common_root(self._infos)

    def count(self) -> int:
        return sum(
            1
            for i in self._infos
            if not i.is_dir() and (_unsafe_member(i) or not _skip_reason(i.filename))
        )

    def default_name(self) -> str:
        return self._root or super().default_name()

    def items(self) -> Iterator[Item | tuple[str, str | None, Rejected]]:
        for info in self._infos:
            name = info.filename
            if info.is_dir():
                continue
            origin = f"{self.path}:{name}"
            # Unsafe names are quarantined whatever their extension: they are
            # the evidence of a hostile archive, not files to skip quietly.
            unsafe = _unsafe_member(info)
            if not unsafe:
                reason = _skip_reason(name)
                if reason:
                    self.skip(reason)
                    continue
            parts = PurePosixPath(name).parts
            if self._root and parts and parts[0] == self._root:
                parts = parts[1:]
            where = place(parts)
            split = where[0] if where else None
            if unsafe:
                yield origin, split, Rejected("unsafe path", unsafe)
            elif _unreadable_member(info):
                yield origin, split, Rejected("unreadable", _unreadable_member(info))
            elif where is None:
                yield (
                    origin,
                    None,
                    Rejected("no class folder", "image is not inside a class folder"),
                )
            else:
                ref = ZipRef(self.path, name, MAX_MEMBER_BYTES)
                yield Item(
                    key="/".join(parts), origin=origin, label=where[1], split=split, payload=ref
                )


def _overlapping(infos: list[zipfile.ZipInfo]) -> tuple[str, str] | None:
    """Two members whose stored bytes overlap, if any (each member's local header
    and data take at least 30 + compress_size bytes from its header offset)."""
    spans = sorted(
        (i.header_offset, i.header_offset + LOCAL_HEADER_BYTES + i.compress_size, i.filename)
        for i in infos
    )
    for (_, end, name), (start, _, other) in zip(spans, spans[1:]):
        if start < end:
            return name, other
    return None


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return f"absolute member name {info.filename!r}"
    if ".." in PurePosixPath(name).parts:
        return f"member name {info.filename!r} climbs out with '..'"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"member {info.filename!r} is a symbolic link"
    return None


def _unreadable_member(info: zipfile.ZipInfo) -> str | None:
    """Members zipfile would refuse with RuntimeError/NotImplementedError: say so up front."""
    if info.flag_bits & 0x1:
        return f"member {info.filename!r} is encrypted"
    if info.compress_type not in READABLE_METHODS:
        return f"member {info.filename!r} uses compression method {info.compress_type}, which zipfile cannot read"
    return None


def _common_root(infos: list[zipfile.ZipInfo]) -> str | None:
    """The single top-level folder every member lives in, if there is one (and it is no split)."""
    tops = {PurePosixPath(i.filename).parts[0] for i in infos if PurePosixPath(i.filename).parts}
    tops.discard("__MACOSX")
    if len(tops) == 1:
        top = tops.pop()
        if normalise_split(top) is None and any("/" in i.filename.strip("/") for i in infos):
            return top
    return None
