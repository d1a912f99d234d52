"""Random augmentation in ImageDataGenerator's words, as batched TensorFlow ops.

The course writes ``ImageDataGenerator(rotation_range=20, zoom_range=0.1,
horizontal_flip=True, ...)``; ``tfpipe.load(augment=dict(rotation_range=20,
zoom_range=0.1, horizontal_flip=True))`` means the same thing::

    images (batch, H, W, C) float32 on the 0..255 scale, one seed per batch
      -> one 3x3 affine matrix per image (rotation . shift . shear . zoom,
         about the centre, then the flips), built from ImageDataGenerator's
         parameter draws
      -> ONE ImageProjectiveTransformV3 call for the whole batch
      -> channel shift, brightness (per image)

The random draws are stateless (``tf.random.stateless_uniform`` from the
batch's seed), so a seeded pipeline gives the same pixels on every run;
:mod:`tfpipe.read` feeds each batch a fresh seed from
``tf.data.Dataset.random``, so every epoch is augmented differently.

Differences from ImageDataGenerator, on purpose: shifts move along the
axis their name says, about the true pixel centre ((H-1)/2, (W-1)/2) for
any aspect ratio; ``fill_mode`` and ``interpolation`` are TensorFlow's
(same four modes; "bilinear" is ImageDataGenerator's ``interpolation_order=1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .errors import TfpipeError, check_choice

FILL_MODES = ("nearest", "constant", "reflect", "wrap")
INTERPOLATIONS = ("nearest", "bilinear")
_DRAWS = 10  # uniform numbers drawn per image; one column per parameter below


def _number(name: str, value, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TfpipeError(f"augment.{name}: {value!r} is not a number")
    if value < minimum:
        raise TfpipeError(f"augment.{name}: {value!r} must be at least {minimum:g}")
    return float(value)


def _pair(name: str, value, *, minimum: float) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TfpipeError(f"augment.{name}: {value!r} is not a pair (low, high)")
    low, high = (_number(name, v, minimum=minimum) for v in value)
    if low > high:
        raise TfpipeError(f"augment.{name}: low {low:g} is above high {high:g}")
    return low, high


@dataclass(frozen=True)
class Augment:
    """Random transformations, with ImageDataGenerator's names and meanings.

    Attributes:
        rotation_range: degrees; each image turns by uniform(-r, r).
        width_shift_range: horizontal shift, uniform(-s, s): a fraction of the
            width when s < 1, else pixels.
        height_shift_range: the same, vertically.
        shear_range: shear angle in degrees, uniform(-s, s).
        zoom_range: ``z`` for [1 - z, 1 + z], or ``(low, high)``; rows and
            columns draw their factor independently (above 1 zooms out).
        horizontal_flip, vertical_flip: flip half of the images.
        brightness_range: ``(low, high)``; pixels times uniform(low, high).
        channel_shift_range: add uniform(-s, s) (0..255 scale), clipped to the
            image's own min and max.
        fill_mode: "nearest", "constant", "reflect" or "wrap": what fills the
            pixels that come from outside the image.
        cval: the fill value for ``fill_mode="constant"`` (0..255 scale).
        interpolation: "bilinear" (ImageDataGenerator's) or "nearest".

    Raises:
        TfpipeError: naming the field, for a bad value.
    """

    rotation_range: float = 0.0
    width_shift_range: float = 0.0
    height_shift_range: float = 0.0
    shear_range: float = 0.0
    zoom_range: float | tuple[float, float] = 0.0
    horizontal_flip: bool = False
    vertical_flip: bool = False
    brightness_range: tuple[float, float] | None = None
    channel_shift_range: float = 0.0
    fill_mode: str = "nearest"
    cval: float = 0.0
    interpolation: str = "bilinear"

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        for name in ("rotation_range", "width_shift_range", "height_shift_range",
                     "shear_range", "channel_shift_range"):
            set_(name, _number(name, getattr(self, name)))
        if isinstance(self.zoom_range, (tuple, list)):
            low, high = _pair("zoom_range", self.zoom_range, minimum=0.0)
            if low <= 0:
                raise TfpipeError(f"augment.zoom_range: {self.zoom_range!r} must be above 0")
            set_("zoom_range", (low, high))
        else:
            z = _number("zoom_range", self.zoom_range)
            if z >= 1:
                raise TfpipeError(f"augment.zoom_range: {z:g} must be below 1 (or give (low, high))")
            set_("zoom_range", (1.0 - z, 1.0 + z))
        for name in ("horizontal_flip", "vertical_flip"):
            if not isinstance(getattr(self, name), bool):
                raise TfpipeError(f"augment.{name}: {getattr(self, name)!r} is not True or False")
        if self.brightness_range is not None:
            set_("brightness_range", _pair("brightness_range", self.brightness_range, minimum=0.0))
        check_choice("augment.fill_mode", self.fill_mode, FILL_MODES)
        check_choice("augment.interpolation", self.interpolation, INTERPOLATIONS)
        set_("cval", _number("cval", self.cval, minimum=-math.inf))

    @classmethod
    def of(cls, value: Augment | dict | None) -> Augment | None:
        """``None``, an :class:`Augment`, or a dict of its fields (unknown keys are an error)."""
        if value is None or isinstance(value, Augment):
            return value
        if not isinstance(value, dict):
            raise TfpipeError(f"augment: {value!r} is not a dict or tfpipe.augment.Augment")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise TfpipeError(
                f"augment: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**value)

    @property
    def geometric(self) -> bool:
        """Does any image move (so the projective transform must run)?"""
        return bool(
            self.rotation_range or self.width_shift_range or self.height_shift_range
            or self.shear_range or self.zoom_range != (1.0, 1.0)
            or self.horizontal_flip or self.vertical_flip
        )

    # ----------------------------------------------------------------------- TF ops

    def __call__(self, images, seed):
        """Augment a batch.

        Args:
            images: float32 ``(batch, H, W, C)`` on the 0..255 scale.
            seed: int32/int64 tensor of shape ``[2]``; the same seed gives the
                same output.

        Returns:
            float32 ``(batch, H, W, C)``, same static shape.
        """
        import tensorflow as tf

        shape = tf.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        u = tf.random.stateless_uniform([batch, _DRAWS], seed=seed, dtype=tf.float32)
        out = images
        if self.geometric:
            out = self.transform(out, self.matrices(u, height, width))
        if self.channel_shift_range:
            shift = self.channel_shift_range * (2 * u[:, 8] - 1)
            low = tf.reduce_min(out, axis=[1, 2, 3], keepdims=True)
            high = tf.reduce_max(out, axis=[1, 2, 3], keepdims=True)
            out = tf.clip_by_value(out + shift[:, None, None, None], low, high)
        if self.brightness_range is not None:
            low, high = self.brightness_range
            factor = low + (high - low) * u[:, 9]
            out = tf.clip_by_value(out * factor[:, None, None, None], 0.0, 255.0)
        return out

    def matrices(self, u, height, width):
        """One (batch, 3, 3) output->input matrix in (row, col, 1) coordinates.

        ``u`` is (batch, >=8) uniform [0, 1) draws: columns 0..7 are rotation,
        vertical shift, horizontal shift, shear, row zoom, column zoom,
        horizontal flip, vertical flip.
        """
        import tensorflow as tf

        h = tf.cast(height, tf.float32)
        w = tf.cast(width, tf.float32)

        def sym(column, r):  # uniform(-r, r)
            return r * (2.0 * u[:, column] - 1.0)

        theta = sym(0, self.rotation_range) * (math.pi / 180.0)
        tx = sym(1, self.height_shift_range) * (h if self.height_shift_range < 1 else 1.0)
        ty = sym(2, self.width_shift_range) * (w if self.width_shift_range < 1 else 1.0)
        shear = sym(3, self.shear_range) * (math.pi / 180.0)
        low, high = self.zoom_range
        zx = low + (high - low) * u[:, 4]
        zy = low + (high - low) * u[:, 5]
        flip_h = tf.cast(u[:, 6] < 0.5, tf.float32) if self.horizontal_flip else tf.zeros_like(zx)
        flip_v = tf.cast(u[:, 7] < 0.5, tf.float32) if self.vertical_flip else tf.zeros_like(zx)
        return affine(theta, tx, ty, shear, zx, zy, flip_h, flip_v, h, w)

    def transform(self, images, matrices):
        """Apply (batch, 3, 3) output->input (row, col) matrices with one kernel call."""
        import tensorflow as tf

        # ImageProjectiveTransformV3 maps output (x=col, y=row) to input
        # ((a0 x + a1 y + a2), (b0 x + b1 y + b2)): swap rows and columns.
        m = matrices
        params = tf.stack(
            [m[:, 1, 1], m[:, 1, 0], m[:, 1, 2], m[:, 0, 1], m[:, 0, 0], m[:, 0, 2],
             tf.zeros_like(m[:, 0, 0]), tf.zeros_like(m[:, 0, 0])],
            axis=1,
        )
        out = tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=params,
            output_shape=tf.shape(images)[1:3],
            fill_value=tf.constant(self.cval, tf.float32),
            interpolation=self.interpolation.upper(),
            fill_mode=self.fill_mode.upper(),
        )
        out.set_shape(images.shape)
        return out


def affine(theta, tx, ty, shear, zx, zy, flip_h, flip_v, height, width):
    """ImageDataGenerator's matrix, batched: (rotation . shift . shear . zoom) about the
    centre, then the flips (0./1. per image). All arguments are (batch,) float32
    tensors except ``height`` and ``width``; angles in radians, shifts in pixels
    (``tx`` rows, ``ty`` columns). Returns (batch, 3, 3) output->input matrices."""
    import tensorflow as tf

    one, zero = tf.ones_like(theta), tf.zeros_like(theta)

    def mat(*rows):
        return tf.stack([tf.stack(r, axis=-1) for r in rows], axis=-2)

    cos, sin = tf.cos(theta), tf.sin(theta)
    rotation = mat((cos, -sin, zero), (sin, cos, zero), (zero, zero, one))
    shift = mat((one, zero, tx), (zero, one, ty), (zero, zero, one))
    shearing = mat((one, -tf.sin(shear), zero), (zero, tf.cos(shear), zero), (zero, zero, one))
    zoom = mat((zx, zero, zero), (zero, zy, zero), (zero, zero, one))
    oy, ox = (height - 1.0) / 2.0, (width - 1.0) / 2.0
    to_centre = mat((one, zero, oy * one), (zero, one, ox * one), (zero, zero, one))
    from_centre = mat((one, zero, -oy * one), (zero, one, -ox * one), (zero, zero, one))
    m = to_centre @ rotation @ shift @ shearing @ zoom @ from_centre
    # A flip after the transform reads the transformed image mirrored:
    # output (r, c) -> (r, W-1-c) before m.
    sh, sv = 1.0 - 2.0 * flip_h, 1.0 - 2.0 * flip_v
    flips = mat((sv, zero, flip_v * (height - 1.0)), (zero, sh, flip_h * (width - 1.0)), (zero, zero, one))
    return m @ flips
