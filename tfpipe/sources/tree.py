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
from pathlib import Path, PurePosixPath

from ..errors import Rejected, TfpipeError
from .base import FileRef, Item, Source, ZipRef, is_image_name, normalise_split

MAX_MEMBERS = 5_000_000
MAX_ARCHIVE_BYTES = 64 * 1024**3
MAX_MEMBER_BYTES = 256 * 1024**2
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
        self.root = Path(self.path).resolve()
        self._files: list[str] | None = None

    def _list(self) -> list[str]:
        if self._files is None:
            files = []
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in filenames:
                    reason = _skip_reason(name)
                    if reason:
                        self.skip(reason)
                        continue
                    files.append(os.path.relpath(os.path.join(dirpath, name), self.root))
            self._files = sorted(Path(f).as_posix() for f in files)
        return self._files

    def count(self) -> int:
        return len(self._list())

    def items(self) -> Iterator[Item | tuple[str, str | None, Rejected]]:
        for rel in self._list():
            full = self.root / rel
            where = place(PurePosixPath(rel).parts)
            split = where[0] if where else None
            if where is None:
                yield str(full), None, Rejected("no class folder", "image is not inside a class folder")
            elif full.is_symlink() and not _inside(full.resolve(), self.root):
                yield str(full), split, Rejected("unsafe path", "symbolic link points outside the source")
            else:
                yield Item(key=rel, origin=str(full), label=where[1], split=split, payload=FileRef(str(full)))


def _inside(path: Path, root: Path) -> bool:
    return os.path.commonpath([path, root]) == str(root)


@dataclass
class ZipSource(Source):
    kind: str = "zip"
    max_members: int = MAX_MEMBERS
    max_bytes: int = MAX_ARCHIVE_BYTES

    def __post_init__(self) -> None:
        try:
            with zipfile.ZipFile(self.path) as zf:
                self._infos = sorted(zf.infolist(), key=lambda i: i.filename)
        except (zipfile.BadZipFile, OSError) as exc:
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
            if info.file_size > 1024**2 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                raise TfpipeError(
                    f"{self.path}: member {info.filename!r} inflates {info.file_size // max(info.compress_size, 1)}x "
                    f"to {info.file_size:,} bytes; refusing the archive (zip bomb?)"
                )
        self._root = _common_root(self._infos)

    def count(self) -> int:
        return sum(1 for i in self._infos if not i.is_dir() and not _skip_reason(i.filename))

    def default_name(self) -> str:
        return self._root or super().default_name()

    def items(self) -> Iterator[Item | tuple[str, str | None, Rejected]]:
        for info in self._infos:
            name = info.filename
            if info.is_dir():
                continue
            origin = f"{self.path}:{name}"
            reason = _skip_reason(name)
            if reason:
                self.skip(reason)
                continue
            unsafe = _unsafe_member(info)
            parts = PurePosixPath(name).parts
            if self._root and parts and parts[0] == self._root:
                parts = parts[1:]
            where = place(parts)
            split = where[0] if where else None
            if unsafe:
                yield origin, split, Rejected("unsafe path", unsafe)
            elif where is None:
                yield origin, None, Rejected("no class folder", "image is not inside a class folder")
            else:
                ref = ZipRef(self.path, name, MAX_MEMBER_BYTES)
                yield Item(key="/".join(parts), origin=origin, label=where[1], split=split, payload=ref)


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return f"absolute member name {info.filename!r}"
    if ".." in PurePosixPath(name).parts:
        return f"member name {info.filename!r} climbs out with '..'"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"member {info.filename!r} is a symbolic link"
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
