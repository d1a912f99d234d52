"""Augment: ImageDataGenerator's vocabulary as batched TF ops, validated, seeded, reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tfpipe
from tfpipe.augment import Augment
from tfpipe.errors import TfpipeError

SEED = tf.constant([1, 2], tf.int64)


def ramp(batch=4, height=6, width=8, channels=1):
    """Images whose every pixel is distinct: value = 10 * row + col (+ 100 * channel)."""
    r, c = np.mgrid[:height, :width]
    img = np.stack([10.0 * r + c + 100.0 * k for k in range(channels)], axis=-1)
    return tf.constant(np.repeat(img[None], batch, axis=0), tf.float32)


def transform(aug, images, **params):
    """Apply ``aug``'s fill and interpolation with fixed ImageDataGenerator parameters."""
    from tfpipe.augment import affine

    n = images.shape[0]
    full = dict(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0, flip_h=0.0, flip_v=0.0)
    full.update(params)
    args = {k: tf.fill([n], float(v)) for k, v in full.items()}
    m = affine(**args, height=float(images.shape[1]), width=float(images.shape[2]))
    return aug.transform(images, m).numpy()


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("kwargs, field", [
    (dict(rotation_range=-5), "rotation_range"),
    (dict(rotation_range="ten"), "rotation_range"),
    (dict(width_shift_range=float("nan")), "width_shift_range"),
    (dict(zoom_range=1.5), "zoom_range"),
    (dict(zoom_range=(1.2, 0.8)), "zoom_range"),
    (dict(zoom_range=(0, 1)), "zoom_range"),
    (dict(brightness_range=0.5), "brightness_range"),
    (dict(brightness_range=(1.5, 0.5)), "brightness_range"),
    (dict(horizontal_flip="yes"), "horizontal_flip"),
    (dict(fill_mode="mirror"), "fill_mode"),
    (dict(interpolation="bicubic"), "interpolation"),
])
def test_bad_values_name_the_field(kwargs, field):
    with pytest.raises(TfpipeError, match=field):
        Augment(**kwargs)


def test_dicts_and_their_defaults():
    aug = Augment.of(dict(zoom_range=0.2, horizontal_flip=True))
    assert aug == Augment(zoom_range=(0.8, 1.2), horizontal_flip=True)
    assert Augment.of(None) is None and Augment.of(aug) is aug
    with pytest.raises(TfpipeError, match="rescale"):
        Augment.of(dict(rescale=1 / 255))  # not augmentation: that is load(normalize=)
    with pytest.raises(dataclass_error()):
        aug.rotation_range = 3  # frozen
    assert not Augment().geometric and not Augment(brightness_range=(0.5, 1.5)).geometric
    assert Augment(vertical_flip=True).geometric


def dataclass_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


# --------------------------------------------------------------------------- geometry


def test_nothing_asked_changes_nothing():
    x = ramp()
    np.testing.assert_array_equal(Augment()(x, SEED).numpy(), x.numpy())
    np.testing.assert_allclose(transform(Augment(), x), x.numpy(), atol=1e-4)


def test_flips_mirror_the_named_axis():
    x = ramp()
    np.testing.assert_allclose(transform(Augment(), x, flip_h=1), x.numpy()[:, :, ::-1], atol=1e-4)
    np.testing.assert_allclose(transform(Augment(), x, flip_v=1), x.numpy()[:, ::-1], atol=1e-4)
    both = Augment(horizontal_flip=True, vertical_flip=True)
    out = both(x, SEED).numpy()
    for image in out:  # each image is one of the four mirror images
        assert any(np.allclose(image, m, atol=1e-4) for m in
                   (x[0].numpy(), x[0].numpy()[:, ::-1], x[0].numpy()[::-1], x[0].numpy()[::-1, ::-1]))


def test_shifts_move_along_the_axis_their_name_says():
    x = ramp(height=6, width=8)
    right = transform(Augment(), x, ty=2.0)  # width shift, in pixels: output(r, c) = input(r, c + 2)
    np.testing.assert_allclose(right[:, :, :6], x.numpy()[:, :, 2:], atol=1e-4)
    down = transform(Augment(), x, tx=3.0)  # height shift
    np.testing.assert_allclose(down[:, :3], x.numpy()[:, 3:], atol=1e-4)


def test_width_shift_range_is_a_fraction_of_the_width_below_1():
    x = ramp(batch=64, height=6, width=10)
    out = Augment(width_shift_range=0.2)(x, SEED).numpy()
    # Column 5 of each output row came from column 5 + t with |t| <= 0.2 * 10 = 2.
    t = out[:, 0, 5, 0] - x.numpy()[:, 0, 5, 0]
    assert np.all(np.abs(t) <= 2.0 + 1e-4) and t.std() > 0.3
    rows = out[:, :, 5, 0] - out[:, :, 5, 0][:, :1]  # rows untouched: still 10 apart
    np.testing.assert_allclose(rows, np.broadcast_to(np.arange(6) * 10.0, rows.shape), atol=1e-3)


def test_rotation_by_90_degrees_is_rot90_about_the_centre():
    x = ramp(height=7, width=7)
    out = transform(Augment(), x, theta=np.pi / 2)
    assert any(np.allclose(out, np.rot90(x.numpy(), k, axes=(1, 2)), atol=1e-3) for k in (1, 3))


def test_zoom_above_1_zooms_out_and_fill_mode_fills_the_border():
    x = ramp(height=9, width=9) + 1.0
    out = transform(Augment(fill_mode="constant", cval=0.0), x, zx=2.0, zy=2.0)
    assert out[0, 4, 4, 0] == pytest.approx(x.numpy()[0, 4, 4, 0])  # the centre stays
    assert out[0, 0, 0, 0] == 0.0 and out[0, 4, 3, 0] == pytest.approx(x.numpy()[0, 4, 2, 0])
    nearest = transform(Augment(fill_mode="nearest"), x, zx=2.0, zy=2.0)
    assert nearest[0, 0, 0, 0] == pytest.approx(x.numpy()[0, 0, 0, 0])
    wrap = transform(Augment(fill_mode="wrap"), x, ty=3.0)  # the right edge comes from the left
    np.testing.assert_allclose(wrap[:, :, -1], x.numpy()[:, :, 2])  # column 8 + 3 wraps to 2
    reflect = transform(Augment(fill_mode="reflect"), x, ty=-1.0)
    np.testing.assert_allclose(reflect[:, :, 0], x.numpy()[:, :, 0], atol=1e-3)  # edge mirrored


def test_brightness_and_channel_shift():
    x = ramp(channels=3)
    double = Augment(brightness_range=(2.0, 2.0))(x, SEED).numpy()
    np.testing.assert_allclose(double, np.minimum(2 * x.numpy(), 255.0), atol=1e-3)
    shifted = Augment(channel_shift_range=50.0)(x, SEED).numpy()
    assert shifted.min() >= x.numpy().min() and shifted.max() <= x.numpy().max()
    assert not np.allclose(shifted, x.numpy())


def test_same_seed_same_pixels_other_seed_other_pixels():
    aug = Augment(rotation_range=30, zoom_range=0.2, shear_range=10, horizontal_flip=True,
                  brightness_range=(0.7, 1.3))
    x = ramp(batch=8, height=12, width=12, channels=3)
    a, b = aug(x, SEED).numpy(), aug(x, SEED).numpy()
    c = aug(x, tf.constant([1, 3], tf.int64)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert not np.allclose(a[0], a[1])  # each image draws its own transform


# --------------------------------------------------------------------------- through load


OPTIONS = dict(augment=dict(rotation_range=20, width_shift_range=0.1, zoom_range=0.1),
               batch_size=120, seed=11, deterministic=True, label_mode="int")


def epochs(ds, n=2):
    return [[(x.numpy(), y.numpy()) for x, y in ds] for _ in range(n)]


def test_load_augments_pixels_not_labels_reproducibly(converted):
    plain = tfpipe.load(converted.path, "train", **{**OPTIONS, "augment": None})
    [p1] = epochs(plain, 1)
    a1, a2 = epochs(tfpipe.load(converted.path, "train", **OPTIONS))
    b1, b2 = epochs(tfpipe.load(converted.path, "train", **OPTIONS))
    for (xa, ya), (xb, yb) in zip(a1 + a2, b1 + b2):  # a second load: the same pixels
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    for (xp, yp), (xa, ya) in zip(p1, a1):  # same order, same labels, other pixels
        np.testing.assert_array_equal(yp, ya)
        assert np.abs(xp - xa).mean() > 0.02
        assert xa.dtype == np.float32 and 0.0 <= xa.min() and xa.max() <= 1.0
    assert not np.allclose(a1[0][0], a2[0][0])  # a new draw every epoch


def test_load_augments_uint8_when_not_normalised(converted):
    ds = tfpipe.load(converted.path, "test", augment=Augment(horizontal_flip=True), normalize=None,
                     shuffle=False, seed=1)
    x, _ = next(iter(ds))
    assert x.dtype == tf.uint8 and ds.element_spec[0].shape.as_list() == [None, 28, 28, 1]
    plain, _ = next(iter(tfpipe.load(converted.path, "test", normalize=None, shuffle=False)))
    x, plain = x.numpy(), plain.numpy()
    flipped = [(x[i] == plain[i, :, ::-1]).all() for i in range(len(x))]
    kept = [(x[i] == plain[i]).all() for i in range(len(x))]
    assert any(flipped) and all(f or k for f, k in zip(flipped, kept))  # each image: flipped or not
