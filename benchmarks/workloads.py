"""The declared grid: every workload, and every contender registered against it.

A contender is a function ``fn(ctx) -> {phase: measurement}`` registered with
:func:`contender`; the runner runs each one at every point of its workload's
grid (e.g. W2 over ``model in (mlp, cnn)``), and checks that the phases it
returns are the ones it declared. A measurement is a dict with at least
``images`` and ``seconds``; the runner adds ``images_per_s`` and the names.

Phases (warm-up reported apart from steady state, as FFCV and TFDS do):

* ``cold``: a freshly built pipeline's first epoch, *including* building it
  (``setup_s``: listing the folder, reading metadata) and its first batch
  (``first_batch_s``). The OS page cache is warm for every contender alike:
  the benchmark does not drop caches, so "cold" means "nothing cached by the
  pipeline itself".
* ``warm``: the median of later epochs of the same pipeline object.
* ``fit``: ``model.fit`` for ``fit_epochs`` epochs, first epoch included
  (tracing and all), ``first_epoch_s`` reported apart.
* ``convert``: one ``tfpipe.convert`` call.

Stage profiles (:func:`profile`) decompose tfpipe's read path and conversion
into stages so a missed target names its bottleneck.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import BenchData

AUTOTUNE = -1  # tf.data.AUTOTUNE, without importing TensorFlow at import time


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Workload:
    """One row group of the report.

    Attributes:
        id: ``"W1"``...; ``grid`` expands it into cases, e.g. ``{"model": "mlp"}``.
        baseline: the contender every ratio is taken against (same phase).
        modes: ``"cpu"`` (the default run) and/or ``"gpu"`` (``--device gpu``).
    """

    id: str
    title: str
    grid: tuple[tuple[str, tuple], ...] = ()
    baseline: str = "ImageDataGenerator"
    modes: tuple[str, ...] = ("cpu",)

    def cases(self) -> list[dict]:
        names = [name for name, _ in self.grid]
        return [
            dict(zip(names, values)) for values in itertools.product(*(v for _, v in self.grid))
        ]


WORKLOADS: dict[str, Workload] = {
    w.id: w
    for w in (
        Workload(
            "W1",
            "Sign language, input only: 28x28 grayscale JPEGs -> batches of 128",
            modes=("cpu", "gpu"),
        ),
        Workload(
            "W2",
            "End to end: model.fit of the course's models",
            grid=(("model", ("mlp", "cnn")),),
            modes=("cpu", "gpu"),
        ),
        Workload("W3", "Larger RGB JPEG frames, resized on read"),
        Workload(
            "W4",
            "Conversion into shards",
            grid=(("source", ("tree", "csv")),),
            baseline="workers=1",
        ),
    )
}


@dataclass(frozen=True)
class Contender:
    workload: str
    name: str
    fn: Callable
    kind: str  # baseline | peer | tfpipe | ceiling
    phases: tuple[str, ...]
    modes: tuple[str, ...]
    notes: str


REGISTRY: list[Contender] = []
PROFILES: dict[str, Callable] = {}


def contender(
    workload: str,
    name: str,
    *,
    kind: str = "peer",
    phases=("cold", "warm"),
    modes=("cpu", "gpu"),
    notes: str = "",
):
    """Register ``fn(ctx) -> {phase: measurement}`` as ``name`` in ``workload``."""

    def register(fn):
        if any(c.workload == workload and c.name == name for c in REGISTRY):
            raise ValueError(f"{workload} already has a contender {name!r}")
        REGISTRY.append(Contender(workload, name, fn, kind, tuple(phases), tuple(modes), notes))
        return fn

    return register


def profile(workload: str):
    """Register ``fn(ctx) -> [stage rows]``: where the time of ``workload`` goes."""

    def register(fn):
        PROFILES[workload] = fn
        return fn

    return register


def declared(workloads: Iterable[str], mode: str) -> list[tuple[Workload, dict, Contender]]:
    """Every (workload, case, contender) the runner will run, in report order."""
    out = []
    for wid in workloads:
        work = WORKLOADS[wid]
        if mode not in work.modes:
            continue
        for case in work.cases():
            out += [(work, case, c) for c in REGISTRY if c.workload == wid and mode in c.modes]
    return out


def case_label(case: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in case.items())


# --------------------------------------------------------------------------- context


@dataclass
class Context:
    """What a contender gets: the data, the mode and device, the current grid point."""

    data: BenchData
    mode: str = "cpu"  # "cpu" | "gpu"
    device: str = "/CPU:0"
    log: Callable = print
    device_note: str = ""
    workload: str = ""
    params: dict = field(default_factory=dict)
    warm_up_s: float = 0.0
    first_use: dict = field(default_factory=dict)
    _memo: dict = field(default_factory=dict)

    @property
    def sizes(self):
        return self.data.sizes

    @property
    def batch_size(self) -> int:
        return self.sizes.batch_size

    def memo(self, key, make):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """W1's Train images decoded (uint8 N x 28 x 28 x 1), labels, class names."""
        return self.memo("arrays", self.data.load_arrays)

    def scaled_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Float32 images in [0, 1] and one-hot labels: the ceiling's input, already prepared."""

        def make():
            x, y, classes = self.arrays()
            return x.astype(np.float32) / np.float32(255), np.eye(len(classes), dtype=np.float32)[y]

        return self.memo("scaled", make)

    def device_arrays(self):
        """:meth:`scaled_arrays` resident on ``self.device`` (GPU mode)."""

        def make():
            import tensorflow as tf

            x, y = self.scaled_arrays()
            with tf.device(self.device):
                return tf.identity(tf.constant(x)), tf.identity(tf.constant(y))

        return self.memo("device_arrays", make)

    def to_device(self, batch):
        """GPU mode: the batch copied onto the device (a no-op for tensors already there)."""
        if self.mode == "cpu":
            return batch
        import tensorflow as tf

        with tf.device(self.device):
            return tuple(tf.identity(t) for t in _parts(batch))

    def sync(self, batch) -> None:
        """GPU mode: wait until the device has really finished with ``batch``."""
        if self.mode != "cpu" and batch is not None:
            import tensorflow as tf

            with tf.device(self.device):
                tf.reduce_sum(tf.cast(_parts(batch)[0], tf.float32)).numpy()

    def device_scope(self):
        if self.mode == "cpu":
            return contextlib.nullcontext()
        import tensorflow as tf

        return tf.device(self.device)


# --------------------------------------------------------------------------- timing


def make_context(quick: bool = True, mode: str = "cpu", data_dir=None, log=print) -> Context:
    """Data prepared, device picked, one-time costs paid: what the runner and the suites start from."""
    from .data import FULL, QUICK, prepare, prewarm

    data = prepare(QUICK if quick else FULL, data_dir, log=log)
    prewarm(data)
    if mode == "cpu":
        hide_gpus()
    device, note = pick_device(mode)
    ctx = Context(data=data, mode=mode, device=device, log=log, device_note=note)
    ctx.warm_up_s = warm_up()
    ctx.first_use = first_use(ctx)
    return ctx


def hide_gpus() -> None:
    """CPU mode on a GPU machine: every contender, and model.fit, on the CPU alike."""
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # TensorFlow already initialised its devices in this process
        pass


def pick_device(mode: str) -> tuple[str, str]:
    """The device the GPU mode runs on, and a note when /CPU:0 stands in for a missing GPU."""
    if mode == "cpu":
        return "/CPU:0", ""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return gpus[0].name, ""
    return "/CPU:0", (
        "No GPU found: /CPU:0 stands in, so the GPU mode's numbers show that it runs, "
        "not how fast a GPU is. Install tensorflow[and-cuda] on a GPU machine for real numbers."
    )


def run_case(ctx: Context, work: Workload, case: dict, c: Contender) -> dict:
    """Run one contender at one grid point; its phases, checked against the declaration."""
    ctx.workload, ctx.params = work.id, case
    phases = c.fn(ctx)
    if set(phases) != set(c.phases):
        raise RuntimeError(f"{c.name} returned phases {sorted(phases)}, declared {list(c.phases)}")
    return phases


def warm_up() -> float:
    """Pay the one-time costs (imports, TF runtime start) before any clock runs; their seconds.

    Without it the first contender would be charged ~4 s of ``import tensorflow``.
    """
    start = time.perf_counter()
    import keras
    import tensorflow as tf
    import tensorflow_datasets  # noqa: F401
    from tensorflow.keras.preprocessing.image import ImageDataGenerator  # noqa: F401

    with contextlib.suppress(ImportError):
        import psutil  # noqa: F401 - tfpipe.load sizes its cache with it

        import tfpipe.read  # noqa: F401
    ds = (
        tf.data.Dataset.range(256)
        .map(lambda i: tf.cast(i, tf.float32) / 255.0, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(64)
    )
    for _ in ds.prefetch(2):
        pass
    keras.utils.set_random_seed(0)
    return time.perf_counter() - start


def timed(fn: Callable):
    """``(fn(), seconds)``; stdout (Keras's "Found N images...") swallowed."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        out = fn()
    return out, time.perf_counter() - start


def _parts(batch) -> tuple:
    if isinstance(batch, dict):
        return tuple(batch.values())
    if isinstance(batch, (tuple, list)):
        return tuple(batch)
    return (batch,)


def _count(batch) -> int:
    return int(_parts(batch)[0].shape[0])


def time_epoch(ctx: Context, batches: Iterable) -> dict:
    """Iterate one epoch, handing each batch to the device in GPU mode; first batch apart."""
    start = time.perf_counter()
    first_at, first_images, images, last = None, 0, 0, None
    for batch in batches:
        last = ctx.to_device(batch)
        images += _count(batch)
        if first_at is None:
            first_at, first_images = time.perf_counter(), images
    ctx.sync(last)
    end = time.perf_counter()
    if first_at is None:
        raise RuntimeError("the epoch produced no batch")
    steady_s = end - first_at
    return {
        "images": images,
        "seconds": end - start,
        "first_batch_s": first_at - start,
        "steady_images_per_s": (images - first_images) / steady_s if steady_s > 0 else None,
    }


def cold_and_warm(ctx: Context, epoch: Callable[[], Iterable], setup_s: float) -> dict:
    """``cold``: setup plus the first epoch; ``warm``: the median later epoch."""
    cold = time_epoch(ctx, epoch())
    cold["setup_s"] = setup_s
    cold["seconds"] += setup_s
    return {"cold": cold, "warm": warm_epochs(ctx, epoch)}


def warm_epochs(ctx: Context, epoch: Callable[[], Iterable], count: int | None = None) -> dict:
    """Up to ``count`` (default ``sizes.warm_epochs``) epochs, stopping early past the time budget."""
    count = count or ctx.sizes.warm_epochs
    runs: list[dict] = []
    while len(runs) < count and (
        not runs or sum(r["seconds"] for r in runs) < ctx.sizes.warm_budget_s
    ):
        runs.append(time_epoch(ctx, epoch()))
    median = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {**median, "epochs_timed": len(runs)}


# --------------------------------------------------------------------------- W1 and W3: input only


@dataclass(frozen=True)
class Images:
    """What a W1/W3 contender reads: the class folder and the shards of the same images."""

    directory: Path
    size: tuple[int, int]
    color_mode: str
    shards: Path


def images(ctx: Context) -> Images:
    d = ctx.data
    if ctx.workload == "W3":
        return Images(d.rgb_dir, tuple(ctx.sizes.rgb_read_size), "rgb", d.rgb_shards)
    return Images(d.train_dir, (28, 28), "grayscale", d.sign_shards)


def _idg(src: Images, batch_size: int):
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    return ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        str(src.directory),
        target_size=src.size,
        batch_size=batch_size,
        class_mode="categorical",
        color_mode=src.color_mode,
    )


def _idg_epoch(gen) -> Iterator:
    return (next(gen) for _ in range(len(gen)))


def _idfd(src: Images, batch_size: int):
    import keras
    import tensorflow as tf

    ds = keras.utils.image_dataset_from_directory(
        str(src.directory),
        color_mode=src.color_mode,
        image_size=src.size,
        batch_size=batch_size,
        label_mode="categorical",
    )
    return ds.map(lambda x, y: (x / 255.0, y), num_parallel_calls=tf.data.AUTOTUNE)


def _tfpipe(ctx: Context, **options):
    """``tfpipe.load`` with its defaults; in GPU mode batches go to ``ctx.device`` (its ``device=``)."""
    import tfpipe

    if ctx.mode == "gpu":
        options.setdefault("device", ctx.device)
    return tfpipe.load(str(images(ctx).shards), split="train", batch_size=ctx.batch_size, **options)


IDG_NOTE = "ImageDataGenerator(rescale=1/255).flow_from_directory(...) as the course calls it"
IDFD_NOTE = "keras.utils.image_dataset_from_directory(...) + map(x / 255)"


@contender("W1", "ImageDataGenerator", kind="baseline", notes=IDG_NOTE)
@contender("W3", "ImageDataGenerator", kind="baseline", notes=IDG_NOTE + ", color_mode='rgb'")
def idg(ctx: Context) -> dict:
    gen, setup = timed(lambda: _idg(images(ctx), ctx.batch_size))
    return cold_and_warm(ctx, lambda: _idg_epoch(gen), setup)


@contender("W1", "image_dataset_from_directory", notes=IDFD_NOTE)
@contender("W3", "image_dataset_from_directory", notes=IDFD_NOTE)
def idfd(ctx: Context) -> dict:
    ds, setup = timed(lambda: _idfd(images(ctx), ctx.batch_size))
    return cold_and_warm(ctx, lambda: iter(ds), setup)


IDFD_CACHE_NOTE = (
    IDFD_NOTE + ".cache().prefetch(AUTOTUNE); warm epochs replay the first epoch's batches in the "
    "same order (the cache sits after the shuffle)"
)


@contender("W1", "image_dataset_from_directory + cache", notes=IDFD_CACHE_NOTE)
@contender("W3", "image_dataset_from_directory + cache", notes=IDFD_CACHE_NOTE)
def idfd_cached(ctx: Context) -> dict:
    ds, setup = timed(lambda: _idfd(images(ctx), ctx.batch_size).cache().prefetch(AUTOTUNE))
    return cold_and_warm(ctx, lambda: iter(ds), setup)


@contender(
    "W1",
    "tfds ImageFolder",
    notes="tfds.folder_dataset.ImageFolder(root).as_dataset('Train', batch_size=128, "
    "shuffle_files=True) + map(x / 255, one_hot)",
)
def image_folder(ctx: Context) -> dict:
    ds, setup = timed(lambda: _image_folder(ctx))
    return cold_and_warm(ctx, lambda: iter(ds), setup)


def _image_folder(ctx: Context):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    builder = tfds.folder_dataset.ImageFolder(str(ctx.data.sign_images), shape=(28, 28, 1))
    n = builder.info.features["label"].num_classes
    split = ctx.data.train_dir.name  # "Train": ImageFolder names splits after the folders
    ds = builder.as_dataset(
        split=split, batch_size=ctx.batch_size, shuffle_files=True, as_supervised=True
    )
    ds = ds.map(
        lambda x, y: (tf.cast(x, tf.float32) / 255.0, tf.one_hot(y, n)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)


TFPIPE_NOTE = 'tfpipe.load(shards, "train", batch_size=128), defaults (cache="auto")'


@contender("W1", "tfpipe", kind="tfpipe", notes=TFPIPE_NOTE)
@contender("W3", "tfpipe", kind="tfpipe", notes=TFPIPE_NOTE + "; shards written at the read size")
def tfpipe_load(ctx: Context) -> dict:
    ds, setup = timed(lambda: _tfpipe(ctx))
    return cold_and_warm(ctx, lambda: iter(ds), setup)


@contender(
    "W1",
    'tfpipe cache="device"',
    kind="tfpipe",
    modes=("gpu",),
    notes='tfpipe.load(..., cache="device"): decoded batches kept on the accelerator',
)
def tfpipe_device(ctx: Context) -> dict:
    with ctx.device_scope():
        ds, setup = timed(lambda: _tfpipe(ctx, cache="device"))
        return cold_and_warm(ctx, lambda: iter(ds), setup)


@contender(
    "W1",
    "numpy ceiling",
    kind="ceiling",
    phases=("warm",),
    notes="decoded uint8 arrays in memory: permutation, slice, cast, scale, one-hot per batch",
)
def numpy_ceiling(ctx: Context) -> dict:
    x, y, classes = ctx.arrays()
    onehot = np.eye(len(classes), dtype=np.float32)
    rng = np.random.default_rng(0)
    scale = np.float32(1 / 255)
    b = ctx.batch_size

    def epoch():
        order = rng.permutation(len(x))
        for i in range(0, len(x), b):
            idx = order[i : i + b]
            yield x[idx].astype(np.float32) * scale, onehot[y[idx]]

    return {"warm": warm_epochs(ctx, epoch, ctx.sizes.warm_epochs + 1)}


@contender(
    "W1",
    "device ceiling",
    kind="ceiling",
    phases=("warm",),
    modes=("gpu",),
    notes="scaled arrays resident on the device: random permutation + gather per batch",
)
def device_ceiling(ctx: Context) -> dict:
    import tensorflow as tf

    xd, yd = ctx.device_arrays()
    n, b = int(xd.shape[0]), ctx.batch_size

    def epoch():
        with tf.device(ctx.device):
            order = tf.random.shuffle(tf.range(n))
            for i in range(0, n, b):
                idx = order[i : i + b]
                yield tf.gather(xd, idx), tf.gather(yd, idx)

    return {"warm": warm_epochs(ctx, epoch, ctx.sizes.warm_epochs + 1)}


def first_use(ctx: Context) -> dict[str, float | None]:
    """Each library's first use in this process (build a W1 pipeline, take one batch), untimed
    by the grid and reported apart: a one-time cost (autograph conversion, caches) that
    otherwise lands on whichever contender happens to run first."""
    builders = {
        "ImageDataGenerator": lambda: _idg_epoch(_idg(images(ctx), ctx.batch_size)),
        "image_dataset_from_directory": lambda: iter(_idfd(images(ctx), ctx.batch_size)),
        "tfds ImageFolder": lambda: iter(_image_folder(ctx)),
        "tfpipe": lambda: iter(_tfpipe(ctx)),
    }
    saved, ctx.workload = ctx.workload, "W1"
    out: dict[str, float | None] = {}
    try:
        for name, build in builders.items():
            try:
                _, out[name] = timed(lambda build=build: next(build()))
            except Exception:  # reported by the grid itself when the contender runs
                out[name] = None
    finally:
        ctx.workload = saved
    return out


# --------------------------------------------------------------------------- W2: model.fit


@dataclass
class Feed:
    """How one contender feeds training: what ``model.fit`` gets, and one epoch of batches."""

    fit_args: tuple
    epoch: Callable[[], Iterable]
    setup_s: float
    fit_kwargs: dict = field(default_factory=dict)


def build_model(ctx: Context, compile: bool = True):
    """The course model ``ctx.params["model"]`` (from :mod:`tfpipe.models`), seeded."""
    import keras

    from tfpipe import models

    keras.utils.set_random_seed(0)
    _, _, classes = ctx.arrays()
    make = {"mlp": models.base_mlp, "cnn": models.cnn}[ctx.params["model"]]
    return make((28, 28, 1), len(classes), compile=compile)


def train(ctx: Context, feed: Feed) -> dict:
    """``model.fit`` for ``fit_epochs``; in GPU mode also the input-wait fraction."""
    import keras

    epochs = ctx.sizes.fit_epochs
    n = len(ctx.arrays()[0])
    ctx.memo(("fit warm-up", ctx.params["model"], ctx.mode), lambda: _warm_fit(ctx))
    with ctx.device_scope():
        model = build_model(ctx)
        clock = _epoch_clock()
        start = time.perf_counter()
        model.fit(*feed.fit_args, epochs=epochs, verbose=0, callbacks=[clock], **feed.fit_kwargs)
        fit_s = time.perf_counter() - start
    keras.backend.clear_session()
    steady = sum(clock.epochs[1:])
    row = {
        "images": n * epochs,
        "seconds": feed.setup_s + fit_s,
        "setup_s": feed.setup_s,
        "first_batch_s": clock.first_batch,
        "first_epoch_s": clock.epochs[0],
        "steady_images_per_s": n * (epochs - 1) / steady if steady > 0 else None,
    }
    if ctx.mode == "gpu":
        row.update(input_wait(ctx, feed))
    return {"fit": row}


def _warm_fit(ctx: Context) -> None:
    """One untimed tiny fit per model, so the first contender does not pay Keras's first-use costs."""
    import keras

    x, y = ctx.scaled_arrays()
    with ctx.device_scope():
        build_model(ctx).fit(
            x[: 2 * ctx.batch_size],
            y[: 2 * ctx.batch_size],
            batch_size=ctx.batch_size,
            epochs=1,
            verbose=0,
        )
    keras.backend.clear_session()


def _epoch_clock():
    """A Keras callback timing each epoch and the first batch (tracing included)."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs: list[float] = []
            self.first_batch: float | None = None
            self._begin = self._epoch = 0.0

        def on_train_begin(self, logs=None):
            self._begin = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(time.perf_counter() - self._epoch)

        def on_train_batch_end(self, batch, logs=None):
            if self.first_batch is None:
                self.first_batch = time.perf_counter() - self._begin

    return EpochClock()


def input_wait(ctx: Context, feed: Feed) -> dict:
    """Fraction of a training step spent waiting for input, on ``ctx.device``.

    The same compiled step (forward, loss, gradients, Adam update) runs over
    one epoch of the contender's batches, then as many times on slices of
    the data already resident on the device; ``1 - resident / fed``. A plain
    ``tf.function`` loop is used because ``model.fit`` always pulls its
    input through the host.
    """
    import tensorflow as tf

    b = ctx.batch_size
    step = ctx.memo(("train step", ctx.params["model"], ctx.device), lambda: _train_step(ctx))
    with tf.device(ctx.device):
        xd, yd = ctx.device_arrays()
        batches = iter(feed.epoch())
        next(batches)  # the pipeline's start-up latency is the first batch's, reported elsewhere
        fed_steps, start, loss = 0, time.perf_counter(), None
        for batch in batches:
            x, y = ctx.to_device(batch)[:2]
            if int(x.shape[0]) != b:
                continue  # the last partial batch would retrace
            loss = step(x, y)
            fed_steps += 1
        if loss is not None:
            loss.numpy()
        fed_s = (time.perf_counter() - start) / max(fed_steps, 1)
        n = int(xd.shape[0])
        start = time.perf_counter()
        for i in range(max(fed_steps, 1)):
            s = (i * b) % max(n - b + 1, 1)
            loss = step(xd[s : s + b], yd[s : s + b])
        loss.numpy()
        resident_s = (time.perf_counter() - start) / max(fed_steps, 1)
    return {
        "step_ms": fed_s * 1e3,
        "device_step_ms": resident_s * 1e3,
        "input_wait": max(0.0, 1 - resident_s / fed_s) if fed_s > 0 else None,
    }


def _train_step(ctx: Context):
    """One compiled training step on ``ctx.device`` (built and traced once per model, untimed)."""
    import keras
    import tensorflow as tf

    with tf.device(ctx.device):
        model = build_model(ctx, compile=False)
        opt = keras.optimizers.Adam()
        opt.build(model.trainable_variables)
        loss_fn = keras.losses.CategoricalCrossentropy()

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        xd, yd = ctx.device_arrays()
        b = ctx.batch_size
        step(xd[:b], yd[:b]).numpy()
    return step


@contender(
    "W2", "ImageDataGenerator", kind="baseline", phases=("fit",), notes="model.fit(gen) " + IDG_NOTE
)
def fit_idg(ctx: Context) -> dict:
    src = images(ctx)
    gen, setup = timed(lambda: _idg(src, ctx.batch_size))
    return train(ctx, Feed((gen,), lambda: _idg_epoch(gen), setup))


@contender("W2", "image_dataset_from_directory", phases=("fit",), notes=IDFD_NOTE)
def fit_idfd(ctx: Context) -> dict:
    ds, setup = timed(lambda: _idfd(images(ctx), ctx.batch_size))
    return train(ctx, Feed((ds,), lambda: iter(ds), setup))


@contender(
    "W2",
    "image_dataset_from_directory + cache",
    phases=("fit",),
    notes=IDFD_CACHE_NOTE,
)
def fit_idfd_cached(ctx: Context) -> dict:
    ds, setup = timed(lambda: _idfd(images(ctx), ctx.batch_size).cache().prefetch(AUTOTUNE))
    return train(ctx, Feed((ds,), lambda: iter(ds), setup))


@contender("W2", "tfds ImageFolder", phases=("fit",), notes="ImageFolder as in W1")
def fit_image_folder(ctx: Context) -> dict:
    ds, setup = timed(lambda: _image_folder(ctx))
    return train(ctx, Feed((ds,), lambda: iter(ds), setup))


@contender("W2", "tfpipe", kind="tfpipe", phases=("fit",), notes=TFPIPE_NOTE)
def fit_tfpipe(ctx: Context) -> dict:
    ds, setup = timed(lambda: _tfpipe(ctx))
    return train(ctx, Feed((ds,), lambda: iter(ds), setup))


@contender(
    "W2",
    'tfpipe cache="device"',
    kind="tfpipe",
    phases=("fit",),
    modes=("gpu",),
    notes='tfpipe.load(..., cache="device")',
)
def fit_tfpipe_device(ctx: Context) -> dict:
    with ctx.device_scope():
        ds, setup = timed(lambda: _tfpipe(ctx, cache="device"))
    return train(ctx, Feed((ds,), lambda: iter(ds), setup))


@contender(
    "W2",
    "ceiling: tensors in memory",
    kind="ceiling",
    phases=("fit",),
    notes="from_tensor_slices(scaled arrays).cache().shuffle(N).batch(128).prefetch",
)
def fit_ceiling_tensors(ctx: Context) -> dict:
    import tensorflow as tf

    x, y = ctx.scaled_arrays()

    def build():
        ds = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(x))
        return ds.batch(ctx.batch_size).prefetch(tf.data.AUTOTUNE)

    ds, setup = timed(build)
    return train(ctx, Feed((ds,), lambda: iter(ds), setup))


@contender(
    "W2",
    "ceiling: numpy arrays",
    kind="ceiling",
    phases=("fit",),
    notes="model.fit(x, y, batch_size=128, shuffle=True) on scaled arrays in memory",
)
def fit_ceiling_numpy(ctx: Context) -> dict:
    x, y = ctx.scaled_arrays()
    b = ctx.batch_size

    def epoch():
        order = np.random.default_rng(0).permutation(len(x))
        return ((x[order[i : i + b]], y[order[i : i + b]]) for i in range(0, len(x), b))

    return train(ctx, Feed((x, y), epoch, 0.0, {"batch_size": b, "shuffle": True}))


# --------------------------------------------------------------------------- W4: conversion


def _convert(ctx: Context, workers: int) -> dict:
    """The CLI as a user runs it, in a fresh process, timed from outside.

    A fresh process matters: it has not loaded TensorFlow, so its workers are
    forked; this benchmark process has, and would have to spawn them.
    """
    import subprocess

    import tfpipe

    source = ctx.params["source"]
    src = ctx.data.sign_images if source == "tree" else ctx.data.train_csv
    out = ctx.data.root / "scratch" / f"w4-{source}-w{workers}"
    command = [sys.executable, "-m", "tfpipe.convert", str(src), "--out", str(out), "--overwrite",
               "--workers", str(workers), "--no-progress"]
    try:
        _, seconds = timed(lambda: subprocess.run(command, check=True, capture_output=True))
        info = tfpipe.load_info(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    kept = sum(s.num_examples for s in info.splits.values())
    return {"convert": {"images": kept + sum(info.quarantined.values()), "seconds": seconds}}


CONVERT_NOTE = "python -m tfpipe.convert SRC --out DIR --workers {} (a fresh process, wall time)"


@contender("W4", "workers=1", kind="baseline", phases=("convert",), notes=CONVERT_NOTE.format(1))
def convert_1(ctx: Context) -> dict:
    return _convert(ctx, 1)


@contender("W4", "workers=2", kind="tfpipe", phases=("convert",), notes=CONVERT_NOTE.format(2))
def convert_2(ctx: Context) -> dict:
    return _convert(ctx, 2)


# --------------------------------------------------------------------------- stage profiles


def _stage(name: str, seconds: float, images: int, notes: str = "") -> dict:
    return {
        "stage": name,
        "images": images,
        "seconds": seconds,
        "images_per_s": images / seconds if seconds > 0 else None,
        "notes": notes,
    }


def _drain(ds) -> tuple[int, float]:
    """One pass iterated from Python, as a training loop would."""
    start, images = time.perf_counter(), 0
    for batch in ds:
        images += _count(batch)
    return images, time.perf_counter() - start


def _drain_graph(ds, batched: bool = True, passes: int = 2) -> tuple[int, float]:
    """Full passes consumed inside TensorFlow: the pipeline's own cost, no Python per batch.

    One traced ``reduce`` is run ``passes`` times; the fastest pass counts
    (the first one also pays the tracing). ``batched=False``: elements are
    single examples, each counts one.
    """
    import tensorflow as tf

    def add(total, *element):
        if not batched:
            return total + 1
        return total + tf.shape(tf.nest.flatten(element)[0], out_type=tf.int64)[0]

    count = tf.function(lambda d: d.reduce(tf.constant(0, tf.int64), add))
    best, images = float("inf"), 0
    for _ in range(passes):
        start = time.perf_counter()
        images = int(count(ds))
        best = min(best, time.perf_counter() - start)
    return images, best


DECODE_NOTE = {
    True: "decode_raw + reshape on the batch",
    False: "unbatch, decode_image per image, parallel map",
}


def read_stages(ctx: Context, shards: Path) -> list[dict]:
    """tfpipe's documented read path rebuilt one stage at a time (see ``tfpipe/read.py``).

    Each row is the pipeline cut after that stage, timed over a full pass
    consumed inside TensorFlow (best of two), so the differences between
    rows are what each stage costs::

        interleave over shards: TFRecordDataset -> batch(512)     read
        -> parse_example on the 512-record batch                   + parse
        -> decode_raw + reshape on the batch | JPEG: unbatch,
           decode_jpeg per image (parallel map)                    + decode
        -> unbatch, shuffle(N), batch(B)                           + shuffle, batch
        -> cast, / 255, one-hot; prefetch                          + scale, one-hot

    then the decoded examples cached, second pass (what a warm epoch redoes),
    and two Python-iterated passes: the whole cold pipeline, and finished
    batches from a cache (the per-batch floor of any tf.data pipeline).
    """
    import tensorflow as tf

    from tfpipe.format import IMAGE_KEY, LABEL_KEY, load_info, parse_spec

    info = load_info(shards)
    spec, n_cls, b = info.image, info.num_classes, ctx.batch_size
    files = info.shard_paths("train")
    n = info.split("train").num_examples
    tune = tf.data.AUTOTUNE
    raw = spec.encoding == "raw"

    def read():
        return tf.data.Dataset.from_tensor_slices(files).interleave(
            lambda f: tf.data.TFRecordDataset(f).batch(512),
            cycle_length=len(files),
            num_parallel_calls=tune,
            deterministic=False,
        )

    def parse():
        def one_batch(records):
            ex = tf.io.parse_example(records, parse_spec())
            return ex[IMAGE_KEY], ex[LABEL_KEY]

        return read().map(one_batch, num_parallel_calls=tune)

    def decode():
        if raw:
            return parse().map(
                lambda data, y: (
                    tf.reshape(tf.io.decode_raw(data, tf.uint8), (-1, *spec.shape)),
                    y,
                ),
                num_parallel_calls=tune,
            )

        def one(data, y):
            x = tf.io.decode_image(data, channels=spec.channels, expand_animations=False)
            return tf.ensure_shape(x, spec.shape), y

        return parse().unbatch().map(one, num_parallel_calls=tune, deterministic=False)

    def examples(ds):
        return ds.unbatch() if raw else ds

    def shuffled(ds):
        return examples(ds).shuffle(n).batch(b)

    def finish(ds):
        return ds.map(
            lambda x, y: (tf.cast(x, tf.float32) / 255.0, tf.one_hot(y, n_cls)),
            num_parallel_calls=tune,
        ).prefetch(tune)

    def full():
        return finish(shuffled(decode()))

    note = " (consumed inside TF)"
    rows = []
    stages = (
        ("read", read, "interleave over shards: TFRecordDataset -> batch(512)", True),
        ("+ parse", parse, "parse_example on each 512-record batch", True),
        ("+ decode", decode, DECODE_NOTE[raw], raw),
        (
            "+ shuffle, batch",
            lambda: shuffled(decode()),
            f"unbatch, shuffle({n}), batch({b})",
            True,
        ),
        ("+ scale, one-hot", full, "cast, / 255, one_hot, prefetch: the cold epoch's work", True),
    )
    for name, make, what, batched in stages:
        images, seconds = _drain_graph(make(), batched)
        rows.append(_stage(name, seconds, images, what + note))
    cached = decode().cache()
    _drain_graph(cached, raw, passes=1)
    warm = finish(shuffled(cached))
    images, seconds = _drain_graph(warm)
    rows.append(
        _stage(
            "warm: cached decoded -> shuffle, batch, scale",
            seconds,
            images,
            "a warm epoch's work after the first pass filled the cache" + note,
        )
    )
    images, seconds = _drain(warm)
    rows.append(
        _stage(
            "warm, iterated from Python",
            seconds,
            images,
            "the same, one Python loop step per batch",
        )
    )
    finished = full().cache()
    _drain(finished)
    images, seconds = _drain(finished)
    rows.append(
        _stage(
            "finished batches cached, iterated from Python",
            seconds,
            images,
            "no per-epoch work at all (and no reshuffle): the floor of any tf.data pipeline",
        )
    )
    return rows


@profile("W1")
def profile_w1(ctx: Context) -> list[dict]:
    return read_stages(ctx, ctx.data.sign_shards)


@profile("W3")
def profile_w3(ctx: Context) -> list[dict]:
    return read_stages(ctx, ctx.data.rgb_shards)


@profile("W4")
def profile_w4(ctx: Context) -> list[dict]:
    """One ``workers=1`` conversion with a clock around each stage function the converter calls.

    The converter's module-level names (``open_source``'s items, ``encode_batch``,
    ``Staging.append``, ``plan``, ``write_split``, ``pixel_stats``, ``finish``)
    are wrapped for this one call only. With ``workers=2`` only the encode
    stage runs in the worker processes; every other stage stays in the main
    process, so ``total - encode`` bounds what more workers can buy.
    """
    import importlib
    from unittest import mock

    conv = importlib.import_module("tfpipe.convert")
    source_name = ctx.params["source"]
    src = str(ctx.data.sign_images if source_name == "tree" else ctx.data.train_csv)
    out = ctx.data.root / "scratch" / f"profile-{source_name}"
    clock: dict[str, float] = {}

    def timing(stage, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                clock[stage] = clock.get(stage, 0.0) + time.perf_counter() - start

        return wrapper

    def timed_items(items):
        it = iter(items)
        while True:
            start = time.perf_counter()
            try:
                entry = next(it)
            except StopIteration:
                return
            finally:
                clock["list + parse source"] = (
                    clock.get("list + parse source", 0.0) + time.perf_counter() - start
                )
            yield entry

    original_open = conv.open_source

    def open_source(*args, **kwargs):
        source = original_open(*args, **kwargs)
        items = source.items
        source.items = lambda: timed_items(items())  # instance attribute: this call only
        return source

    class Staging(conv.Staging):
        append = timing("stage encoded bytes", conv.Staging.append)

    patches = {
        "open_source": open_source,
        "Staging": Staging,
        "encode_batch": timing("decode + validate + encode", conv.encode_batch),
        "plan": timing("split + dedup (plan)", conv.plan),
        "write_split": timing("write shards", conv.write_split),
        "pixel_stats": timing("pixel mean/std", conv.pixel_stats),
        "finish": timing("metadata + sha256 (finish)", conv.finish),
    }
    try:
        with contextlib.ExitStack() as stack:
            for name, value in patches.items():
                stack.enter_context(mock.patch.object(conv, name, value))
            info, total = timed(
                lambda: conv.convert(src, str(out), quiet=True, overwrite=True, workers=1)
            )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    n = sum(s.num_examples for s in info.splits.values()) + sum(info.quarantined.values())
    rows = [
        _stage(stage, seconds, n, f"{seconds / total:.0%} of the workers=1 call")
        for stage, seconds in clock.items()
    ]
    other = total - sum(clock.values())
    rows.append(
        _stage(
            "other (probe, prepare, process start)",
            max(other, 1e-9),
            n,
            f"{other / total:.0%} of the workers=1 call",
        )
    )
    serial = total - clock.get("decode + validate + encode", 0.0)
    rows.append(
        _stage(
            "main-process work (all but encode)",
            serial,
            n,
            "what stays serial with any number of workers: its images/s caps the call",
        )
    )
    rows.append(_stage("total, workers=1", total, n, ""))
    return rows
