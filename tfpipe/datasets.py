"""The course's datasets by name: downloaded once, converted once, loaded as tf.data.

::

    data = tfpipe.datasets.sign_language()          # or source="sign-language-img.zip" offline
    model = tfpipe.models.base_mlp(data.input_shape, data.num_classes)
    model.fit(data.train, validation_data=data.validation, epochs=20)
    model.evaluate(data.test)

Each function runs the same three steps, each skipped when already done:

1. **get** the archive: ``source=`` (a local zip or folder) wins; else ``url=``,
   else the dataset's environment variable (for a mirror), else the course's
   URL, downloaded once into the cache (``$TFPIPE_CACHE_DIR``, see
   :func:`tfpipe.download.cache_dir`). Offline, this fails within seconds with
   a one-line :class:`TfpipeError` that says what to download and how to pass it.
2. **convert** it with :func:`tfpipe.convert` into ``data_dir/<name>``
   (``data_dir`` defaults to ``$TFPIPE_DATA_DIR`` or ``tfrecords/``), then
   verify it (when :mod:`tfpipe.verify` is installed). A finished folder is
   reused as is, without touching the network; non-default split options get
   their own folder (``sign_language-val0.1-seed7``), so they never mix.
3. **load** each split with :func:`tfpipe.load`: ``train`` shuffled,
   ``validation`` and ``test`` in a fixed order, neither augmented nor repeated.

Every dataset, its URL, checksum, image size and split policy is in :data:`DATASETS`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .config import data_root
from .errors import Rejected, TfpipeError
from .format import SIDECAR, DatasetInfo, load_info
from .sources.arrays import KERAS_DATASETS, keras_cache_path

if TYPE_CHECKING:
    import tensorflow as tf

BUCKET = "https://storage.googleapis.com/platzi-tf2"
# Offline must fail in seconds: a short connect timeout and one retry (a
# refused or unresolvable host fails at once; a black-holed one in ~2 x 3 s).
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 60.0
RETRIES = 1
RATIOS_70_15_15 = "train=70,validation=15,test=15"
# Options of tfpipe.load that only make sense for training data.
TRAIN_ONLY = {"shuffle": False, "augment": None, "repeat": False}


@dataclass(frozen=True)
class DatasetSpec:
    """Where a named dataset comes from and how it is converted.

    Attributes:
        url: what the course downloads (for Keras datasets, Keras's origin).
        sha256: expected digest of that file, or None when unknown.
        env: environment variable that replaces ``url`` (a mirror).
        image_size: (H, W) images are resized to at conversion; None keeps them as stored.
        channels: 1 (grayscale) or 3 (RGB); None keeps them as stored.
        split: ratios used when the source has no Train/Test folders (stratified).
        validation_split: share carved into ``validation`` from ``validation_from``.
        validation_from: ``"train"`` or ``"test"``.
        keras: the ``keras:NAME`` source the downloaded file feeds, for Keras datasets.
        labels_url: a JSON list of class names to fetch (CIFAR-100's fine labels).
    """

    url: str
    sha256: str | None
    env: str
    image_size: tuple[int, int] | None
    channels: int | None
    split: str | None
    validation_split: float | None
    validation_from: str
    keras: str | None = None
    labels_url: str | None = None

    @property
    def filename(self) -> str:
        return os.path.basename(urlsplit(self.url).path)


# The one table of named datasets.
DATASETS: dict[str, DatasetSpec] = {
    # Train/ and Test/ folders, 28x28 grayscale; validation = 20% of Test, as in the course.
    "sign_language": DatasetSpec(
        url=f"{BUCKET}/sign-language-img.zip",
        sha256=None,
        env="TFPIPE_SIGN_LANGUAGE_URL",
        image_size=None,
        channels=1,
        split=None,
        validation_split=0.2,
        validation_from="test",
    ),
    # Class-per-folder RGB trees with no split folders: 70/15/15 stratified (or, if a zip
    # turns out to have Train/Test folders, those, with 15% of train as validation).
    "malaria": DatasetSpec(
        url=f"{BUCKET}/MalariaCells.zip",
        sha256=None,
        env="TFPIPE_MALARIA_URL",
        image_size=(64, 64),
        channels=3,
        split=RATIOS_70_15_15,
        validation_split=0.15,
        validation_from="train",
    ),
    "tumor": DatasetSpec(
        url=f"{BUCKET}/TumorClassification.zip",
        sha256=None,
        env="TFPIPE_TUMOR_URL",
        image_size=(128, 128),
        channels=3,
        split=RATIOS_70_15_15,
        validation_split=0.15,
        validation_from="train",
    ),
    "tom_and_jerry": DatasetSpec(
        url=f"{BUCKET}/TomAndJerry.zip",
        sha256=None,
        env="TFPIPE_TOM_AND_JERRY_URL",
        image_size=(72, 128),
        channels=3,
        split=RATIOS_70_15_15,
        validation_split=0.15,
        validation_from="train",
    ),
    # Keras datasets: train/test as Keras ships them; validation = 10% of train.
    "mnist": DatasetSpec(
        url=KERAS_DATASETS["mnist"][0],
        sha256=KERAS_DATASETS["mnist"][2],
        env="TFPIPE_MNIST_URL",
        image_size=None,
        channels=1,
        split=None,
        validation_split=0.1,
        validation_from="train",
        keras="keras:mnist",
    ),
    "cifar100": DatasetSpec(
        url=KERAS_DATASETS["cifar100"][0],
        sha256=KERAS_DATASETS["cifar100"][2],
        env="TFPIPE_CIFAR100_URL",
        image_size=None,
        channels=3,
        split=None,
        validation_split=0.1,
        validation_from="train",
        keras="keras:cifar100",
        labels_url=f"{BUCKET}/cifar100_labels.json",
    ),
}
CIFAR100_LABELS_ENV = "TFPIPE_CIFAR100_LABELS_URL"


@dataclass(frozen=True)
class Loaded:
    """A named dataset, ready for ``model.fit``.

    Attributes:
        train: shuffled batches of ``(images, labels)`` from :func:`tfpipe.load`.
        validation: unshuffled batches, or None when the dataset has no validation split.
        test: unshuffled batches, or None when the dataset has no test split.
        info: the converted dataset's :class:`~tfpipe.format.DatasetInfo` (path, counts...).
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    test: tf.data.Dataset | None
    info: DatasetInfo

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @property
    def input_shape(self) -> tuple[int, ...]:
        """(H, W, C) of one image as the datasets yield it (after any load-time resize)."""
        return tuple(self.train.element_spec[0].shape[1:])


# --------------------------------------------------------------------------- public


def sign_language(
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 128,
    *,
    url: str | None = None,
    source: str | os.PathLike | None = None,
    validation_split: float | None = 0.2,
    seed: int = 42,
    convert_options: Mapping | None = None,
    **load_options,
) -> Loaded:
    """The course's main project: 24 sign-language letters (A..Y without J), 28x28 grayscale.

    The archive, ``sign-language-img.zip``, holds::

        sign-language-img/
          Train/A/*.jpg ... Train/Y/*.jpg     27,455 images
          Test/A/*.jpg  ... Test/Y/*.jpg       7,172 images

    ``validation`` is a stratified ``validation_split`` share of Test, as in the
    course (``ImageDataGenerator(validation_split=0.2)`` on the Test folder),
    but ``test`` is the rest of Test, so the two are DISJOINT. The course's own
    test generator reads the whole Test folder, so its test set contains its
    validation images and its test accuracy is not measured on unseen data.

    Args:
        data_dir: root folder of converted datasets; this one goes in
            ``data_dir/sign_language`` (default root: ``$TFPIPE_DATA_DIR`` or ``tfrecords``).
        batch_size: batch size of all three datasets.
        url: download from here instead of the course bucket (or set
            ``$TFPIPE_SIGN_LANGUAGE_URL``).
        source: a local copy, the zip or its extracted folder; no download.
        validation_split: share of Test moved into validation; None or 0 for none.
        seed: seed of the validation carve and of the train shuffle.
        convert_options: extra :func:`tfpipe.convert` options (``workers``,
            ``quiet``, ``overwrite``...).
        **load_options: passed to :func:`tfpipe.load` (``image_size``,
            ``label_mode``, ``augment``...); ``shuffle``, ``augment`` and
            ``repeat`` apply to train only.

    Returns:
        :class:`Loaded` with ``train``, ``validation``, ``test``, ``class_names``,
        ``num_classes``, ``input_shape`` and ``info``.

    Raises:
        TfpipeError: no source and no network, a bad archive, or bad options.
    """
    spec = DATASETS["sign_language"]
    folder = _folder(
        "sign_language", val=(validation_split, spec.validation_split), seed=(seed, 42)
    )
    return _named(
        "sign_language",
        folder,
        data_dir,
        batch_size,
        url,
        source,
        seed,
        convert_options,
        load_options,
        validation_split=validation_split,
    )


def malaria(
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 128,
    *,
    url: str | None = None,
    source: str | os.PathLike | None = None,
    image_size: tuple[int, int] = (64, 64),
    seed: int = 42,
    convert_options: Mapping | None = None,
    **load_options,
) -> Loaded:
    """The course's malaria cells (``MalariaCells.zip``): parasitized vs uninfected, RGB.

    Cells are small crops of varying size, resized to 64x64 RGB at conversion.
    The zip is a class-per-folder tree without split folders, so it is split
    70/15/15 (train/validation/test), stratified by class; a zip with
    Train/Test folders keeps them and gives 15% of train to validation.

    Args and Returns: as :func:`sign_language` (``image_size`` replaces
    ``validation_split``; env var ``TFPIPE_MALARIA_URL``).
    """
    return _rgb(
        "malaria",
        data_dir,
        batch_size,
        url,
        source,
        image_size,
        seed,
        convert_options,
        load_options,
    )


def tumor(
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 128,
    *,
    url: str | None = None,
    source: str | os.PathLike | None = None,
    image_size: tuple[int, int] = (128, 128),
    seed: int = 42,
    convert_options: Mapping | None = None,
    **load_options,
) -> Loaded:
    """The course's brain-tumour scans (``TumorClassification.zip``), one folder per class.

    Scans are resized to 128x128 RGB (64x64 loses the lesions). Split as
    :func:`malaria`. Args and Returns: as :func:`malaria` (env var ``TFPIPE_TUMOR_URL``).
    """
    return _rgb(
        "tumor", data_dir, batch_size, url, source, image_size, seed, convert_options, load_options
    )


def tom_and_jerry(
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 128,
    *,
    url: str | None = None,
    source: str | os.PathLike | None = None,
    image_size: tuple[int, int] = (72, 128),
    seed: int = 42,
    convert_options: Mapping | None = None,
    **load_options,
) -> Loaded:
    """The course's Tom and Jerry frames (``TomAndJerry.zip``): jerry, tom, both, neither.

    Frames are 16:9 video stills, resized to 72x128 RGB to keep their shape.
    Split as :func:`malaria`. Args and Returns: as :func:`malaria` (env var
    ``TFPIPE_TOM_AND_JERRY_URL``).
    """
    return _rgb(
        "tom_and_jerry",
        data_dir,
        batch_size,
        url,
        source,
        image_size,
        seed,
        convert_options,
        load_options,
    )


def mnist(
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 128,
    *,
    url: str | None = None,
    source: str | os.PathLike | None = None,
    validation_split: float | None = 0.1,
    seed: int = 42,
    convert_options: Mapping | None = None,
    **load_options,
) -> Loaded:
    """MNIST digits, as ``tf.keras.datasets.mnist.load_data()`` has them (60,000 + 10,000, 28x28).

    The file (``mnist.npz``) is downloaded into Keras's own cache
    (``~/.keras/datasets``); ``validation`` is ``validation_split`` of train.

    Args:
        source: a local ``mnist.npz`` (``x_train``, ``y_train``, ``x_test``, ``y_test``).
        url: a mirror of ``mnist.npz`` (or set ``$TFPIPE_MNIST_URL``).
        others: as :func:`sign_language`.
    """
    spec = DATASETS["mnist"]
    folder = _folder("mnist", val=(validation_split, spec.validation_split), seed=(seed, 42))
    return _named(
        "mnist",
        folder,
        data_dir,
        batch_size,
        url,
        source,
        seed,
        convert_options,
        load_options,
        validation_split=validation_split,
    )


def cifar100(
    data_dir: str | os.PathLike | None = None,
    batch_size: int = 128,
    *,
    label_mode: str = "fine",
    url: str | None = None,
    source: str | os.PathLike | None = None,
    validation_split: float | None = 0.1,
    seed: int = 42,
    convert_options: Mapping | None = None,
    **load_options,
) -> Loaded:
    """CIFAR-100 as ``tf.keras.datasets.cifar100.load_data(label_mode=...)`` has it (32x32 RGB).

    Class names: for ``"fine"``, the course's ``cifar100_labels.json`` from its
    bucket (``$TFPIPE_CIFAR100_LABELS_URL`` overrides), or, if that cannot be
    fetched, the same 100 names built in; for ``"coarse"``, the 20 super-classes.

    Args:
        label_mode: ``"fine"`` (100 classes) or ``"coarse"`` (20), as in Keras.
            The reader's label encoding is then ``load_label_mode=`` ("categorical" or "int").
        source: a local ``cifar-100-python.tar.gz`` (copied into Keras's cache) or an
            ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test``.
        url: a mirror of ``cifar-100-python.tar.gz`` (or set ``$TFPIPE_CIFAR100_URL``).
        others: as :func:`sign_language`.
    """
    if label_mode not in ("fine", "coarse"):
        raise TfpipeError(
            f"cifar100: label_mode {label_mode!r} is not fine or coarse (as in Keras); "
            "for the reader's label encoding pass load_label_mode='int' or 'categorical'"
        )
    if "load_label_mode" in load_options:
        load_options["label_mode"] = load_options.pop("load_label_mode")
    spec = DATASETS["cifar100"]
    folder = _folder(
        "cifar100",
        labels=(label_mode, "fine"),
        val=(validation_split, spec.validation_split),
        seed=(seed, 42),
    )
    return _named(
        "cifar100",
        folder,
        data_dir,
        batch_size,
        url,
        source,
        seed,
        convert_options,
        load_options,
        validation_split=validation_split,
        label_mode=label_mode,
    )


# --------------------------------------------------------------------------- steps


def _rgb(
    name, data_dir, batch_size, url, source, image_size, seed, convert_options, load_options
) -> Loaded:
    spec = DATASETS[name]
    try:
        size = tuple(int(v) for v in image_size)
    except (TypeError, ValueError):
        raise TfpipeError(f"image_size: {image_size!r} must be two integers (H, W)") from None
    folder = _folder(name, size=(size, spec.image_size), seed=(seed, 42))
    return _named(
        name,
        folder,
        data_dir,
        batch_size,
        url,
        source,
        seed,
        convert_options,
        load_options,
        validation_split=spec.validation_split,
        image_size=size,
    )


def _named(
    name: str,
    folder: str,
    data_dir,
    batch_size: int,
    url: str | None,
    source,
    seed: int,
    convert_options: Mapping | None,
    load_options: dict,
    *,
    validation_split: float | None,
    image_size: tuple[int, int] | None = None,
    label_mode: str = "fine",
) -> Loaded:
    """Get, convert (once), verify and load dataset ``name`` from ``data_dir/folder``."""
    spec = DATASETS[name]
    options = dict(convert_options or {})
    out = Path(data_dir if data_dir is not None else data_root()) / folder
    if (out / SIDECAR).is_file() and not options.get("overwrite"):
        info = load_info(out)  # converted before: no download, no conversion
        _check_reuse(name, info, options, source)
    else:
        progress = options.get("progress", True) and not options.get("quiet", False)
        src = (
            _local_source(name, spec, source)
            if source is not None
            else _download(name, spec, url, progress)
        )
        if src == spec.keras and label_mode == "coarse":
            src += ":coarse"
        conversion = dict(
            name=name,
            image_size=image_size or spec.image_size,
            channels=spec.channels,
            seed=seed,
            **_split_options(spec, src, validation_split),
        )
        if name == "cifar100":
            conversion["class_names"] = cifar100_class_names(label_mode, progress=progress)
        conversion.update(options)
        from .convert import convert

        info = convert(src, out, **conversion)
        _verify(name, out)
    return _loaded(out, info, batch_size, seed, load_options)


def _local_source(name: str, spec: DatasetSpec, source) -> str:
    """A user's local copy: a zip or folder, or for Keras datasets the Keras file."""
    path = Path(source)
    if not path.exists():
        raise TfpipeError(
            f"{name}: source {path} does not exist; give the downloaded {spec.filename} or its folder"
        )
    if spec.keras and path.is_file() and path.name.endswith(".tar.gz"):
        # The tarball is not a tfpipe format; the keras: source reads it from Keras's cache.
        dest = _keras_cache(spec)
        if not dest.is_file() or dest.stat().st_size != path.stat().st_size:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        return spec.keras
    return str(path)


def _check_reuse(name: str, info: DatasetInfo, options: Mapping, source=None) -> None:
    """A finished folder is reused only if it is what ``source`` and ``convert_options`` ask for."""
    from .convert import describe_source

    if source is not None and describe_source(str(source)) != info.source:
        raise TfpipeError(
            f"{name}: {info.path} was converted from {info.source}, not {describe_source(str(source))}; "
            "pass convert_options={'overwrite': True} to convert the new source, or another data_dir"
        )
    stored = {
        "encoding": info.image.encoding,
        "channels": info.image.channels,
        "image_size": (info.image.height, info.image.width),
        "class_names": info.class_names,
    }
    for key, have in stored.items():
        want = options.get(key)
        if want is not None and (tuple(want) if isinstance(want, (list, tuple)) else want) != have:
            raise TfpipeError(
                f"{name}: {info.path} was converted with {key}={have!r}, not {want!r}; "
                "pass convert_options={..., 'overwrite': True} to convert it again"
            )


def _download(name: str, spec: DatasetSpec, url: str | None, progress: bool) -> str:
    """Download the dataset's file once (cache hit: no request); return the source to convert."""
    from .download import download_file, http_session, zip_cache_path

    url = url or os.environ.get(spec.env) or spec.url
    sha256 = spec.sha256 if url == spec.url else None  # a mirror may repackage the file
    # The same cache path as `tfpipe.convert URL`, so either one reuses the other's download.
    dest = _keras_cache(spec) if spec.keras else zip_cache_path(url, spec.filename)
    try:
        with http_session(retries=RETRIES, backoff=0.2) as session:
            download_file(
                url,
                dest,
                sha256=sha256,
                session=session,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                progress=progress,
            )
    except TfpipeError as exc:
        original = "" if url == spec.url else f" (the original: {spec.url})"
        raise TfpipeError(
            f"{name}: {exc}: tfpipe.datasets.{name}(source='path/to/{spec.filename}'){original}, "
            f"or set {spec.env} to a mirror's URL of {spec.filename}"
        ) from None
    return spec.keras or str(dest)


def _keras_cache(spec: DatasetSpec) -> Path:
    """Where the ``keras:`` source looks for its file (Keras's own cache)."""
    return keras_cache_path(spec.keras.split(":")[1])


def _split_options(spec: DatasetSpec, source: str, validation_split: float | None) -> dict:
    """Convert options for the splits: the source's Train/Test folders if it has both, else ratios."""
    carve = {"validation_split": validation_split or None, "validation_from": spec.validation_from}
    if spec.split is None:
        return carve
    found = _source_splits(source)
    if {"train", "test"} <= found:
        return {} if "validation" in found else carve
    return {"split": spec.split}


def _source_splits(source: str) -> set[str]:
    """The split folders (Train/Test/...) an image tree or zip has, from its listing alone."""
    from .sources import Item, open_source

    return {it.split for it in open_source(source).items() if isinstance(it, Item) and it.split}


def _verify(name: str, path: Path) -> None:
    """Check the fresh dataset; a failed one is un-finished, so the next call converts again."""
    from .verify import verify

    problems = verify(str(path))
    if problems:
        (path / SIDECAR).unlink(missing_ok=True)
        raise TfpipeError(
            f"{name}: {path} failed verification ({len(problems)} problem(s), first: {problems[0]}); "
            "the next call converts it again"
        )


def _loaded(
    path: Path, info: DatasetInfo, batch_size: int, seed: int, load_options: dict
) -> Loaded:
    from .read import load

    unknown = {"split", "path"} & set(load_options)
    if unknown:
        raise TfpipeError(
            f"unexpected option(s) {', '.join(sorted(unknown))}: named datasets load every split"
        )
    train_options = {"seed": seed, **load_options}
    eval_options = {**train_options, **TRAIN_ONLY}
    splits = {
        split: load(
            str(path),
            split=split,
            batch_size=batch_size,
            **(train_options if split == "train" else eval_options),
        )
        for split in ("train", "validation", "test")
        if split in info.splits
    }
    if "train" not in splits:
        raise TfpipeError(f"{path} has no train split (it has {', '.join(info.splits)})")
    return Loaded(splits["train"], splits.get("validation"), splits.get("test"), info)


def _folder(name: str, **choices: tuple) -> str:
    """``name``, plus a tag per option that differs from its default: ``sign_language-val0.1``."""
    tags = []
    for key, (value, default) in choices.items():
        if value != default:
            shown = "x".join(map(str, value)) if isinstance(value, tuple) else str(value or 0)
            tags.append(f"{key}{shown}")
    return "-".join([name, *tags])


# --------------------------------------------------------------------------- CIFAR-100 names


def cifar100_class_names(label_mode: str = "fine", *, progress: bool = True) -> tuple[str, ...]:
    """CIFAR-100 class names in label-id order.

    ``"fine"``: the course's ``cifar100_labels.json`` (a JSON list of 100
    names, or an object id -> name), fetched with a short timeout; if it cannot
    be fetched or is malformed, the built-in :data:`CIFAR100_FINE` (the same
    names). ``"coarse"``: :data:`CIFAR100_COARSE`.
    """
    if label_mode == "coarse":
        return CIFAR100_COARSE
    from .download import fetch, http_session

    url = os.environ.get(CIFAR100_LABELS_ENV) or DATASETS["cifar100"].labels_url
    try:
        with http_session(retries=RETRIES, backoff=0.2) as session:
            body = fetch(session, url, timeout=(CONNECT_TIMEOUT, 10.0), max_bytes=1024**2)
        return _parse_names(json.loads(body), len(CIFAR100_FINE))
    except (Rejected, ValueError, TypeError) as exc:
        if progress:
            print(f"cifar100: using built-in class names ({exc})", file=sys.stderr)
        return CIFAR100_FINE


def _parse_names(doc, count: int) -> tuple[str, ...]:
    if isinstance(doc, dict):
        if all(isinstance(v, int) for v in doc.values()):  # {"apple": 0, ...}
            doc = {str(v): k for k, v in doc.items()}
        doc = [doc[k] for k in sorted(doc, key=int)]
    names = tuple(str(n).strip() for n in doc)
    if len(names) != count or len(set(names)) != count or not all(names):
        raise ValueError(f"expected {count} unique names, got {len(names)}")
    return names


CIFAR100_FINE: tuple[str, ...] = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
    "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
    "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
    "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
    "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
    "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
    "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
    "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip
CIFAR100_COARSE: tuple[str, ...] = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
)  # fmt: skip

__all__ = [
    "DATASETS", "DatasetSpec", "Loaded", "cifar100", "cifar100_class_names", "malaria", "mnist",
    "sign_language", "tom_and_jerry", "tumor",
]  # fmt: skip
