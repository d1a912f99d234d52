"""Validate stage: any payload -> a clean uint8 (H, W, C) array, or :class:`Rejected`.

Every image is decoded exactly once, here, at conversion time, so a corrupt
file is caught before training ever starts. The guards, in order:

* only the decoders in :data:`ALLOWED_FORMATS` ever run (no EPS/Ghostscript,
  no PDF, no exotic plugins), whatever the file is named;
* the header's pixel count is checked against :data:`MAX_PIXELS` *before*
  any pixel memory is allocated: a 70-byte PNG that claims 40000x40000 is
  rejected as a ``"decompression bomb"``. The check is ours as well as
  Pillow's, so it holds even if some other library sets
  ``PIL.Image.MAX_IMAGE_PIXELS = None``;
* truncated files are errors even if some library set
  ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` (Pillow would fill them with grey);
* any exception a decoder raises on a malformed file becomes a
  :class:`Rejected`; nothing else escapes (except ``MemoryError``, a host
  problem rather than a bad input).

Categories: ``"empty file"``, ``"not an image"``, ``"corrupt image"``,
``"decompression bomb"``, ``"unsupported image"``, ``"bad array"``.
"""

from __future__ import annotations

import io
import threading
import warnings
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import Rejected

ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
# Pillow's default limit (about 89 M pixels), fixed here rather than read from
# PIL.Image.MAX_IMAGE_PIXELS, which any imported library may change or disable.
MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
# Modes whose colour needs a detour before L or RGB (alpha is dropped, not composited).
_VIA = {"P": "RGBA", "PA": "RGBA", "La": "LA", "RGBa": "RGBA"}


_strict = threading.local()


@contextmanager
def strict_decoding():
    """Bomb warnings as errors, other decoder chatter silenced, truncation never tolerated.

    Entering costs microseconds (it swaps the warning filters), so
    :func:`tfpipe.encode.encode_batch` enters it once per chunk; inside it,
    :func:`open_image`'s own entry is free.
    """
    if getattr(_strict, "on", False):
        yield
        return
    lenient = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    _strict.on = True
    try:
        with warnings.catch_warnings():
            # "Corrupt EXIF data", "Truncated File Read" (in an unused TIFF page)...:
            # either the image decodes fully (kept) or it raises (rejected).
            warnings.simplefilter("ignore")
            # Past MAX_IMAGE_PIXELS Pillow only *warns*; we treat it as the bomb it is.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        _strict.on = False
        ImageFile.LOAD_TRUNCATED_IMAGES = lenient


def open_image(data: bytes) -> Image.Image:
    """Decode encoded bytes fully (first frame, EXIF orientation applied), or raise Rejected.

    Raises:
        Rejected: ``"empty file"``, ``"not an image"``, ``"decompression bomb"``
            or ``"corrupt image"``, with the reason in ``detail``.
    """
    if not data:
        raise Rejected("empty file", "empty file (0 bytes)")
    with strict_decoding():
        try:
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise Image.DecompressionBombError(
                    f"header claims {width}x{height} = {width * height:,} pixels, "
                    f"over the limit of {MAX_PIXELS:,}"
                )
            img.seek(0)  # multi-frame (GIF, TIFF, WebP): the first frame
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Rejected("decompression bomb", f"decompression bomb: {exc}") from None
        except UnidentifiedImageError:
            raise Rejected(
                "not an image", f"not an image in an allowed format ({', '.join(ALLOWED_FORMATS)})"
            ) from None
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - decoders raise anything on hostile bytes
            raise Rejected("corrupt image", f"truncated or corrupt image: {exc}") from None
    if "exif" not in img.info and img.format != "TIFF":
        return img  # nothing to rotate (the common case: skip the EXIF parse)
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose a good image
        return img


def _to_8bit(img: Image.Image) -> Image.Image:
    """Integer and float grey images -> 8-bit "L".

    16-bit modes keep their top 8 bits (65535 -> 255). Mode "I" (32-bit, which
    says nothing about the real range) keeps values up to 255 as they are,
    else scales by the smallest power of two that fits; "F" is clipped to 0..255.
    """
    if img.mode.startswith("I;16"):
        arr = np.asarray(img).astype(np.uint32) >> 8
        return Image.fromarray(arr.astype(np.uint8), mode="L")
    if img.mode == "I":
        arr = np.asarray(img).astype(np.int64).clip(0, None)
        top = int(arr.max(initial=0))
        shift = 0 if top <= 255 else (top.bit_length() - 8)
        return Image.fromarray((arr >> shift).clip(0, 255).astype(np.uint8), mode="L")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        return Image.fromarray(np.nan_to_num(arr).clip(0, 255).astype(np.uint8), mode="L")
    return img


def _to_mode(img: Image.Image, mode: str) -> Image.Image:
    """Convert to "L" or "RGB" (palette via RGBA, so transparency maps like Keras does)."""
    try:
        if img.mode in _VIA:
            img = img.convert(_VIA[img.mode])
        return img if img.mode == mode else img.convert(mode)
    except (ValueError, OSError) as exc:
        raise Rejected(
            "unsupported image", f"cannot convert {img.mode} pixels to {mode}: {exc}"
        ) from None


def to_pixels(
    payload: bytes | np.ndarray, channels: int, size: tuple[int, int] | None
) -> np.ndarray:
    """Decode (or take) an image and bring it to ``channels`` and ``size`` (H, W).

    Colour handling matches Keras's ``load_img``: palette, CMYK, alpha and
    16-bit images are converted with Pillow (alpha is dropped, not composited);
    EXIF orientation is applied before resizing; multi-frame files (animated
    GIF, multi-page TIFF) give their first frame.

    Returns:
        ``uint8`` array of shape (H, W, channels).

    Raises:
        Rejected: the payload is not a usable image (see the module docstring).
    """
    if isinstance(payload, np.ndarray):
        if payload.dtype == np.uint8 and payload.shape[:2] == tuple(size or payload.shape[:2]) and (
            payload.ndim == 2 and channels == 1 or payload.ndim == 3 and payload.shape[2] == channels
        ):
            return payload.reshape(payload.shape[0], payload.shape[1], channels)  # already right
        img = _array_to_image(payload)
    else:
        img = _to_8bit(open_image(payload))
    img = _to_mode(img, "L" if channels == 1 else "RGB")
    if size is not None and (img.height, img.width) != tuple(size):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.frombuffer(img.tobytes(), np.uint8).reshape(img.height, img.width, channels)


def _array_to_image(arr: np.ndarray) -> Image.Image:
    if arr.dtype != np.uint8:
        raise Rejected("bad array", f"pixel array has dtype {arr.dtype}, expected uint8")
    if arr.size == 0 or arr.ndim not in (2, 3):
        raise Rejected("bad array", f"pixel array has shape {arr.shape}, expected (H, W[, C])")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        return Image.fromarray(arr, mode="L")
    if arr.shape[2] in (3, 4):
        return Image.fromarray(arr, mode="RGB" if arr.shape[2] == 3 else "RGBA")
    raise Rejected("bad array", f"pixel array has shape {arr.shape}, expected (H, W[, C])")


def image_size(payload: bytes | np.ndarray) -> tuple[int, int]:
    """(H, W) of a payload after EXIF orientation (encoded images are fully decoded)."""
    if isinstance(payload, np.ndarray):
        return int(payload.shape[0]), int(payload.shape[1])
    img = open_image(payload)
    return img.height, img.width
