"""Synthetic data in every layout the course uses: the testing and demo toolkit.

``write(root)`` lays out, deterministically (same arguments, same bytes)::

    root/
      sign-language-img/Train/<A..Y>/<n>.jpg     28x28 grayscale JPEGs, 24 letters (no J, Z)
      sign-language-img/Test/<A..Y>/<n>.jpg
      sign-language-img.zip                      the same tree, zipped as the course ships it
      img_mnist/<n>_<L>.jpg                      the files the URL list points at
      databasesLoadData/
        sign_mnist_json/data.json                JSON lines {"content": URL, "label": "b"}
        sign_mnist_base64/data.json              {"b": "<base64 jpeg>", ...}
        sign_mnist_train/sign_mnist_train.csv    label,pixel1..pixel784
        sign_mnist_train/sign_mnist_train_clean.csv   dirty: duplicated rows and a "fwefew" cell
        sign_mnist_test/sign_mnist_test.csv
      tom_and_jerry/<class>/<n>.jpg              RGB frames in 4 classes

Every class is visibly different (a bright block whose place depends on the
class, over noise), so a small model learns it: tests can check accuracy.
``full=True`` writes the real sizes, 27,455 train and 7,172 test images.

Run ``python -m tfpipe.sample DIR [--per-class N]`` to write it from a shell.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

LETTERS = tuple("ABCDEFGHIKLMNOPQRSTUVWXY")  # 24 classes: no J, no Z
CSV_LABELS = tuple(i for i in range(25) if i != 9)  # the CSV's label ids: letter index, J (9) absent
FULL_TRAIN, FULL_TEST = 27_455, 7_172
RGB_CLASSES = ("jerry", "tom", "tom_jerry_0", "tom_jerry_1")
DEFAULT_URL_BASE = "https://storage.googleapis.com/platzi-tf2"
# Where the course's dirty CSV has its problems (pandas row indices).
DIRTY_DUPLICATES = (317, 487, 595, 689, 802, 861)
DIRTY_FWEFEW = 727


@dataclass(frozen=True)
class SampleTree:
    """Paths of everything :func:`write` produced."""

    root: Path

    @property
    def images(self) -> Path:
        return self.root / "sign-language-img"

    @property
    def zip(self) -> Path:
        return self.root / "sign-language-img.zip"

    @property
    def url_list(self) -> Path:
        return self.root / "databasesLoadData/sign_mnist_json/data.json"

    @property
    def base64_json(self) -> Path:
        return self.root / "databasesLoadData/sign_mnist_base64/data.json"

    @property
    def train_csv(self) -> Path:
        return self.root / "databasesLoadData/sign_mnist_train/sign_mnist_train.csv"

    @property
    def dirty_csv(self) -> Path:
        return self.root / "databasesLoadData/sign_mnist_train/sign_mnist_train_clean.csv"

    @property
    def test_csv(self) -> Path:
        return self.root / "databasesLoadData/sign_mnist_test/sign_mnist_test.csv"

    @property
    def rgb(self) -> Path:
        return self.root / "tom_and_jerry"


def letter_image(cls: int, index: int, size: int = 28) -> np.ndarray:
    """A (size, size) uint8 image of class ``cls`` (0..23); ``index`` varies noise and jitter."""
    rng = np.random.default_rng([cls, index, 7])
    img = rng.integers(0, 70, (size, size)).astype(np.int16)
    row, col = divmod(cls, 6)  # 4 x 6 grid of places
    cell = size // 6
    y = 2 + row * (size - 4) // 4 + int(rng.integers(-1, 2))
    x = 1 + col * cell + int(rng.integers(-1, 2))
    y, x = max(y, 0), max(x, 0)
    img[y : y + cell + 1, x : x + cell] += int(rng.integers(150, 186))
    return np.clip(img, 0, 255).astype(np.uint8)


def rgb_image(cls: int, index: int, height: int, width: int) -> np.ndarray:
    """(height, width, 3) uint8 frame: a coloured disc per class at a random place, over noise."""
    rng = np.random.default_rng([cls, index, 11])
    img = rng.integers(0, 80, (height, width, 3)).astype(np.int16)
    colour = np.array([(200, 60, 40), (50, 80, 200), (60, 190, 70), (210, 200, 50)][cls % 4])
    r = min(height, width) // 4
    cy, cx = int(rng.integers(r, height - r)), int(rng.integers(r, width - r))
    yy, xx = np.ogrid[:height, :width]
    img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = colour
    return np.clip(img, 0, 255).astype(np.uint8)


def jpeg(pixels: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _counts(total: int, classes: int) -> list[int]:
    base, extra = divmod(total, classes)
    return [base + (1 if c < extra else 0) for c in range(classes)]


def write(
    root: str | os.PathLike,
    *,
    train_per_class: int = 20,
    test_per_class: int = 5,
    full: bool = False,
    rgb_per_class: int = 6,
    rgb_size: tuple[int, int] = (90, 160),
    url_base: str = DEFAULT_URL_BASE,
    layouts: tuple[str, ...] = ("tree", "zip", "urls", "base64", "csv", "rgb"),
) -> SampleTree:
    """Write the sample layouts under ``root`` and return their paths.

    Args:
        train_per_class, test_per_class: images per letter (ignored when ``full``).
        full: the course's real counts, 27,455 train and 7,172 test.
        rgb_per_class, rgb_size: the Tom-and-Jerry-like RGB tree (H, W).
        url_base: base of the URLs in the JSON URL list (point it at a loopback server).
        layouts: which of tree, zip, urls, base64, csv, rgb to write.
    """
    tree = SampleTree(Path(root))
    tree.root.mkdir(parents=True, exist_ok=True)
    n_classes = len(LETTERS)
    train = _counts(FULL_TRAIN, n_classes) if full else [train_per_class] * n_classes
    test = _counts(FULL_TEST, n_classes) if full else [test_per_class] * n_classes
    if "tree" in layouts or "zip" in layouts:
        _write_tree(tree, train, test, zipped="zip" in layouts)
    if "urls" in layouts:
        _write_urls(tree, url_base)
    if "base64" in layouts:
        path = tree.base64_json
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {L.lower(): base64.b64encode(jpeg(letter_image(c, 10_000))).decode() for c, L in enumerate(LETTERS)}
        path.write_text(json.dumps(doc))
    if "csv" in layouts:
        _write_csvs(tree, sum(train), sum(test))
    if "rgb" in layouts:
        for c, name in enumerate(RGB_CLASSES):
            folder = tree.rgb / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(rgb_per_class):
                (folder / f"frame_{i:05d}.jpg").write_bytes(jpeg(rgb_image(c, i, *rgb_size), 90))
    return tree


def _write_tree(tree: SampleTree, train: list[int], test: list[int], zipped: bool) -> None:
    zf = zipfile.ZipFile(tree.zip, "w", zipfile.ZIP_STORED) if zipped else None
    try:
        for split, counts, offset in (("Train", train, 0), ("Test", test, 1_000_000)):
            for c, letter in enumerate(LETTERS):
                folder = tree.images / split / letter
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(counts[c]):
                    data = jpeg(letter_image(c, offset + i))
                    name = f"{split}/{letter}/{i:05d}.jpg"
                    (tree.images / name).write_bytes(data)
                    if zf is not None:
                        info = zipfile.ZipInfo(f"sign-language-img/{name}", date_time=(2020, 1, 1, 0, 0, 0))
                        zf.writestr(info, data)
    finally:
        if zf is not None:
            zf.close()


def _write_urls(tree: SampleTree, url_base: str) -> None:
    folder = tree.root / "img_mnist"
    folder.mkdir(parents=True, exist_ok=True)
    tree.url_list.parent.mkdir(parents=True, exist_ok=True)
    with open(tree.url_list, "w") as fh:
        for n in range(2 * len(LETTERS)):
            c = n % len(LETTERS)
            name = f"{n}_{LETTERS[c]}.jpg"
            (folder / name).write_bytes(jpeg(letter_image(c, 20_000 + n)))
            fh.write(json.dumps({"content": f"{url_base}/img_mnist/{name}", "label": LETTERS[c].lower()}) + "\n")


def _csv_rows(total: int, offset: int):
    counts = _counts(total, len(LETTERS))
    rows = []
    for c, n in enumerate(counts):
        rows += [(c, offset + i) for i in range(n)]
    # interleave classes the way the Kaggle CSV is shuffled, deterministically
    order = np.random.default_rng(3).permutation(len(rows))
    for k in order:
        c, i = rows[k]
        yield [CSV_LABELS[c], *letter_image(c, i).reshape(-1).tolist()]


def _write_csvs(tree: SampleTree, n_train: int, n_test: int) -> None:
    header = ["label"] + [f"pixel{i}" for i in range(1, 785)]
    for path, total, offset in ((tree.train_csv, n_train, 2_000_000), (tree.test_csv, n_test, 3_000_000)):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(_csv_rows(total, offset))
    # The dirty copy: the first rows of train, with the course's problems at its indices
    # (scaled down to fit when the sample is small).
    clean = list(_csv_rows(min(n_train, 1000), 2_000_000))
    n = len(clean)
    scale = lambda i: i * n // 1000  # noqa: E731
    dup_at = sorted({scale(i) for i in DIRTY_DUPLICATES})
    bad_at = scale(DIRTY_FWEFEW)
    rows = []
    for i, row in enumerate(clean):
        row = list(row)
        if i == bad_at:
            row[1] = "fwefew"
        rows.append(row)
        if i in dup_at:
            rows.append(list(row))
    with open(tree.dirty_csv, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tfpipe.sample", description=__doc__.split("\n")[0])
    p.add_argument("root", help="directory to write into")
    p.add_argument("--per-class", type=int, default=200, help="train images per letter (test: a quarter)")
    p.add_argument("--full", action="store_true", help="the course's full sizes (27,455 + 7,172)")
    p.add_argument("--url-base", default=DEFAULT_URL_BASE)
    args = p.parse_args(argv)
    tree = write(args.root, train_per_class=args.per_class, test_per_class=max(args.per_class // 4, 1),
                 full=args.full, url_base=args.url_base)
    print(f"sample written to {tree.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
