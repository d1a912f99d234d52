"""CSV files of pixel rows: ``label,pixel1,...,pixelN`` (Sign Language MNIST, Fashion-MNIST, ...).

The image side is inferred from N (784 -> 28x28, 64 -> 8x8; 3*s*s -> s x s RGB).
Rows are streamed with the ``csv`` module, never loaded whole, and cleaned
one by one: wrong column count, missing cells, non-numeric cells (the course's
``fwefew``) and values outside 0..255 are rejected with the file line number
and the column. Exact duplicate rows are caught later by the pixel-hash dedup
(:mod:`tfpipe.split`), which names the row they duplicate.
"""

from __future__ import annotations

import csv
import functools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import Rejected, TfpipeError
from .base import Item, Source


def infer_shape(num_pixels: int) -> tuple[int, ...]:
    side = math.isqrt(num_pixels)
    if side * side == num_pixels:
        return (side, side)
    side = math.isqrt(num_pixels // 3)
    if 3 * side * side == num_pixels:
        return (side, side, 3)
    raise TfpipeError(
        f"{num_pixels} pixel columns do not form a square image (s*s or s*s*3); "
        "is --label-column right?"
    )


@dataclass
class CsvSource(Source):
    kind: str = "csv"
    label_column: str = "label"

    def _header(self) -> list[str]:
        with open(self.path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            header = next(csv.reader(fh), None)
        if not header:
            raise TfpipeError(f"{self.path} is empty; expected a header like label,pixel1,...")
        header = [h.strip() for h in header]
        if self.label_column not in header:
            raise TfpipeError(
                f"{self.path} has no column {self.label_column!r} (columns: "
                f"{', '.join(header[:4])}, ...); pass --label-column"
            )
        return header

    def count(self) -> int:
        with open(self.path, "rb") as fh:
            return max(sum(1 for _ in fh) - 1, 0)

    def items(self) -> Iterator[Item | tuple[str, str | None, Rejected]]:
        header = self._header()
        label_at = header.index(self.label_column)
        shape = infer_shape(len(header) - 1)
        base = os.path.basename(self.path)
        with open(self.path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.reader(fh)
            next(reader)
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # e.g. a field over csv.field_size_limit()
                    yield f"{self.path}:line {reader.line_num}", None, Rejected("bad row", str(exc))
                    continue
                line = reader.line_num
                origin = f"{self.path}:line {line}"
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    yield origin, None, Rejected("wrong column count", f"{len(row)} columns, expected {len(header)}")
                    continue
                try:
                    label = _label(row[label_at].strip())
                except Rejected as rej:
                    yield origin, None, rej
                    continue
                # The pixels are parsed where they are decoded: in the worker processes.
                pixels = CsvPixels(",".join(row[:label_at] + row[label_at + 1 :]), shape,
                                   self.path, self.label_column)
                yield Item(key=f"{base}:line {line}", origin=origin, label=label, split=None, payload=pixels)


@dataclass(frozen=True)
class CsvPixels:
    """One row's pixel cells, joined by commas: parsed and checked by :meth:`read`, in a worker."""

    cells: str
    shape: tuple[int, ...]
    path: str
    label_column: str

    def read(self) -> np.ndarray:
        cells = self.cells.split(",")
        try:
            values = np.array(cells, dtype=np.float64)
        except ValueError:
            names = _pixel_names(self.path, self.label_column)
            for name, cell in zip(names, cells):
                if not cell.strip():
                    raise Rejected("missing cell", f"empty cell in column {name}") from None
                try:
                    float(cell)
                except ValueError:
                    raise Rejected("non-numeric cell", f"non-numeric cell {cell.strip()!r} in column {name}") from None
            raise
        bad = np.flatnonzero((values < 0) | (values > 255) | (values != np.round(values)) | ~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            name = _pixel_names(self.path, self.label_column)[i]
            raise Rejected("out of range", f"value {cells[i].strip()} in column {name} is not an integer in 0..255")
        return values.astype(np.uint8).reshape(self.shape)


@functools.lru_cache(maxsize=8)
def _pixel_names(path: str, label_column: str) -> list[str]:
    """Column names of the pixels, for error messages (read once per process, only on an error)."""
    header = CsvSource(path, label_column=label_column)._header()
    return [h for h in header if h != label_column]


def _label(text: str) -> str | int:
    """Integer-looking labels are class indices ("3", "3.0"); anything else is a class name."""
    if not text:
        raise Rejected("missing cell", "empty cell in column label")
    try:
        number = float(text)
    except ValueError:
        return text
    if number.is_integer() and number >= 0:
        return int(number)
    raise Rejected("bad label", f"label {text!r} is not a class index or name")
