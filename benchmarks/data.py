"""The benchmark data: generated once from :mod:`tfpipe.sample`, converted once, cached on disk.

Everything lives under one directory (``--data DIR``, default
``$TFPIPE_DATA_DIR/bench`` or ``tfrecords/bench``), keyed by size so that the
quick grid and the full grid never overwrite each other::

    bench/
      sample-full/                         tfpipe.sample.write(full=True): tree + CSV
        sign-language-img/Train/<A..Y>/*.jpg   27,455 28x28 grayscale JPEGs
        sign-language-img/Test/<A..Y>/*.jpg     7,172
        databasesLoadData/sign_mnist_train/sign_mnist_train.csv
      rgb-500x360x640/tom_and_jerry/<class>/*.jpg   2,000 RGB frames, 4 classes
      arrays-full.npz                      Train decoded once (the numpy ceilings)
      shards/sign-full/                    tfpipe.convert of the tree (train + test splits)
      shards/rgb-500x360x640-224x224/      tfpipe.convert(image_size=(224, 224)), JPEG

A directory counts as finished only when its ``.complete`` marker exists (or,
for shards, tfpipe's own sidecar): an interrupted generation is redone.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tfpipe import sample

MARKER = ".complete"
BATCH_SIZE = 128  # the course's batch size, used by every contender


@dataclass(frozen=True)
class Sizes:
    """How big each workload is; :data:`FULL` is the issue's grid, :data:`QUICK` a smoke-sized copy.

    Attributes:
        name: ``"full"`` or ``"quick"`` (shown in the report).
        train_per_class, test_per_class: sign-language images per letter;
            ``None`` means the course's real counts (27,455 train, 7,172 test).
        rgb_per_class, rgb_size: W3's RGB frames per class and their (H, W).
        rgb_read_size: the (H, W) W3 reads them at.
        fit_epochs: W2's ``model.fit`` epochs.
        warm_epochs: epochs timed after the first (cold) one; the median is reported.
        warm_budget_s: stop timing warm epochs once they took this long (at least one runs),
            so a slow peer does not stretch the full run by minutes.
        batch_size: batch size of every contender.
    """

    name: str
    train_per_class: int | None
    test_per_class: int | None
    rgb_per_class: int
    rgb_size: tuple[int, int]
    rgb_read_size: tuple[int, int]
    fit_epochs: int
    warm_epochs: int
    warm_budget_s: float
    batch_size: int = BATCH_SIZE

    @property
    def sign_key(self) -> str:
        if self.train_per_class is None:
            return "full"
        return f"pc{self.train_per_class}-{self.test_per_class}"

    @property
    def rgb_key(self) -> str:
        h, w = self.rgb_size
        return f"{self.rgb_per_class}x{h}x{w}"

    def as_dict(self) -> dict:
        return asdict(self)


FULL = Sizes(
    "full",
    None,
    None,
    rgb_per_class=500,
    rgb_size=(360, 640),
    rgb_read_size=(224, 224),
    fit_epochs=3,
    warm_epochs=3,
    warm_budget_s=30.0,
)
# 24 letters x 20 images, 200 frames of 90x160 read at 80x80 (still JPEG in the shards, as in
# the full grid: 80*80*3 is above tfpipe's raw-storage limit), one fit epoch.
QUICK = Sizes(
    "quick",
    20,
    5,
    rgb_per_class=50,
    rgb_size=(90, 160),
    rgb_read_size=(80, 80),
    fit_epochs=1,
    warm_epochs=1,
    warm_budget_s=0.0,
)


def default_root() -> Path:
    """``$TFPIPE_DATA_DIR/bench``, else ``tfrecords/bench`` (tfpipe's own default data root)."""
    from tfpipe.config import data_root

    return data_root() / "bench"


@dataclass(frozen=True)
class BenchData:
    """Paths of everything the workloads read; build it with :func:`prepare`."""

    root: Path
    sizes: Sizes
    sign_images: Path  # the folder holding Train/ and Test/ (ImageFolder's root)
    train_csv: Path
    rgb_dir: Path
    sign_shards: Path
    rgb_shards: Path
    arrays: Path

    @property
    def train_dir(self) -> Path:
        """What the course passes to ``flow_from_directory``: ``.../Train``."""
        return self.sign_images / "Train"

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """Train decoded: uint8 (N, 28, 28, 1) images, int64 labels, class names."""
        with np.load(self.arrays) as z:
            return z["x"], z["y"], tuple(str(c) for c in z["classes"])


def prepare(sizes: Sizes, root: str | os.PathLike | None = None, *, log=print) -> BenchData:
    """Generate (or find) every input of the grid for ``sizes`` and return their paths.

    The first full run writes about 35,000 small JPEGs, a 27,455-row CSV and
    2,000 640x360 frames and converts them; later runs find them in ``root``.
    """
    root = (Path(root) if root is not None else default_root()).resolve()
    root.mkdir(parents=True, exist_ok=True)
    sign_root = _cached(
        root / f"sample-{sizes.sign_key}",
        log,
        lambda d: sample.write(
            d,
            full=sizes.train_per_class is None,
            train_per_class=sizes.train_per_class or 0,
            test_per_class=sizes.test_per_class or 0,
            layouts=("tree", "csv"),
        ),
    )
    rgb_root = _cached(
        root / f"rgb-{sizes.rgb_key}",
        log,
        lambda d: sample.write(
            d, rgb_per_class=sizes.rgb_per_class, rgb_size=sizes.rgb_size, layouts=("rgb",)
        ),
    )
    tree = sample.SampleTree(sign_root)
    rgb = sample.SampleTree(rgb_root).rgb
    h, w = sizes.rgb_read_size
    data = BenchData(
        root=root,
        sizes=sizes,
        sign_images=tree.images,
        train_csv=tree.train_csv,
        rgb_dir=rgb,
        sign_shards=root / "shards" / f"sign-{sizes.sign_key}",
        rgb_shards=root / "shards" / f"rgb-{sizes.rgb_key}-{h}x{w}",
        arrays=root / f"arrays-{sizes.sign_key}.npz",
    )
    shards(data.sign_images, data.sign_shards, log=log)
    shards(data.rgb_dir, data.rgb_shards, image_size=sizes.rgb_read_size, log=log)
    if not data.arrays.is_file():
        log(f"decoding {data.train_dir} into {data.arrays}")
        x, y, classes = decode_tree(data.train_dir)
        tmp = data.arrays.with_suffix(".tmp.npz")
        np.savez(tmp, x=x, y=y, classes=np.array(classes))
        os.replace(tmp, data.arrays)
    return data


def prewarm(data: BenchData) -> float:
    """Read every input file once, untimed; returns the seconds it took.

    "Cold" in the report means "nothing cached by the pipeline", never "the
    OS has not seen the files": without this pass the first contender would
    pay for the file system's metadata and page caches and the next ones
    would not.
    """
    import time

    start = time.perf_counter()
    for top in (
        data.sign_images,
        data.rgb_dir,
        data.sign_shards,
        data.rgb_shards,
        data.train_csv.parent,
    ):
        for path in sorted(top.rglob("*")):
            if path.is_file():
                with open(path, "rb") as fh:
                    while fh.read(1 << 20):
                        pass
    return time.perf_counter() - start


def shards(src: Path, out: Path, *, log=print, **options):
    """``tfpipe.convert(src, out)`` unless ``out`` is already a finished dataset; its DatasetInfo."""
    from tfpipe.format import SIDECAR, load_info

    if (out / SIDECAR).is_file():
        return load_info(out)
    import tfpipe

    log(f"converting {src} into {out}")
    return tfpipe.convert(src, out, quiet=True, workers=2, overwrite=True, **options)


def decode_tree(folder: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Every image under ``folder/<class>/`` decoded with Pillow, classes in sorted order."""
    from PIL import Image

    classes = tuple(sorted(p.name for p in folder.iterdir() if p.is_dir()))
    images, labels = [], []
    for index, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            with Image.open(io.BytesIO(path.read_bytes())) as img:
                images.append(np.asarray(img.convert("L")))
            labels.append(index)
    x = np.stack(images)[..., None]
    return x, np.asarray(labels, np.int64), classes


def _cached(directory: Path, log, write) -> Path:
    if (directory / MARKER).is_file():
        return directory
    if directory.exists():
        shutil.rmtree(directory)  # an interrupted generation: start over
    log(f"writing sample data into {directory}")
    write(directory)
    (directory / MARKER).write_text(json.dumps({"complete": True}) + "\n")
    return directory
