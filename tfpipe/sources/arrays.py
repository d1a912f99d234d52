"""Numpy arrays: ``.npz`` files and the Keras datasets (``keras:mnist``, ``keras:cifar100``).

An ``.npz`` holds ``x_train``/``y_train`` and optionally ``x_test``/``y_test``
(and ``x_val``/``y_val``), or just ``x``/``y``. Images are uint8 (N, H, W) or
(N, H, W, C); labels (N,) or (N, 1), as ``keras.datasets`` returns them.

Keras datasets are downloaded by :mod:`tfpipe.download` (timeouts, retries,
checksums) into Keras's own cache, ``~/.keras/datasets``; offline, the error
names the URL and where to put a copy. ``TFPIPE_KERAS_MIRROR`` replaces the
origin's base URL (a mirror, or a loopback server in tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import Rejected, TfpipeError
from .base import Item, Source

_PAIRS = (("x_train", "y_train", "train"), ("x_val", "y_val", "validation"),
          ("x_test", "y_test", "test"), ("x", "y", None))

KERAS_DATASETS = {
    # name: (origin, file name in ~/.keras/datasets, sha256)
    "mnist": (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        "mnist.npz",
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    ),
    "cifar100": (
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "cifar-100-python.tar.gz",
        "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
    ),
}


def keras_cache_path(dataset: str) -> Path:
    """Where Keras (and so ``keras:NAME``) keeps the file of ``dataset``: ``~/.keras/datasets``."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "datasets" / KERAS_DATASETS[dataset][1]


@dataclass
class NpzSource(Source):
    kind: str = "npz"

    def items(self) -> Iterator[Item | tuple[str, str | None, Rejected]]:
        base = os.path.basename(self.path)
        with np.load(self.path, allow_pickle=False) as npz:
            found = False
            for xk, yk, split in _PAIRS:
                if xk not in npz.files:
                    continue
                if yk not in npz.files:
                    raise TfpipeError(f"{self.path} has {xk} but no {yk}")
                found = True
                x, y = npz[xk], np.asarray(npz[yk]).reshape(-1)
                yield from array_items(x, y, split, f"{base}:{xk}", f"{self.path}:{xk}")
            if not found:
                raise TfpipeError(
                    f"{self.path} holds {', '.join(npz.files) or 'nothing'}; expected x_train/y_train "
                    "(and x_test/y_test) or x/y"
                )


def array_items(x: np.ndarray, y: np.ndarray, split: str | None, key: str, origin: str) -> Iterator[Item]:
    if len(x) != len(y):
        raise TfpipeError(f"{origin}: {len(x)} images but {len(y)} labels")
    if x.dtype != np.uint8:
        raise TfpipeError(f"{origin}: images have dtype {x.dtype}; expected uint8 pixels")
    for i in range(len(x)):
        label = y[i].item()
        label = int(label) if isinstance(label, (int, np.integer)) else str(label)
        yield Item(key=f"{key}[{i}]", origin=f"{origin}[{i}]", label=label, split=split, payload=x[i])


@dataclass
class KerasSource(Source):
    """``keras:mnist`` or ``keras:cifar100`` (``keras:cifar100:coarse`` for the 20 super-classes)."""

    kind: str = "keras"
    insecure: bool = False

    def __post_init__(self) -> None:
        parts = self.path.split(":")
        self.dataset = parts[1] if len(parts) > 1 else ""
        self.label_mode = parts[2] if len(parts) > 2 else "fine"
        if self.dataset not in KERAS_DATASETS:
            raise TfpipeError(f"unknown Keras dataset {self.path!r}; use keras:mnist or keras:cifar100")

    def default_name(self) -> str:
        return self.dataset

    def local_file(self) -> Path:
        origin, fname, sha = KERAS_DATASETS[self.dataset]
        dest = keras_cache_path(self.dataset)
        if dest.exists():
            return dest
        mirror = os.environ.get("TFPIPE_KERAS_MIRROR")
        url = f"{mirror.rstrip('/')}/{fname}" if mirror else origin
        from ..download import download_file

        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            return download_file(url, dest, sha256=sha if not mirror else None, insecure=self.insecure)
        except TfpipeError as exc:
            raise TfpipeError(
                f"{exc} -- to work offline, download {origin} and put it at {dest} "
                "(or set TFPIPE_KERAS_MIRROR to a server that has it)"
            ) from None

    def items(self) -> Iterator[Item | tuple[str, str | None, Rejected]]:
        path = self.local_file()
        if self.dataset == "mnist":
            yield from NpzSource(str(path)).items()
            return
        for split, (x, y) in zip(("train", "test"), _load_cifar100(path, self.label_mode)):
            yield from array_items(x, y.reshape(-1), split, f"cifar100:{split}", f"{path}:{split}")


def _load_cifar100(path: Path, label_mode: str):
    """Read CIFAR-100 from its tarball the way keras.datasets.cifar100 does (python pickles).

    The tarball is the official one, checked against its sha256 before use.
    """
    import pickle
    import tarfile

    key = {"fine": b"fine_labels", "coarse": b"coarse_labels"}.get(label_mode)
    if key is None:
        raise TfpipeError(f"cifar100 label mode {label_mode!r}: use fine or coarse")
    with tarfile.open(path, "r:gz") as tar:
        for member in ("cifar-100-python/train", "cifar-100-python/test"):
            fh = tar.extractfile(member)
            if fh is None:
                raise TfpipeError(f"{path} has no {member}")
            batch = pickle.load(fh, encoding="bytes")  # noqa: S301 - checksummed official file
            x = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            yield x, np.asarray(batch[key])
