"""Helpers for the reader's tests, and the multi-device check they run in a subprocess.

* :func:`direct` -- the multiset of ``(label, sha1 of pixels)`` of a split,
  read straight from the shard files with :func:`tfpipe.shards.iter_records`
  and protobuf, without :mod:`tfpipe.read`: what every epoch must equal.
* :func:`seen` -- the same multiset from batches that ``tfpipe.load`` yielded.
* :func:`reshard` -- copy a dataset with one split cut into more shard files.
* :func:`flip_byte` -- corrupt a file in place.

``python tests/readkit.py distribute DIR`` configures two logical CPUs (which
must happen before TensorFlow initialises its devices, hence a separate
process), reads ``DIR`` through ``MirroredStrategy(["/cpu:0", "/cpu:1"])``
and prints one JSON line of what it saw.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from tfpipe.format import SIDECAR, ShardInfo, frame_record, load_info, shard_name
from tfpipe.shards import iter_records


def direct(info, split: str) -> Counter:
    """``Counter((label, sha1(uint8 pixels)))`` of a split, read without tfpipe.read."""
    from tensorflow.core.example import example_pb2

    counts: Counter = Counter()
    for path in info.shard_paths(split):
        for data in iter_records(path):
            ex = example_pb2.Example.FromString(data)
            image = ex.features.feature["image"].bytes_list.value[0]
            label = ex.features.feature["label"].int64_list.value[0]
            pixels = info.image.decode(image)
            counts[(int(label), hashlib.sha1(pixels.tobytes()).hexdigest())] += 1
    return counts


def seen(batches) -> Counter:
    """The same multiset from ``(uint8 images, int labels)`` batches."""
    counts: Counter = Counter()
    for images, labels in batches:
        images, labels = np.asarray(images), np.asarray(labels)
        assert images.dtype == np.uint8
        for image, label in zip(images, labels):
            counts[(int(label), hashlib.sha1(image.tobytes()).hexdigest())] += 1
    return counts


def reshard(info, out: Path, split: str, parts: int):
    """Copy the dataset to ``out`` with ``split`` rewritten as ``parts`` shards; returns its info."""
    shutil.copytree(info.path, out)
    records = [r for p in info.shard_paths(split) for r in iter_records(p)]
    for p in info.shard_paths(split):
        os.remove(os.path.join(out, os.path.basename(p)))
    bounds = [round(i * len(records) / parts) for i in range(parts + 1)]
    shards = []
    for i in range(parts):
        name = shard_name(info.name, split, i, parts)
        data = b"".join(frame_record(r) for r in records[bounds[i] : bounds[i + 1]])
        (out / name).write_bytes(data)
        shards.append(ShardInfo(name, bounds[i + 1] - bounds[i], len(data), hashlib.sha256(data).hexdigest()))
    splits = dict(info.splits)
    splits[split] = dataclasses.replace(info.splits[split], shards=tuple(shards))
    (out / SIDECAR).write_text(dataclasses.replace(info, splits=splits).to_json())
    return load_info(out)


def flip_byte(path, where: float = 0.5) -> None:
    data = bytearray(Path(path).read_bytes())
    data[int(len(data) * where)] ^= 0xFF
    Path(path).write_bytes(bytes(data))


# --------------------------------------------------------------------------- subprocess


def distribute_check(directory: str) -> dict:
    """Read ``directory`` through MirroredStrategy on two logical CPUs; report shapes."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    import tfpipe

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    dist = tfpipe.load(directory, "train", batch_size=32, strategy=strategy, seed=0)
    shapes, steps, labels = set(), 0, 0
    for images, onehot in dist:
        for x, y in zip(strategy.experimental_local_results(images),
                        strategy.experimental_local_results(onehot)):
            shapes.add((tuple(x.shape), tuple(y.shape), x.device.split("/")[-1]))
            labels += int(y.shape[0])
        steps += 1
    with strategy.scope():
        model = keras.Sequential([
            keras.Input((28, 28, 1)), keras.layers.Flatten(),
            keras.layers.Dense(24, activation="softmax"),
        ])
        model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(dist, epochs=1, verbose=0)
    return {
        "replicas": strategy.num_replicas_in_sync,
        "shapes": sorted([list(s[0]), list(s[1]), s[2]] for s in shapes),
        "steps": steps,
        "examples": labels,
        "fit_loss": float(history.history["loss"][-1]),
    }


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if len(sys.argv) != 3 or sys.argv[1] != "distribute":
        sys.exit("usage: python tests/readkit.py distribute DIR")
    print("RESULT " + json.dumps(distribute_check(sys.argv[2])))
