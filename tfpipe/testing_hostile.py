"""Test toolkit: hostile and awkward inputs, built small and fast, deterministically.

Every maker returns the file's bytes (or writes an archive) so tests read
like the scenario they check::

    (tree / "A" / "bomb.png").write_bytes(png_bomb(40000, 40000))   # ~70 bytes
    (tree / "A" / "cut.jpg").write_bytes(truncated_jpeg())
    write_traversal_zip(tmp / "evil.zip", targets)                  # ../, /abs, symlink
    flip_byte(shard, record_offsets(shard)[3] + 20)                 # one corrupt record

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

# --------------------------------------------------------------------------- images


def _save(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def gradient(height: int = 24, width: int = 24, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A smooth uint8 (H, W, C) image (JPEG keeps it nearly exact), varied by ``seed``."""
    yy, xx = np.mgrid[:height, :width]
    planes = [(yy * 7 + xx * 3 + seed * 41 + c * 60) % 256 for c in range(channels)]
    return np.stack(planes, axis=-1).astype(np.uint8)


def rgb_jpeg(height: int = 24, width: int = 24, seed: int = 0, **kwargs) -> bytes:
    return _save(Image.fromarray(gradient(height, width, 3, seed)), "JPEG", quality=95, **kwargs)


def gray_png(height: int = 24, width: int = 24, seed: int = 0) -> bytes:
    return _save(Image.fromarray(gradient(height, width, 1, seed)[:, :, 0], mode="L"), "PNG")


def progressive_jpeg(height: int = 24, width: int = 24, seed: int = 1) -> bytes:
    return rgb_jpeg(height, width, seed, progressive=True, optimize=True)


def cmyk_jpeg(height: int = 16, width: int = 16, cmyk=(0, 255, 255, 0)) -> bytes:
    """A flat CMYK JPEG; the default colour (no cyan, full magenta+yellow) is red."""
    return _save(Image.new("CMYK", (width, height), tuple(cmyk)), "JPEG", quality=95)


def png16(height: int = 16, width: int = 16, value: int = 0xABCD) -> bytes:
    """A flat 16-bit grayscale PNG of ``value`` (top 8 bits: ``value >> 8``)."""
    arr = np.full((height, width), value, dtype=np.uint16)
    return _save(Image.fromarray(arr), "PNG")  # uint16 -> mode "I;16"


def palette_png_transparent(height: int = 16, width: int = 16) -> bytes:
    """A palette ("P") PNG: left half colour 1 (green), right half colour 0, transparent."""
    img = Image.new("P", (width, height), 0)
    img.putpalette([255, 0, 0, 0, 200, 0] + [0, 0, 0] * 254)
    img.paste(1, (0, 0, width // 2, height))
    return _save(img, "PNG", transparency=0)


def rgba_png(height: int = 16, width: int = 16, rgba=(10, 20, 200, 77)) -> bytes:
    return _save(Image.new("RGBA", (width, height), tuple(rgba)), "PNG")


def exif_rotated_jpeg(width: int = 20, height: int = 10, orientation: int = 6) -> bytes:
    """A ``width`` x ``height`` JPEG stored unrotated, with an EXIF Orientation tag.

    The top-left 4x4 corner is white, the rest black, so the rotation can be
    checked: orientation 6 (rotate 90 degrees clockwise to display) moves the
    corner to the top right of a ``height`` x ``width`` picture.
    """
    arr = np.zeros((height, width, 3), np.uint8)
    arr[:4, :4] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(Image.fromarray(arr), "JPEG", quality=95, exif=exif.tobytes())


def animated_gif(height: int = 16, width: int = 16, colours=((200, 0, 0), (0, 0, 200))) -> bytes:
    """A GIF with one flat frame per colour; the first frame is what a converter keeps."""
    frames = [Image.new("RGB", (width, height), c).convert("P") for c in colours]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


def multipage_tiff(
    height: int = 16, width: int = 16, colours=((0, 180, 0), (180, 0, 180))
) -> bytes:
    pages = [Image.new("RGB", (width, height), c) for c in colours]
    return _save(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def truncated_jpeg(height: int = 64, width: int = 64) -> bytes:
    """The first half of a valid JPEG: headers intact, the scan cut off."""
    rng = np.random.default_rng(5)  # noise, so the scan is long enough to cut
    data = _save(Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)), "JPEG")
    return data[: len(data) // 2]


def text_as_jpeg() -> bytes:
    return b"This is not an image, whatever its name says.\n" * 3


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_bomb(width: int = 40000, height: int = 40000) -> bytes:
    """A valid-looking ~70-byte PNG whose header claims ``width`` x ``height`` grey pixels.

    Decoding it would need width*height bytes; the IDAT holds almost nothing,
    so only a decoder that trusts the header before checking it ever allocates.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- archives


def zip_info(name: str, *, symlink: bool = False) -> zipfile.ZipInfo:
    """A ZipInfo with a fixed date (deterministic archives) and the name kept verbatim."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.create_system = 3  # unix, so external_attr carries the file type
    mode = (stat.S_IFLNK | 0o777) if symlink else (stat.S_IFREG | 0o644)
    info.external_attr = mode << 16
    return info


def write_zip(
    path: str | os.PathLike, members: Iterable[tuple[str, bytes] | tuple[str, bytes, bool]]
) -> Path:
    """Write ``(name, data[, is_symlink])`` members verbatim (no name clean-up), stored."""
    path = Path(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data, *link in members:
            zf.writestr(zip_info(name, symlink=bool(link and link[0])), data)
    return path


def write_zip_bomb(
    path: str | os.PathLike, megabytes: int = 300, name: str = "bomb/A/zeros.jpg"
) -> Path:
    """One member of ``megabytes`` MiB of zeros, deflated (about 1000:1), streamed to disk."""
    path = Path(path)
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open(
            name, "w", force_zip64=True
        ) as fh:  # a str name takes the archive's compression
            for _ in range(megabytes):
                fh.write(chunk)
    return path


def patch_central_directory(
    path: str | os.PathLike, member: str, *, flag_bits: int | None = None, method: int | None = None
) -> None:
    """Rewrite one member's central-directory entry in place: general-purpose flags
    (bit 0 = "encrypted") and/or compression method (e.g. 99 = AES, unreadable)."""
    raw = bytearray(Path(path).read_bytes())
    at = 0
    while True:
        at = raw.index(b"PK\x01\x02", at)
        (name_len,) = struct.unpack_from("<H", raw, at + 28)
        if raw[at + 46 : at + 46 + name_len] == member.encode():
            break
        at += 4
    if flag_bits is not None:
        struct.pack_into("<H", raw, at + 8, flag_bits)
    if method is not None:
        struct.pack_into("<H", raw, at + 10, method)
    Path(path).write_bytes(bytes(raw))


# --------------------------------------------------------------------------- shards


def record_offsets(path: str | os.PathLike) -> list[int]:
    """Byte offset of every record in a TFRecord file (framing only, no CRC check)."""
    data = Path(path).read_bytes()
    offsets, pos = [], 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        offsets.append(pos)
        pos += 12 + length + 4
    return offsets


def flip_byte(path: str | os.PathLike, offset: int) -> None:
    """Invert every bit of the byte at ``offset`` in place."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


def cut(path: str | os.PathLike, size: int) -> None:
    """Truncate the file to ``size`` bytes."""
    with open(path, "r+b") as fh:
        fh.truncate(size)


# --------------------------------------------------------------------------- child processes

_SITECUSTOMIZE = '''\
"""Written by tfpipe.testing_hostile.child_env: test hooks for a child Python process."""
import atexit
import fnmatch
import os
import signal
import sys

_report = os.environ.get("TFPIPE_TEST_REPORT_MODULES")
if _report:
    def _write_modules():
        with open(_report, "w") as fh:
            fh.write("\\n".join(sorted(m for m in ("tensorflow", "tensorflow_datasets") if m in sys.modules)))
    atexit.register(_write_modules)

_pattern = os.environ.get("TFPIPE_TEST_KILL_AFTER_REPLACE")
if _pattern:
    _where = os.path.realpath(os.environ["TFPIPE_TEST_KILL_IN"])
    _replace = os.replace

    def _replace_then_die(src, dst, *args, **kwargs):
        _replace(src, dst, *args, **kwargs)
        dst = os.fspath(dst)
        if os.path.realpath(os.path.dirname(dst)) == _where and fnmatch.fnmatch(os.path.basename(dst), _pattern):
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = _replace_then_die
'''


def child_env(
    hooks_dir: str | os.PathLike,
    *,
    kill_after_replace: str | None = None,
    kill_in: str | os.PathLike | None = None,
    report_modules_to: str | os.PathLike | None = None,
) -> dict[str, str]:
    """Environment for a ``python -m tfpipe...`` child with test hooks, via a ``sitecustomize``.

    Args:
        hooks_dir: a scratch directory; ``sitecustomize.py`` is written there
            and put first on ``PYTHONPATH``.
        kill_after_replace: the child SIGKILLs itself right after an
            ``os.replace`` whose target, in directory ``kill_in``, matches this
            glob (e.g. ``"dataset_info.json"``): a crash at an exact step.
        report_modules_to: at exit the child writes there which of
            ``tensorflow``/``tensorflow_datasets`` it imported.
    """
    hooks = Path(hooks_dir)
    hooks.mkdir(parents=True, exist_ok=True)
    (hooks / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hooks), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if kill_after_replace:
        env["TFPIPE_TEST_KILL_AFTER_REPLACE"] = kill_after_replace
        env["TFPIPE_TEST_KILL_IN"] = os.fspath(kill_in)
    if report_modules_to:
        env["TFPIPE_TEST_REPORT_MODULES"] = os.fspath(report_modules_to)
    return env
