"""Sources: one module per input format, each listing :class:`Item` s.

:func:`open_source` detects the format (or takes ``fmt``) and returns a
ready :class:`Source`. JSON files are told apart by their content, because
the course names both its URL list and its base64 file ``data.json``.
"""

from __future__ import annotations

import json
import os
import zipfile

from ..errors import TfpipeError
from .base import Item, Source, read_payload

FORMATS = ("folder", "zip", "csv", "json-urls", "json-base64", "jsonl-base64", "npz", "keras", "url")

__all__ = ["FORMATS", "Item", "Source", "detect_format", "open_source", "read_payload"]


def detect_format(source: str) -> str:
    """Name the format of ``source`` from its shape and content."""
    if source.startswith("keras:"):
        return "keras"
    if "://" in source:
        return "url"
    if not os.path.exists(source):
        raise TfpipeError(f"source {source} does not exist")
    if os.path.isdir(source):
        return "folder"
    lower = source.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".npz"):
        return "npz"
    if lower.endswith((".json", ".jsonl", ".ndjson")):
        return _sniff_json(source)
    if zipfile.is_zipfile(source):
        return "zip"
    raise TfpipeError(
        f"cannot tell the format of {source}; pass --format (one of {', '.join(FORMATS)})"
    )


def _sniff_json(path: str) -> str:
    with open(path, "rb") as fh:
        first = next((line.strip() for line in iter(lambda: fh.readline(1 << 20), b"") if line.strip()), b"")
    if not first:
        raise TfpipeError(f"{path} is empty")
    lines = path.lower().endswith((".jsonl", ".ndjson"))
    try:
        record = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        # Not one object per line: one document, the {"label": "<base64>"} shape.
        return "jsonl-base64" if lines else "json-base64"
    if isinstance(record, dict):
        if "content" in record:
            return "json-urls"
        if lines or ("image" in record and "label" in record):
            return "jsonl-base64"
        return "json-base64"
    if lines:
        return "jsonl-base64"  # a bad first line is that line's problem, not the file's
    raise TfpipeError(f"{path}: expected JSON objects, found {type(record).__name__}")


def open_source(source: str, fmt: str | None = None, *, config=None) -> Source:
    """Build the Source for ``source``.

    Args:
        source: path, ``keras:NAME`` or a URL of a zip.
        fmt: one of :data:`FORMATS`; detected when None.
        config: the :class:`~tfpipe.config.ConvertConfig` (label column, timeouts...).
    """
    fmt = fmt or detect_format(source)
    if fmt not in FORMATS:
        raise TfpipeError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt not in ("keras", "url"):
        if not os.path.exists(source):
            raise TfpipeError(f"source {source} does not exist")
        if fmt != "folder" and not os.path.isfile(source):
            raise TfpipeError(f"--format {fmt} needs a file, and {source} is not one")
    insecure = bool(config and config.insecure)
    if fmt == "folder":
        from .tree import FolderSource

        if not os.path.isdir(source):
            raise TfpipeError(f"{source} is not a directory")
        return FolderSource(source)
    if fmt == "zip":
        from .tree import ZipSource

        return ZipSource(source)
    if fmt == "url":
        return _download_zip(source, insecure)
    if fmt == "csv":
        from .table import CsvSource

        return CsvSource(source, label_column=config.label_column if config else "label")
    if fmt == "json-urls":
        from .urls import UrlListSource

        return UrlListSource(source, verify=not insecure)
    if fmt == "json-base64":
        from .b64json import Base64JsonSource

        return Base64JsonSource(source)
    if fmt == "jsonl-base64":
        from .b64json import Base64LinesSource

        return Base64LinesSource(source)
    if fmt == "npz":
        from .arrays import NpzSource

        return NpzSource(source)
    from .arrays import KerasSource

    return KerasSource(source, insecure=insecure)


def _download_zip(url: str, insecure: bool) -> Source:
    """An ``http(s)://`` URL of a zip: download once into the cache, then read it in place."""
    from ..download import check_url, download_file, zip_cache_path
    from ..errors import Rejected
    from .tree import ZipSource

    try:
        check_url(url)
    except Rejected as rej:
        raise TfpipeError(f"{url}: {rej.detail}") from None
    dest = zip_cache_path(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    path = download_file(url, dest, insecure=insecure)
    return ZipSource(str(path))
