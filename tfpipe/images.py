"""Validate stage: any payload -> a clean uint8 (H, W, C) array, or :class:`Rejected`.

Every image is decoded exactly once, here, at conversion time, so a corrupt
file is caught before training ever starts. Pillow only runs the decoders in
:data:`ALLOWED_FORMATS` and keeps its decompression-bomb limit: a header that
claims 40000x40000 pixels is rejected before any pixel memory is allocated.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import Rejected

ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
# Pillow's own default (about 89 M pixels); past it Pillow warns, past twice it raises.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS


def open_image(data: bytes) -> Image.Image:
    """Decode encoded bytes fully (first frame), or raise Rejected with the reason."""
    if not data:
        raise Rejected("empty file", "empty file (0 bytes)")
    with warnings.catch_warnings():
        # Past MAX_PIXELS Pillow only *warns*; we treat it as the bomb it is.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            img.seek(0)  # multi-frame (GIF, TIFF): the first frame
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Rejected("decompression bomb", f"decompression bomb: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise Rejected(
                "not an image", f"not an image in an allowed format ({', '.join(ALLOWED_FORMATS)})"
            ) from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise Rejected("corrupt image", f"truncated or corrupt image: {exc}") from exc
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not lose an otherwise good image
        return img


def _to_8bit(img: Image.Image) -> Image.Image:
    """16- and 32-bit integer images: keep the top 8 bits instead of clipping at 255."""
    if img.mode.startswith("I;16") or img.mode == "I":
        arr = np.asarray(img).astype(np.uint32)
        shift = 8 if arr.max(initial=0) > 255 else 0
        return Image.fromarray((arr >> shift).clip(0, 255).astype(np.uint8), mode="L")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        return Image.fromarray(np.nan_to_num(arr).clip(0, 255).astype(np.uint8), mode="L")
    return img


def to_pixels(
    payload: bytes | np.ndarray, channels: int, size: tuple[int, int] | None
) -> np.ndarray:
    """Decode (or take) an image and bring it to ``channels`` and ``size`` (H, W).

    Colour handling matches Keras's ``load_img``: palette, CMYK, alpha and
    16-bit images are converted with Pillow (alpha is dropped, not composited).

    Returns:
        ``uint8`` array of shape (H, W, channels).
    """
    if isinstance(payload, np.ndarray):
        img = _array_to_image(payload)
    else:
        img = _to_8bit(open_image(payload))
    mode = "L" if channels == 1 else "RGB"
    if img.mode != mode:
        if img.mode in ("P", "PA") or img.mode.startswith("LA"):
            img = img.convert("RGBA")
        img = img.convert(mode)
    if size is not None and (img.height, img.width) != tuple(size):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr.reshape(arr.shape[0], arr.shape[1], channels)


def _array_to_image(arr: np.ndarray) -> Image.Image:
    if arr.dtype != np.uint8:
        raise Rejected("bad array", f"pixel array has dtype {arr.dtype}, expected uint8")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        return Image.fromarray(arr, mode="L")
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        return Image.fromarray(arr, mode="RGB" if arr.shape[2] == 3 else "RGBA")
    raise Rejected("bad array", f"pixel array has shape {arr.shape}, expected (H, W[, C])")


def image_size(payload: bytes | np.ndarray) -> tuple[int, int]:
    """(H, W) of a payload, decoding only the header for encoded images."""
    if isinstance(payload, np.ndarray):
        return int(payload.shape[0]), int(payload.shape[1])
    img = open_image(payload)
    return img.height, img.width
