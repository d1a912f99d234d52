"""JSON with base64-encoded images.

Two shapes, both from the course:

* one object mapping a label to a base64 JPEG, or to a list of them:
  ``{"b": "/9j/4AAQSkZJRg...", "c": ["/9j/...", "/9j/..."]}``
  (this shape is a single JSON document, so it is parsed whole);
* JSON lines ``{"label": "b", "image": "/9j/..."}``, streamed line by line.

Invalid base64 is rejected with the key or line it came from; bytes that
decode but are not an image are rejected later by :mod:`tfpipe.images`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import Rejected, TfpipeError
from .base import Item, Source


def decode_b64(text: object) -> bytes:
    if not isinstance(text, str):
        raise Rejected("invalid base64", f"expected a base64 string, got {type(text).__name__}")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejected("invalid base64", f"invalid base64: {exc}") from None


def check_label(label: object) -> None:
    """Labels are class names (str) or class indices (non-negative int)."""
    if isinstance(label, bool) or not isinstance(label, (str, int)) or (isinstance(label, int) and label < 0):
        raise Rejected("bad label", f"label {label!r} is not a class name or index")


@dataclass
class Base64JsonSource(Source):
    """``{"label": "<base64>" | ["<base64>", ...]}``."""

    kind: str = "json-base64"

    def items(self) -> Iterator[Item | tuple[str, str | None, Rejected]]:
        base = os.path.basename(self.path)
        try:
            with open(self.path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise TfpipeError(f"{self.path} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise TfpipeError(f'{self.path}: expected an object {{"label": "<base64>", ...}}')
        for label in sorted(doc):
            value = doc[label]
            values = value if isinstance(value, list) else [value]
            for i, text in enumerate(values):
                where = f"{label}[{i}]" if isinstance(value, list) else label
                origin = f"{self.path}:key {where}"
                try:
                    payload = decode_b64(text)
                except Rejected as rej:
                    yield origin, None, rej
                    continue
                yield Item(key=f"{base}:{where}", origin=origin, label=label, split=None, payload=payload)


@dataclass
class Base64LinesSource(Source):
    """JSON lines ``{"label": ..., "image": "<base64>"}``."""

    kind: str = "jsonl-base64"

    def count(self) -> int:
        with open(self.path, "rb") as fh:
            return sum(1 for line in fh if line.strip())

    def items(self) -> Iterator[Item | tuple[str, str | None, Rejected]]:
        base = os.path.basename(self.path)
        with open(self.path, "rb") as fh:
            for n, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                origin = f"{self.path}:line {n}"
                try:
                    record = json.loads(raw.decode("utf-8"))
                    if not isinstance(record, dict) or "image" not in record or "label" not in record:
                        raise Rejected("bad record", 'expected {"label": ..., "image": "<base64>"}')
                    check_label(record["label"])
                    payload = decode_b64(record["image"])
                except UnicodeDecodeError:
                    yield origin, None, Rejected("bad record", "line is not UTF-8")
                    continue
                except json.JSONDecodeError as exc:
                    yield origin, None, Rejected("bad record", f"invalid JSON: {exc.msg}")
                    continue
                except RecursionError:
                    yield origin, None, Rejected("bad record", "JSON nested too deeply")
                    continue
                except Rejected as rej:
                    yield origin, None, rej
                    continue
                yield Item(key=f"{base}:line {n}", origin=origin, label=record["label"], split=None, payload=payload)
