"""Read stage: a converted dataset -> batches of ``(images, labels)`` for Keras.

    tfpipe.load(path, split="train", batch_size=128, **options) -> tf.data.Dataset

The pipeline, in order (the tf.data performance guide, each choice measured
on the 28x28 sample; see ``load`` for the options)::

    shard files from tfpipe.json (stat-checked up front, shuffled with the seed)
      -> interleave, parallel: one pipeline per shard
             TFRecordDataset -> batch(512 records) -> record-count check
             -> parse_example (whole batch)
             -> raw:  decode_raw + reshape, whole batch [-> resize]
      -> jpeg/png: unbatch -> decode_jpeg(ratio=2|4|8) per image, parallel [-> resize]
      -> [tf.data service: the decoded stream comes from its workers, through
          tfpipe.service.distribute and its stall guard]
      -> cache: decoded uint8, in memory (or on disk)
      -> unbatch -> assert_cardinality(N) -> shuffle(buffer sized from N) -> repeat
      -> batch(B)
      -> [zip one random seed per batch] -> map: cast, augment, normalise, one-hot
      -> prefetch(AUTOTUNE), or prefetch_to_device("/GPU:0") on a GPU machine

Images stay uint8 (1 byte a pixel) until the very last map, so the cache
and the shuffle buffer are 4x smaller than float32 and the per-example
stages copy 4x less. With ``cache="device"`` the decoded split lives in one
uint8 tensor on the device and batches are gathered from it (see
:mod:`tfpipe.device`). With ``strategy=``, each input pipeline reads its own
shards (or every n-th record when there are fewer shards than pipelines).

A corrupt or truncated shard never fails as a bare ``DataLossError:
corrupted record at 12``: each shard's pipeline counts its records against
``tfpipe.json`` and, when the shard ends early (TensorFlow stops a TFRecord
file at its first bad record, and reads a truncated one as if it ended
there), fails with an error naming the file -- or, with ``on_error="skip"``,
logs a warning naming it and the records lost, and goes on.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

from . import device as devices
from .augment import Augment
from .errors import TfpipeError, check_choice
from .format import IMAGE_KEY, LABEL_KEY, DatasetInfo, load_info, parse_spec
from .shards import Problem, check_shard, raise_for, stat_shard

log = logging.getLogger("tfpipe")

LABEL_MODES = ("categorical", "int")
NORMALIZE = ("rescale", "standardize", None)
CACHE = ("auto", "memory", "disk", "device", None)
ON_ERROR = ("raise", "skip")
READ_BATCH = 512  # records per parse_example / decode_raw call
MAX_OPEN_SHARDS = 16  # shards read at once (each holds a read buffer and a pipeline)
JPEG_RATIOS = (8, 4, 2)


@dataclass(frozen=True)
class ReadOptions:
    """The options of :func:`load`, validated (a bad one raises TfpipeError naming it)."""

    split: str = "train"
    batch_size: int = 128
    shuffle: bool | None = None
    seed: int | None = None
    label_mode: str = "categorical"
    image_size: tuple[int, int] | None = None
    normalize: str | None = "rescale"
    augment: Augment | None = None
    cache: str | None = "auto"
    drop_remainder: bool = False
    deterministic: bool | None = None
    repeat: bool | int = False
    on_error: str = "raise"
    device: str | None = "auto"
    service: str | None = None
    service_sharding: str = "off"
    service_job_name: str | None = None

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise TfpipeError(f"batch_size: {self.batch_size!r} must be a positive integer")
        check_choice("label_mode", self.label_mode, LABEL_MODES)
        check_choice("normalize", self.normalize, NORMALIZE)
        check_choice("cache", self.cache, CACHE)
        check_choice("on_error", self.on_error, ON_ERROR)
        from .service import SHARDING

        check_choice("service_sharding", self.service_sharding, SHARDING)
        if self.image_size is not None:
            try:
                size = tuple(int(v) for v in self.image_size)
            except (TypeError, ValueError):
                size = ()
            if len(size) != 2 or min(size) < 1:
                raise TfpipeError(f"image_size: {self.image_size!r} must be two positive integers (H, W)")
            set_("image_size", size)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise TfpipeError(f"seed: {self.seed!r} must be an integer or None")
        if not isinstance(self.repeat, (bool, int)) or (not isinstance(self.repeat, bool) and self.repeat < 1):
            raise TfpipeError(f"repeat: {self.repeat!r} must be True, False or a number of epochs >= 1")
        set_("augment", Augment.of(self.augment))
        if self.service is not None:
            from .service import service_address

            set_("service", service_address(self.service))
        if self.service is not None and self.cache not in ("auto", None):
            raise TfpipeError(
                f"cache: {self.cache!r} cannot be combined with service= (the workers decode; "
                "a cache on this side would stop asking them): leave cache='auto'"
            )

    @property
    def shuffled(self) -> bool:
        return self.split == "train" if self.shuffle is None else bool(self.shuffle)

    @property
    def ordered(self) -> bool:
        """Deterministic order: asked for, or by default whenever order can matter
        (no shuffling, e.g. predictions matched to labels, or a seed was given)."""
        if self.deterministic is not None:
            return bool(self.deterministic)
        return not self.shuffled or self.seed is not None


def load(
    path: str | os.PathLike,
    split: str = "train",
    batch_size: int = 128,
    *,
    shuffle: bool | None = None,
    seed: int | None = None,
    label_mode: str = "categorical",
    image_size: tuple[int, int] | None = None,
    normalize: str | None = "rescale",
    augment: Augment | dict | None = None,
    cache: str | None = "auto",
    drop_remainder: bool = False,
    deterministic: bool | None = None,
    repeat: bool | int = False,
    strategy: Any = None,
    on_error: str = "raise",
    device: str | None = "auto",
    service: str | None = None,
    service_sharding: str = "off",
    service_job_name: str | None = None,
):
    """Batches of ``(images, labels)`` from a converted dataset, ready for ``model.fit``.

    Args:
        path: a directory written by ``tfpipe.convert`` (holds ``tfpipe.json``).
        split: "train", "validation" or "test" (whatever the dataset has).
        batch_size: examples per batch (the GLOBAL batch with ``strategy``).
        shuffle: shuffle examples every epoch; default True for "train" only.
        seed: makes shuffling and augmentation reproducible.
        label_mode: "categorical" (one-hot float32, for categorical_crossentropy)
            or "int" (int32 class indices, for sparse_categorical_crossentropy).
        image_size: (H, W) to resize to on read (bilinear, antialiased; JPEGs
            are decoded at 1/2, 1/4 or 1/8 scale first when that is still at
            least this size); default: as stored.
        normalize: "rescale" (float32 in [0, 1]), "standardize" (float32,
            per-channel ``(x - mean) / std`` with the train split's statistics
            from tfpipe.json) or None (uint8, as stored).
        augment: None, an :class:`~tfpipe.augment.Augment`, or a dict of its
            fields (ImageDataGenerator's names: ``rotation_range``,
            ``width_shift_range``, ``zoom_range``, ``horizontal_flip``...).
            Applied per batch after the cache, differently every epoch.
        cache: where decoded uint8 images are kept after the first epoch:
            "auto" (memory when the decoded split fits comfortably in RAM,
            else no cache), "memory", "disk" (a temporary file), "device"
            (one uint8 tensor on the GPU; falls back to "memory", with a
            warning, when there is no GPU or it does not fit) or None.
        drop_remainder: drop the last, smaller batch (always on with ``strategy``).
        deterministic: same order on every run (given a seed); default: True
            when a seed is given or nothing is shuffled, else False (faster).
        repeat: True repeats forever, an int that many epochs.
        strategy: a ``tf.distribute.Strategy``; returns its distributed dataset
            (one input pipeline per worker, per-replica batches).
        on_error: "raise": a corrupt, truncated or missing shard is an error
            naming the file; "skip": log a warning naming it and the records
            lost, and read on (the cardinality is then unknown).
        device: where batches go: "auto" (``/GPU:0`` when there is one, via
            ``prefetch_to_device``), None (stay on the host) or a device name.
        service: a tf.data service dispatcher address (``grpc://host:port``):
            its workers read and decode, this process shuffles and batches.
        service_sharding: "off" (every worker reads the whole split) or
            "dynamic" (the dispatcher hands out shard files: each example once).
        service_job_name: share one job (and its epoch) between consumers.

    Returns:
        A ``tf.data.Dataset`` of ``(images, labels)``: images ``(batch, H, W, C)``
        with static H, W, C; cardinality known (ceil(N / batch_size), or floor
        with ``drop_remainder``) unless ``repeat`` or ``on_error="skip"``.
        With ``strategy``: a ``tf.distribute.DistributedDataset``.

    Raises:
        TfpipeError: a bad option, or ``path`` is not a converted dataset.
        ShardError: a shard is missing or not the size tfpipe.json says.
        tf.errors.InvalidArgumentError: while iterating, a shard turned out
            corrupt or truncated; the message names the file.
    """
    options = ReadOptions(
        split=split, batch_size=batch_size, shuffle=shuffle, seed=seed, label_mode=label_mode,
        image_size=image_size, normalize=normalize, augment=augment, cache=cache,
        drop_remainder=drop_remainder, deterministic=deterministic, repeat=repeat,
        on_error=on_error, device=device, service=service, service_sharding=service_sharding,
        service_job_name=service_job_name,
    )
    reader = Reader(load_info(path), options, distributed=strategy is not None)
    if strategy is not None:
        return devices.distribute(strategy, reader.dataset)
    return reader.dataset()


# --------------------------------------------------------------------------- the reader


class Reader:
    """One split of one dataset, read with one set of options.

    ``dataset(input_context=None)`` builds the pipeline; with an input
    context it builds the share of one input pipeline (what
    ``distribute_datasets_from_function`` calls it with).
    """

    def __init__(self, info: DatasetInfo, options: ReadOptions, *, distributed: bool = False):
        self.info = info
        self.options = o = options
        self.split = info.split(o.split)
        spec = info.image
        height, width = o.image_size or (spec.height, spec.width)
        self.shape = (height, width, spec.channels)
        self.raw = spec.encoding == "raw"
        self.ratio = jpeg_ratio(spec.shape, (height, width)) if spec.encoding == "jpeg" else 1
        self.example_bytes = height * width * spec.channels
        self.budget = devices.host_budget()
        self.report = LossReport(self.split.name, self.split.num_examples)
        self.shards = self._present_shards()
        self.device = None if distributed else devices.resolve(o.device)
        self.cache = self._cache_mode(distributed)
        self._disk: tempfile.TemporaryDirectory | None = None
        self._on_device = None  # (images, labels) tensors once placed

    # ----------------------------------------------------------------- decisions

    def _present_shards(self) -> list[tuple[str, int]]:
        """``(path, records)`` of each shard; a missing or mis-sized one raises (or is skipped)."""
        shards, problems = [], []
        for meta, file in zip(self.split.shards, self.info.shard_paths(self.split.name)):
            found = stat_shard(file, meta.bytes)
            problems += found
            if any(p.unreadable for p in found) and self.options.on_error == "skip":
                self.report(file, 0, meta.records, found[0])
            else:
                shards.append((file, meta.records))
        if self.options.on_error == "raise":
            raise_for(problems, f"split {self.split.name}: ")
        if not shards:
            raise TfpipeError(f"split {self.split.name}: no shard of {self.info.path} can be read")
        return shards

    def decoded_bytes(self, examples: int | None = None) -> int:
        n = self.split.num_examples if examples is None else examples
        return n * self.example_bytes

    def _cache_mode(self, distributed: bool) -> str | None:
        o = self.options
        if o.service is not None:
            return None
        fits = self.decoded_bytes() <= self.budget // 2  # half for the cache, half to shuffle
        if o.cache == "auto":
            return "memory" if fits else None
        if o.cache != "device":
            return o.cache
        if distributed:
            raise TfpipeError(
                "cache: 'device' cannot be combined with strategy= (the strategy places each "
                "replica's batches); use cache='auto' or 'memory'"
            )
        if self.device is None:
            log.warning("tfpipe: cache='device' but no device to cache on (no GPU, or device=None); "
                        "caching in host memory instead")
            return "memory"
        budget = devices.device_budget(self.device)
        if self.decoded_bytes() > budget:
            log.warning(
                "tfpipe: cache='device': %s decoded is %.1f MiB, over the %.1f MiB device budget "
                "($TFPIPE_DEVICE_CACHE_BYTES); %s",
                self.split.name, self.decoded_bytes() / 2**20, budget / 2**20,
                "caching in host memory instead" if fits else "and too big for host memory: not caching",
            )
            return "memory" if fits else None
        return "device"

    def shuffle_buffer(self, examples: int) -> int:
        """The whole split when it fits half the memory budget, else as much as does."""
        if self.decoded_bytes(examples) <= self.budget // 2:
            return max(examples, 1)
        return max(1024, (self.budget // 2) // self.example_bytes)

    # ----------------------------------------------------------------- pipeline

    def dataset(self, input_context=None):
        """The ``tf.data.Dataset`` of ``(images, labels)`` batches (see the module docstring).

        On a device (``self.device``), ``prefetch_to_device`` is the last stage;
        tf.data cannot carry the cardinality through it (an op after it would
        copy the batches back to the host), so it then reads UNKNOWN: Keras
        counts the steps during the first epoch. :meth:`host_dataset` has it.
        """
        return devices.to_device(self.host_dataset(input_context), self.device)

    def host_dataset(self, input_context=None):
        """Everything but the device stage: batches on the host, cardinality known."""
        import tensorflow as tf

        o = self.options
        shards, record_shard = self.shards, None
        batch_size, drop = o.batch_size, o.drop_remainder
        if input_context is not None:
            batch_size = input_context.get_per_replica_batch_size(o.batch_size)
            drop = True  # every replica must get a full batch each step
            count, index = input_context.num_input_pipelines, input_context.input_pipeline_id
            if count > 1 and len(shards) >= count:
                shards = shards[index::count]
            elif count > 1:
                record_shard = (count, index)
                shards = [(f, len(range(index, n, count))) for f, n in shards]
        examples = sum(n for _, n in shards)
        fetch = None
        if self.cache == "device":
            ds, fetch = self._device_batches(shards, batch_size, drop)
        else:
            ds = self._examples(shards, record_shard, examples)
            if o.shuffled:
                ds = ds.shuffle(self.shuffle_buffer(examples), seed=o.seed, reshuffle_each_iteration=True)
            ds = self._repeat(ds)
            ds = ds.batch(batch_size, drop_remainder=drop)
        ds = self._finish(ds, fetch).prefetch(tf.data.AUTOTUNE)
        return ds.with_options(self._tf_options(input_context))

    def _repeat(self, ds):
        repeat = self.options.repeat
        if repeat is True:
            return ds.repeat()
        if repeat and repeat > 1:
            return ds.repeat(repeat)
        return ds

    def _examples(self, shards, record_shard, examples: int):
        """Decoded uint8 examples ``(image (H, W, C), label)``, cached, with cardinality known."""
        import tensorflow as tf

        o = self.options
        ds = self._decoded(shards, record_shard)
        batched = self.raw
        if o.service is not None:
            from . import service

            if not batched:  # ship batches: each element costs a hop through the stall guard
                ds, batched = ds.batch(READ_BATCH), True
            ds = service.distribute(ds, o.service, sharding=o.service_sharding, job_name=o.service_job_name)
        if batched:  # examples from here on: caching them measured faster than caching
            ds = ds.unbatch()  # whole read batches and unbatching those every epoch
        if self.cache == "memory":
            ds = ds.cache()
        elif self.cache == "disk":
            if self._disk is None:
                self._disk = tempfile.TemporaryDirectory(prefix="tfpipe-cache-")
            ds = ds.cache(os.path.join(self._disk.name, f"{self.split.name}-{len(shards)}"))
        if o.on_error == "raise" and o.service is None:
            ds = ds.apply(tf.data.experimental.assert_cardinality(examples))
        return ds

    def _decoded(self, shards, record_shard):
        """Shards read in parallel: raw -> decoded batches; jpeg/png -> decoded examples."""
        import tensorflow as tf

        o = self.options
        files = tf.data.Dataset.from_tensor_slices((
            [f for f, _ in shards],
            [_glob_escape(f) for f, _ in shards],
            tf.constant([n for _, n in shards], tf.int64),
        ))
        if o.shuffled and len(shards) > 1 and o.service_sharding != "dynamic":
            files = files.shuffle(len(shards), seed=o.seed, reshuffle_each_iteration=True)

        def one_shard(path, pattern, expected):
            # matching_files first: a vanished file must read as empty, because
            # ignore_errors() spins forever on a file that cannot be opened
            # (tensorflow/tensorflow#25700); after a bad record TensorFlow moves
            # on to the next file, so ignore_errors() ends the shard there.
            found = tf.io.matching_files(pattern)
            records = tf.data.TFRecordDataset(found).ignore_errors()
            if record_shard is not None:
                records = records.shard(*record_shard)
            batches = records.batch(READ_BATCH)
            return self._counted(batches, path, expected).map(self._parse)

        ds = files.interleave(
            one_shard,
            cycle_length=min(len(shards), MAX_OPEN_SHARDS),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=o.ordered,
        )
        if not self.raw:
            ds = ds.unbatch().map(self._decode_one, num_parallel_calls=tf.data.AUTOTUNE,
                                  deterministic=o.ordered)
        return ds

    def _counted(self, batches, path, expected):
        """Pass record batches through; at the shard's end compare the count with tfpipe.json."""
        import tensorflow as tf

        end = tf.data.Dataset.from_tensors((tf.zeros([0], tf.string), tf.constant(-1, tf.int64)))
        sized = batches.map(lambda b: (b, tf.shape(b, out_type=tf.int64)[0])).concatenate(end)

        def step(seen, element):
            records, n = element
            last = n < 0
            total = seen + tf.maximum(n, 0)
            ok = tf.cond(last, lambda: self._check(path, total, expected), lambda: tf.constant(True))
            return total, (records, last, ok)

        checked = sized.scan(tf.constant(0, tf.int64), step)
        return checked.filter(lambda r, last, ok: tf.logical_and(ok, tf.logical_not(last))).map(
            lambda r, last, ok: r
        )

    def _check(self, path, total, expected):
        import tensorflow as tf

        if self.options.on_error == "raise":
            message = tf.strings.join([
                "tfpipe: shard ", path, " is corrupt or truncated: ", tf.strings.as_string(total),
                " of the ", tf.strings.as_string(expected), " records tfpipe.json lists are readable. "
                "`python -m tfpipe.verify DIR` names the bad record; reconvert, or pass "
                "on_error='skip' to read on without it",
            ])
            check = tf.debugging.Assert(tf.equal(total, expected), [message], summarize=1)
            with tf.control_dependencies([check]):
                return tf.identity(tf.constant(True))

        def report():
            if self.options.service is not None:  # workers run no Python: print there
                tf.print("tfpipe: WARNING: shard", path, "is corrupt or truncated: read", total,
                         "of", expected, "records; skipping the rest", output_stream=sys.stderr)
                return tf.constant(True)
            return tf.py_function(self.report, [path, total, expected], tf.bool)

        return tf.cond(tf.equal(total, expected), lambda: tf.constant(True), report)

    def _parse(self, records):
        """A batch of serialized Examples -> (uint8 images (n, H, W, C), int32 labels) for raw
        data, or (encoded bytes, labels) for JPEG/PNG."""
        import tensorflow as tf

        parsed = tf.io.parse_example(records, parse_spec())
        labels = tf.cast(parsed[LABEL_KEY], tf.int32)
        if not self.raw:
            return parsed[IMAGE_KEY], labels
        h, w, c = self.info.image.shape
        images = tf.reshape(tf.io.decode_raw(parsed[IMAGE_KEY], tf.uint8), [-1, h, w, c])
        return self._resize(images), labels

    def _decode_one(self, data, label):
        import tensorflow as tf

        spec = self.info.image
        if spec.encoding == "jpeg":
            image = tf.io.decode_jpeg(data, channels=spec.channels, ratio=self.ratio)
        else:
            image = tf.io.decode_png(data, channels=spec.channels)
        decoded = (-(-spec.height // self.ratio), -(-spec.width // self.ratio), spec.channels)
        image = tf.ensure_shape(image, decoded)
        return self._resize(image), label

    def _resize(self, images):
        import tensorflow as tf

        if tuple(images.shape[-3:-1]) == self.shape[:2]:
            return images
        resized = tf.image.resize(images, self.shape[:2], method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)

    def _finish(self, ds, fetch=None):
        """uint8 batches -> what the model wants: one parallel map, the last real stage.

        ``fetch`` turns each element into ``(images, labels)`` first, in the same
        map (the device cache's gather).
        """
        import tensorflow as tf

        o = self.options
        fetch = fetch or (lambda *batch: batch)
        if o.augment is not None:
            # A fresh seed per batch, a different sequence each epoch; fixed by o.seed.
            seeds = tf.data.Dataset.random(seed=o.seed, rerandomize_each_iteration=True).batch(2)
            ds = tf.data.Dataset.zip((ds, seeds))
            return ds.map(lambda batch, seed: self.convert(*fetch(*_tuple(batch)), seed),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=o.ordered)
        return ds.map(lambda *batch: self.convert(*fetch(*batch)),
                      num_parallel_calls=tf.data.AUTOTUNE, deterministic=o.ordered)

    def convert(self, images, labels, seed=None):
        """uint8 (n, H, W, C) + int32 labels -> augmented, normalised images and the label mode."""
        import tensorflow as tf

        o = self.options
        x = images
        if o.augment is not None or o.normalize is not None:
            x = tf.cast(x, tf.float32)
        if o.augment is not None:
            x = o.augment(x, seed)
        if o.normalize == "rescale":
            x = x * (1.0 / 255.0)
        elif o.normalize == "standardize":
            mean = tf.constant(self.info.mean, tf.float32)
            std = tf.constant([s if s > 0 else 1.0 for s in self.info.std], tf.float32)
            x = (x - mean) / std
        elif o.augment is not None:
            x = tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8)
        if o.label_mode == "categorical":
            labels = tf.one_hot(labels, self.info.num_classes, dtype=tf.float32)
        return x, labels

    # ----------------------------------------------------------------- cache="device"

    def _device_batches(self, shards, batch_size: int, drop: bool):
        """Batches gathered from one uint8 tensor on ``self.device``: read and decode once,
        then per epoch only a permutation of indices is made on the host.

        Returns the dataset of index batches and the gather that the final map
        applies to each (so gather, cast, augment and normalise are one function).
        tf.data runs that function in its host runtime: on a CPU device the
        gather reads the placed tensor directly (measured faster than the
        memory cache); on a GPU, where TensorFlow executes it is the placer's
        choice and has not been measured here.
        """
        import tensorflow as tf

        o = self.options
        if self._on_device is None:
            images, labels = self._materialize(shards)
            self._on_device = devices.place(self.device, images, labels)
        images, labels = self._on_device
        n = int(labels.shape[0])
        index = tf.data.Dataset.range(n)  # shuffling 8-byte indices: cheap, and measured
        if o.shuffled:  # faster than a flat_map of one stateless permutation per epoch
            index = index.shuffle(n, seed=o.seed, reshuffle_each_iteration=True)
        index = self._repeat(index).batch(batch_size, drop_remainder=drop)
        return index, lambda i: (tf.gather(images, i), tf.gather(labels, i))

    def _materialize(self, shards):
        """The whole (share of the) split decoded, as numpy uint8 images and int32 labels."""
        import numpy as np

        ds = self._decoded(shards, None)
        if not self.raw:
            ds = ds.batch(1024)
        images, labels = [], []
        for x, y in ds.as_numpy_iterator():
            images.append(x)
            labels.append(y)
        if not images:
            raise TfpipeError(f"cache: 'device': {self.split.name} has no readable records to cache")
        return np.concatenate(images), np.concatenate(labels)

    def _tf_options(self, input_context):
        import tensorflow as tf

        options = tf.data.Options()
        options.deterministic = self.options.ordered
        options.autotune.enabled = True
        options.experimental_optimization.map_parallelization = True
        if input_context is not None:  # we shard ourselves
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return options


# --------------------------------------------------------------------------- helpers


def jpeg_ratio(stored: tuple[int, int, int], target: tuple[int, int]) -> int:
    """The largest libjpeg scale-down (8, 4, 2) that still decodes at least ``target``."""
    for r in JPEG_RATIOS:
        if stored[0] // r >= target[0] and stored[1] // r >= target[1]:
            return r
    return 1


def _tuple(element) -> tuple:
    return tuple(element) if isinstance(element, (tuple, list)) else (element,)


def _glob_escape(path: str) -> str:
    """``path`` as a ``tf.io.matching_files`` pattern that matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", path)


class LossReport:
    """What ``on_error="skip"`` lost: logs one warning per bad shard read, naming it."""

    def __init__(self, split: str, total: int):
        self.split = split
        self.total = total
        self.lost: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, path, read, expected, problem: Problem | None = None):
        path = path.numpy().decode() if hasattr(path, "numpy") else str(path)
        read, expected = int(read), int(expected)
        if problem is None:
            problem = _first_problem(path, expected)
        with self._lock:
            self.lost[path] = max(expected - read, 0)
            lost = sum(self.lost.values())
        log.warning(
            "tfpipe: lost %d of %d records in %s: shard %s is corrupt (%s); read %d of its %d "
            "records and skipped the rest",
            lost, self.total, self.split, path, problem.message if problem else "ends early",
            read, expected,
        )
        return True


def _first_problem(path: str, expected: int) -> Problem | None:
    """Where exactly the shard is broken (a Python CRC scan: only run once it failed)."""
    try:
        problems = check_shard(path, expected)
    except OSError:
        return None
    return problems[0] if problems else None
