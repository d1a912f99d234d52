"""tfpipe.load on real converted datasets: shapes, epochs, order, cache, devices, broken shards."""

from __future__ import annotations

import logging
import math
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from readkit import direct, flip_byte, reshard, seen

import tfpipe
from tfpipe import device as devices
from tfpipe.errors import ShardError, TfpipeError
from tfpipe.read import Reader, ReadOptions, jpeg_ratio


def batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


@pytest.fixture(scope="module")
def two_shards(converted, tmp_path_factory):
    """``converted`` with its train split cut into two shard files of 240 records."""
    return reshard(converted, tmp_path_factory.mktemp("two") / "sign", "train", 2)


@pytest.fixture
def copy(converted, tmp_path):
    """A private copy of ``converted`` that a test may damage."""
    shutil.copytree(converted.path, tmp_path / "sign")
    return tfpipe.load_info(tmp_path / "sign")


# --------------------------------------------------------------------------- what comes out


def test_batches_are_float_images_in_0_1_with_one_hot_labels_and_known_cardinality(converted):
    ds = tfpipe.load(converted.path, "train", batch_size=32)
    images, labels = ds.element_spec
    assert images.shape.as_list() == [None, 28, 28, 1] and images.dtype == tf.float32
    assert labels.shape.as_list() == [None, 24] and labels.dtype == tf.float32
    assert int(ds.cardinality()) == 15  # 480 / 32
    got = batches(ds)
    assert len(got) == 15
    x = np.concatenate([b[0] for b in got])
    y = np.concatenate([b[1] for b in got])
    assert x.shape == (480, 28, 28, 1) and 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
    assert np.all(y.sum(axis=1) == 1.0) and set(np.unique(y)) == {0.0, 1.0}


@pytest.mark.parametrize("drop, expected", [(False, math.ceil(120 / 50)), (True, 120 // 50)])
def test_cardinality_follows_the_metadata_and_drop_remainder(converted, drop, expected):
    ds = tfpipe.load(converted.path, "test", batch_size=50, drop_remainder=drop)
    assert int(ds.cardinality()) == expected
    sizes = [int(x.shape[0]) for x, _ in ds]
    assert len(sizes) == expected and sizes[0] == 50
    assert sum(sizes) == (100 if drop else 120)


def test_every_example_exactly_once_per_epoch_and_reshuffled(converted):
    ds = tfpipe.load(converted.path, "train", batch_size=64, normalize=None, label_mode="int", seed=7)
    want = direct(converted, "train")
    assert sum(want.values()) == 480
    first, second = batches(ds), batches(ds)
    assert seen(first) == want and seen(second) == want
    assert not np.array_equal(first[0][1], second[0][1])  # a new order each epoch


def test_normalize_modes(converted):
    raw = np.concatenate([x for x, _ in batches(tfpipe.load(converted.path, "train", normalize=None))])
    assert raw.dtype == np.uint8 and raw.max() > 150
    scaled = np.concatenate([x for x, _ in batches(tfpipe.load(converted.path, "train"))])
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(np.sort(scaled.ravel()), np.sort(raw.ravel()) / 255.0, atol=1e-6)
    std = np.concatenate([x for x, _ in batches(tfpipe.load(converted.path, "train", normalize="standardize"))])
    assert abs(std.mean()) < 0.01 and abs(std.std() - 1.0) < 0.01


def test_int_labels_match_the_one_hot_ones(converted):
    options = dict(batch_size=40, seed=3, deterministic=True)
    ints = batches(tfpipe.load(converted.path, "train", label_mode="int", **options))
    hots = batches(tfpipe.load(converted.path, "train", **options))
    assert ints[0][1].dtype == np.int32 and ints[0][1].shape == (40,)
    for (_, a), (_, b) in zip(ints, hots):
        np.testing.assert_array_equal(a, b.argmax(axis=1))


def test_same_seed_same_order_other_seed_other_order(converted):
    def labels(seed):
        ds = tfpipe.load(converted.path, "train", batch_size=32, seed=seed, deterministic=True)
        return np.concatenate([y.argmax(1) for _, y in batches(ds)])

    a, b, c = labels(1), labels(1), labels(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_eval_splits_are_not_shuffled_and_keep_their_order(converted):
    ds = tfpipe.load(converted.path, "test", batch_size=32, label_mode="int")
    first, second = batches(ds), batches(ds)
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(x1, x2)


# --------------------------------------------------------------------------- cache


@pytest.mark.parametrize("cache", ["memory", "disk", "auto"])
def test_second_epoch_comes_from_the_cache_not_the_shards(copy, cache):
    ds = tfpipe.load(copy.path, "train", batch_size=64, shuffle=False, cache=cache, normalize=None)
    first = batches(ds)
    for path in copy.shard_paths("train"):
        os.remove(path)  # the source is gone: only the cache can serve epoch 2
    second = batches(ds)
    assert len(second) == len(first) == 8
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_without_a_cache_every_epoch_rereads_the_shards(copy):
    """The control for the test above: the same deletion breaks an uncached pipeline."""
    ds = tfpipe.load(copy.path, "train", batch_size=64, shuffle=False, cache=None)
    batches(ds)
    os.remove(copy.shard_paths("train")[0])
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(copy.shard_paths("train")[0])):
        batches(ds)


def test_auto_cache_is_memory_when_the_split_is_small(converted):
    reader = Reader(converted, ReadOptions())
    assert reader.cache == "memory"
    assert reader.shuffle_buffer(480) == 480  # the whole split fits: a full shuffle


# --------------------------------------------------------------------------- sizes and encodings


def test_resize_on_read(converted):
    ds = tfpipe.load(converted.path, "test", batch_size=16, image_size=(14, 20), normalize=None, shuffle=False)
    assert ds.element_spec[0].shape.as_list() == [None, 14, 20, 1]
    x, _ = next(iter(ds))
    full, _ = next(iter(tfpipe.load(converted.path, "test", batch_size=16, normalize=None, shuffle=False)))
    expected = tf.image.resize(full, (14, 20), antialias=True).numpy()
    assert np.abs(x.numpy().astype(float) - expected).max() <= 0.5 + 1e-3


def test_rgb_jpeg_decodes_to_its_shape(converted_rgb):
    ds = tfpipe.load(converted_rgb.path, "train", batch_size=4)
    assert ds.element_spec[0].shape.as_list() == [None, 64, 96, 3]
    x, y = next(iter(ds))
    assert x.shape == (4, 64, 96, 3) and y.shape == (4, 4)
    for split in ("train", "validation", "test"):
        got = seen(tfpipe.load(converted_rgb.path, split, normalize=None, label_mode="int"))
        assert sum(got.values()) == converted_rgb.split(split).num_examples


def test_rgb_jpeg_at_half_size_decodes_with_ratio_2(converted_rgb):
    reader = Reader(converted_rgb, ReadOptions(image_size=(32, 48)))
    assert reader.ratio == 2
    ds = tfpipe.load(converted_rgb.path, "train", batch_size=4, image_size=(32, 48), normalize=None,
                     shuffle=False)
    x, _ = next(iter(ds))
    assert x.shape == (4, 32, 48, 3)
    full, _ = next(iter(tfpipe.load(converted_rgb.path, "train", batch_size=4, normalize=None,
                                    shuffle=False)))
    small = tf.image.resize(full, (32, 48), antialias=True).numpy()
    assert np.abs(x.numpy().astype(float) - small).mean() < 8  # the same picture, at 1/2 scale


def test_jpeg_ratio_is_the_largest_that_still_covers_the_target():
    assert jpeg_ratio((64, 96, 3), (64, 96)) == 1
    assert jpeg_ratio((64, 96, 3), (40, 60)) == 1
    assert jpeg_ratio((64, 96, 3), (32, 48)) == 2
    assert jpeg_ratio((256, 256, 3), (60, 60)) == 4
    assert jpeg_ratio((256, 256, 3), (32, 32)) == 8


# --------------------------------------------------------------------------- devices


def test_device_choice_and_prefetch_to_device_run_on_cpu():
    assert devices.target_device() == ("/GPU:0" if tf.config.list_logical_devices("GPU") else None)
    ds = devices.to_device(tf.data.Dataset.range(10).batch(4), "/CPU:0")
    assert [b.numpy().tolist() for b in ds] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert devices.to_device(ds, None) is ds
    with pytest.raises(TfpipeError, match="device"):
        devices.resolve("/TPU:3")


@pytest.mark.skipif(bool(tf.config.list_logical_devices("GPU")), reason="checks the no-GPU fallback")
def test_device_cache_without_a_gpu_falls_back_to_memory(converted, caplog):
    with caplog.at_level(logging.WARNING, logger="tfpipe"):
        reader = Reader(converted, ReadOptions(cache="device"))
    assert reader.cache == "memory" and reader.device is None
    assert [r for r in caplog.records if "no GPU" in r.getMessage()], caplog.text
    assert seen(tfpipe.load(converted.path, "train", cache="device", normalize=None,
                            label_mode="int")) == direct(converted, "train")


def test_device_cache_on_cpu0_serves_every_epoch_from_one_tensor(copy):
    options = dict(batch_size=100, cache="device", device="/CPU:0", normalize=None, label_mode="int", seed=5)
    reader = Reader(copy, ReadOptions(split="train", **options))
    assert reader.cache == "device" and reader.device == "/CPU:0"
    assert int(reader.host_dataset().cardinality()) == 5
    ds = tfpipe.load(copy.path, "train", **options)
    for path in copy.shard_paths("train"):
        os.remove(path)  # decoded once, at load: the files are not needed any more
    first, second = batches(ds), batches(ds)
    assert [len(y) for _, y in first] == [100, 100, 100, 100, 80]
    assert seen(first) == seen(second)
    assert sum(seen(first).values()) == 480
    assert not np.array_equal(first[0][1], second[0][1])  # reshuffled per epoch
    x, _ = next(iter(ds))
    assert x.device.endswith("CPU:0")
    test = batches(tfpipe.load(copy.path, "test", batch_size=100, cache="device", device="/CPU:0",
                               drop_remainder=True))
    assert [len(y) for _, y in test] == [100]


def test_device_cache_matches_the_shards(converted):
    ds = tfpipe.load(converted.path, "train", batch_size=128, cache="device", device="/CPU:0",
                     normalize=None, label_mode="int")
    assert seen(ds) == direct(converted, "train")


# --------------------------------------------------------------------------- broken shards


def test_corrupt_shard_raises_an_error_naming_the_file(two_shards, tmp_path):
    info = reshard(two_shards, tmp_path / "bad", "train", 2)
    bad = info.shard_paths("train")[1]
    flip_byte(bad)
    ds = tfpipe.load(info.path, "train", batch_size=32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(bad)) as caught:
        batches(ds)
    assert "of the 240 records" in str(caught.value)


def test_keras_fit_surfaces_the_corrupt_shard_by_name(copy):
    import keras

    bad = copy.shard_paths("train")[0]
    flip_byte(bad, 0.3)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(24, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(bad)):
        model.fit(tfpipe.load(copy.path, "train", batch_size=32), epochs=1, verbose=0)


def test_skip_reads_the_other_shards_and_reports_what_was_lost(two_shards, tmp_path, caplog):
    info = reshard(two_shards, tmp_path / "bad", "train", 2)
    good, bad = info.shard_paths("train")
    flip_byte(bad)
    ds = tfpipe.load(info.path, "train", batch_size=32, on_error="skip", normalize=None, label_mode="int")
    assert int(ds.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    with caplog.at_level(logging.WARNING, logger="tfpipe"):
        got = seen(ds)
    n = sum(got.values())
    assert 240 <= n < 480  # all of the good shard, the bad one up to its damage
    assert not got - direct(two_shards, "train")  # nothing seen that is not in the dataset
    messages = [r.getMessage() for r in caplog.records if r.name == "tfpipe"]
    assert len(messages) == 1, messages
    assert f"lost {480 - n} of 480 records in train" in messages[0]
    assert bad in messages[0] and good not in messages[0]
    assert "record" in messages[0]  # where exactly, from the CRC scan


def test_truncated_or_missing_shards_fail_at_load_naming_the_file(copy):
    path = copy.shard_paths("train")[0]
    data = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(data[: len(data) // 3])
    with pytest.raises(ShardError, match=re.escape(path)) as caught:
        tfpipe.load(copy.path, "train")
    assert caught.value.path == path and "bytes" in str(caught.value)
    os.remove(path)
    with pytest.raises(ShardError, match="missing"):
        tfpipe.load(copy.path, "train")


def test_skip_reads_a_truncated_shard_up_to_the_cut(copy, caplog):
    path = copy.shard_paths("train")[0]
    data = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(data[: len(data) // 2 + 5])
    with caplog.at_level(logging.WARNING, logger="tfpipe"):
        n = sum(int(y.shape[0]) for _, y in tfpipe.load(copy.path, "train", on_error="skip"))
    assert 200 < n < 480
    assert any(f"lost {480 - n} of 480" in r.getMessage() for r in caplog.records)


def test_skip_with_a_missing_shard(two_shards, tmp_path, caplog):
    info = reshard(two_shards, tmp_path / "gone", "train", 2)
    os.remove(info.shard_paths("train")[0])
    with caplog.at_level(logging.WARNING, logger="tfpipe"):
        ds = tfpipe.load(info.path, "train", on_error="skip")
        n = sum(int(y.shape[0]) for _, y in ds)
    assert n == 240
    assert any("lost 240 of 480" in r.getMessage() and "missing" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("options, field", [
    (dict(batch_size=0), "batch_size"),
    (dict(cache="ram"), "cache"),
    (dict(label_mode="binary"), "label_mode"),
    (dict(normalize="minmax"), "normalize"),
    (dict(on_error="ignore"), "on_error"),
    (dict(image_size=(28,)), "image_size"),
    (dict(repeat=0), "repeat"),
    (dict(augment=dict(rotation=10)), "augment"),
    (dict(service="grpc://localhost:1", cache="memory"), "cache"),
    (dict(split="validation"), "validation"),
])
def test_bad_options_name_the_option(converted, options, field):
    with pytest.raises(TfpipeError, match=field):
        tfpipe.load(converted.path, **options)


def test_repeat_makes_it_infinite_or_n_epochs(converted):
    assert int(tfpipe.load(converted.path, "test", 60, repeat=True).cardinality()) == tf.data.INFINITE_CARDINALITY
    ds = tfpipe.load(converted.path, "test", 60, repeat=3, label_mode="int", normalize=None)
    assert int(ds.cardinality()) == 6
    assert sum(seen(ds).values()) == 360


# --------------------------------------------------------------------------- end to end


def test_a_small_model_learns_through_load(converted):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dense(24, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(3e-3), "categorical_crossentropy", metrics=["accuracy"])
    model.fit(tfpipe.load(converted.path, "train", batch_size=32, seed=0), epochs=5, verbose=0)
    _, accuracy = model.evaluate(tfpipe.load(converted.path, "test", batch_size=64), verbose=0)
    assert accuracy > 0.5, accuracy  # chance is 1/24
