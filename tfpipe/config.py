"""Conversion options as one self-validating dataclass.

Every check happens in ``__post_init__`` and fails with a :class:`TfpipeError`
that names the option and the bad value, so the CLI and the Python API
reject exactly the same things with exactly the same one-line message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ON_ERROR_CHOICES, TfpipeError, check_choice
from .format import ENCODINGS

SPLIT_NAMES = ("train", "validation", "test")


def data_root() -> Path:
    """Where datasets live by default: ``$TFPIPE_DATA_DIR`` or ``./tfrecords``."""
    return Path(os.environ.get("TFPIPE_DATA_DIR", "tfrecords"))


def parse_split_spec(spec: str | dict | None) -> dict[str, float] | None:
    """``"train=70,validation=15,test=15"`` -> ``{"train": 0.7, ...}`` (percent or fractions).

    Raises:
        TfpipeError: unknown split name, non-number, negative part, or a total
            that is neither 100 nor 1.
    """
    if spec is None or spec == "":
        return None
    if isinstance(spec, str):
        parts = {}
        for chunk in spec.split(","):
            name, sep, value = chunk.partition("=")
            name = name.strip()
            if not sep:
                raise TfpipeError(f"--split: {chunk!r} is not NAME=PERCENT (e.g. train=70,test=30)")
            try:
                parts[name] = float(value)
            except ValueError:
                raise TfpipeError(f"--split: {value!r} for {name} is not a number") from None
        spec = parts
    for name, value in spec.items():
        check_choice("--split", name, SPLIT_NAMES)
        if value < 0:
            raise TfpipeError(f"--split: {name}={value} is negative")
    total = sum(spec.values())
    if abs(total - 100) < 1e-6:
        spec = {k: v / 100 for k, v in spec.items()}
    elif abs(total - 1) > 1e-6:
        raise TfpipeError(f"--split: parts add up to {total:g}, not 100 (or 1)")
    if spec.get("train", 0) <= 0:
        raise TfpipeError("--split: train must get a positive share")
    return {k: v for k, v in spec.items() if v > 0}


def dataset_name(text: str) -> str:
    """A TFDS-style dataset name: lower case, digits and underscores."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"ds_{name}" if name else "dataset"
    return name


@dataclass(frozen=True)
class ConvertConfig:
    """Options of ``tfpipe.convert`` / ``python -m tfpipe.convert`` (see ``--help``)."""

    source: str
    out_dir: str | None = None
    name: str | None = None
    format: str | None = None
    image_size: tuple[int, int] | None = None
    channels: int | None = None
    encoding: str | None = None
    split: dict[str, float] | None = None
    validation_split: float | None = None
    validation_from: str = "train"
    seed: int = 42
    workers: int = field(default_factory=lambda: min(os.cpu_count() or 1, 8))
    on_error: str = "quarantine"
    overwrite: bool = False
    label_column: str = "label"
    class_names: tuple[str, ...] | None = None
    insecure: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        if not self.source:
            raise TfpipeError("source: give a folder, zip, csv, json, npz, keras:NAME or URL")
        if self.image_size is not None:
            size = tuple(int(v) for v in self.image_size)
            if len(size) != 2 or min(size) < 1:
                raise TfpipeError(f"--image-size: {self.image_size} must be two positive integers H W")
            set_("image_size", size)
        if self.channels is not None:
            check_choice("--channels", self.channels, (1, 3))
        if self.encoding is not None:
            check_choice("--encoding", self.encoding, ENCODINGS)
        set_("split", parse_split_spec(self.split))
        if self.validation_split is not None and not 0 < self.validation_split < 1:
            raise TfpipeError(f"--validation-split: {self.validation_split} must be between 0 and 1")
        check_choice("validation_from", self.validation_from, ("train", "test"))
        if self.split and self.validation_split:
            raise TfpipeError("--split and --validation-split cannot be combined; put validation in --split")
        if int(self.workers) < 1:
            raise TfpipeError(f"--workers: {self.workers} must be at least 1")
        check_choice("--on-error", self.on_error, ON_ERROR_CHOICES)
        if isinstance(self.class_names, str):
            set_("class_names", tuple(n.strip() for n in self.class_names.split(",") if n.strip()))
        if self.class_names is not None and len(set(self.class_names)) != len(self.class_names):
            raise TfpipeError("--class-names: names must be unique")
        if self.name is not None:
            set_("name", dataset_name(self.name))
        if self.out_dir is not None and os.path.isfile(self.out_dir):
            raise TfpipeError(f"--out: {self.out_dir} is a file, not a directory")
