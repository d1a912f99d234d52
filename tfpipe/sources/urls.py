"""A JSON-lines list of image URLs with labels (the course's ``json-urls`` format).

One object per line; blank lines are ignored::

    {"content": "https://host/img_mnist/29_B.jpg", "label": "b"}
    {"content": "https://host/img_mnist/30_C.jpg", "label": "c"}

Images are downloaded concurrently through one pooled session, yielded in file
order (so output does not depend on which server answered first), and cached on
disk by URL so a rerun makes no request at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import requests

from ..download import (
    DEFAULT_TIMEOUT,
    MAX_IMAGE_BYTES,
    Timeout,
    cache_dir,
    check_url,
    fetch_image,
    http_session,
)
from ..errors import Rejected, TfpipeError
from .base import Item, Source

log = logging.getLogger(__name__)

# What items() hands on: an Item, or (origin, split, Rejected) for the converter to quarantine.
Result = Item | tuple[str, None, Rejected]


class _Line(NamedTuple):
    """A well-formed line, before its image is downloaded."""

    key: str
    origin: str
    label: str | int
    url: str


class UrlListSource(Source):
    """Images listed by URL in a JSON-lines file.

    Args:
        path: the ``.jsonl``/``.json`` file, read line by line.
        workers: download threads (and pooled connections).
        timeout: ``(connect, read)`` seconds per request; the read timeout is
            also the wall-clock limit for a whole image.
        max_bytes: largest image accepted.
        verify: check TLS certificates; ``False`` only when the user says so.
        cache: where downloaded images are kept; ``cache_dir() / "urls"`` by default.

    Raises:
        TfpipeError: ``path`` is not a file, or ``workers`` is below 1.
    """

    kind = "json-urls"

    def __init__(
        self,
        path: str,
        *,
        workers: int = 16,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_bytes: int = MAX_IMAGE_BYTES,
        verify: bool = True,
        cache: Path | None = None,
    ):
        super().__init__(path=str(path), kind=type(self).kind)
        if not Path(self.path).is_file():
            raise TfpipeError(f"{self.path}: no such file (expected a JSON-lines list of URLs)")
        if workers < 1:
            raise TfpipeError(f"workers: {workers!r} must be at least 1")
        self.workers = workers
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.verify = verify
        self.cache = Path(cache) if cache is not None else cache_dir() / "urls"
        self._cache_warned = False

    def count(self) -> int:
        """Non-blank lines: one Item or one rejection each."""
        with open(self.path, "rb") as fh:
            return sum(1 for line in fh if line.strip())

    def items(self) -> Iterator[Result]:
        """Yield one result per non-blank line, in file order.

        At most ``4 * workers`` downloads are in flight: enough to keep every
        thread busy while a slow URL holds the head of the line, without
        reading the whole list into memory.
        """
        try:
            self.cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TfpipeError(
                f"cannot create the download cache {self.cache}: {exc.strerror}"
            ) from None
        window: deque[Future[Result] | tuple[str, None, Rejected]] = deque()
        session = http_session(verify=self.verify, pool_size=self.workers)
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="tfpipe-url")
        try:
            for entry in self._entries():
                if isinstance(entry, _Line):
                    entry = pool.submit(self._download, session, entry)
                window.append(entry)
                if len(window) >= 4 * self.workers:
                    yield _result(window.popleft())
            while window:
                yield _result(window.popleft())
        finally:
            # Reached early when the consumer stops: drop queued downloads.
            pool.shutdown(wait=True, cancel_futures=True)
            session.close()

    def _entries(self) -> Iterator[_Line | tuple[str, None, Rejected]]:
        """Parse the file lazily, one line at a time; nothing is fetched here."""
        base = Path(self.path).name
        with open(self.path, "rb") as fh:
            for n, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                origin = f"{self.path}:line {n}"
                try:
                    url, label = _parse(raw)
                except Rejected as exc:
                    yield (origin, None, exc)
                    continue
                origin = f"{origin} {url}"
                try:
                    check_url(url)  # a file:// line must never reach a worker
                except Rejected as exc:
                    yield (origin, None, exc)
                    continue
                yield _Line(f"{base}:line {n}", origin, label, url)

    def _download(self, session: requests.Session, line: _Line) -> Result:
        """Runs in a worker thread: cached bytes, or a fresh download, or a rejection."""
        cached = self.cache / hashlib.sha256(line.url.encode()).hexdigest()
        try:
            data = cached.read_bytes()
        except OSError:  # usually not cached yet; an unreadable entry is just a miss
            try:
                data = fetch_image(
                    session, line.url, timeout=self.timeout, max_bytes=self.max_bytes
                )
            except Rejected as exc:
                return (line.origin, None, exc)
            self._store(cached, data)
        return Item(key=line.key, origin=line.origin, label=line.label, split=None, payload=data)

    def _store(self, cached: Path, data: bytes) -> None:
        """Write a verified image to the cache; readers never see a partial file."""
        tmp = cached.with_name(f"{cached.name}.part-{secrets.token_hex(4)}")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, cached)
        except OSError as exc:
            # The bytes in hand are fine; a cache that cannot be written only
            # costs a re-download next run, so say so once and go on.
            tmp.unlink(missing_ok=True)
            if not self._cache_warned:
                self._cache_warned = True
                log.warning("cannot write the download cache %s: %s", self.cache, exc.strerror)


def _parse(raw: bytes) -> tuple[str, str | int]:
    """``(url, label)`` from one line, or a Rejected saying what is wrong with it."""
    try:
        obj = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both
        raise Rejected("malformed line", f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise Rejected("malformed line", 'expected an object like {"content": URL, "label": NAME}')
    url, label = obj.get("content"), obj.get("label")
    if not isinstance(url, str) or not url:
        raise Rejected("malformed line", 'missing "content" (the image URL)')
    # bool is an int to Python, but true/false is not a class label.
    if isinstance(label, bool) or not isinstance(label, (str, int)) or label == "":
        raise Rejected("malformed line", f'missing or invalid "label" in line for {url}')
    return url, label


def _result(entry: Future[Result] | tuple[str, None, Rejected]) -> Result:
    return entry.result() if isinstance(entry, Future) else entry
