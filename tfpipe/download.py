"""All HTTP in tfpipe: one session recipe, one bounded fetch, one big-file download.

Two callers, two error styles (see :mod:`tfpipe.errors`):

* :func:`fetch` / :func:`fetch_image` get *one input* (an image URL). Whatever
  goes wrong -- a 404, a timeout, a TLS failure, 30 MB of HTML -- becomes a
  :class:`Rejected` with a countable category, so the converter quarantines it
  and goes on.
* :func:`download_file` gets something the run cannot do without (a dataset
  zip). Failure is a :class:`TfpipeError`: one line naming the URL and the cause.

Every request is bounded: a scheme allow-list checked before any I/O, a
(connect, read) timeout, a wall-clock deadline on the body, and a byte cap.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import ssl
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from .errors import Rejected, TfpipeError

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
MAX_IMAGE_BYTES = 20 * 1024**2
RETRY_STATUSES = (429, 500, 502, 503, 504)
# urllib3 honours Retry-After up to 6 hours by default: one hostile or confused
# server could park a worker thread for the whole run.
RETRY_AFTER_MAX = 30
CHUNK_BYTES = 64 * 1024

Timeout = float | tuple[float, float]  # (connect, read) seconds, or one number for both

try:
    __version__ = metadata.version("tfpipe")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"


def check_url(url: str) -> None:
    """Refuse anything but http(s) before any I/O happens.

    ``file://`` would read local files and ``ftp://`` would open sockets that
    none of our limits cover, so both are rejected here, not by requests.

    Raises:
        Rejected: category ``"bad url"``.
    """
    scheme = urlsplit(url).scheme.lower() if isinstance(url, str) else ""
    if scheme not in ALLOWED_SCHEMES:
        shown = f"scheme {scheme}://" if scheme else "no scheme"
        raise Rejected("bad url", f"{url!r}: {shown}; only http:// and https:// URLs are fetched")


def http_session(
    *, retries: int = 3, backoff: float = 0.5, verify: bool = True, pool_size: int = 16
) -> requests.Session:
    """A Session that retries transient failures and pools connections.

    Args:
        retries: retries per request, for connect errors, read errors and the
            statuses 429/500/502/503/504 (GET and HEAD only: they are idempotent).
        backoff: urllib3 backoff factor; sleeps grow as ``backoff * 2**(n-1)``.
        verify: check TLS certificates. Turning it off is the caller's
            explicit, visible choice (``--insecure``).
        pool_size: connections kept per host; match the number of threads
            sharing the session, or connections get thrown away.

    Returns:
        A ``requests.Session``; close it (or use it as a context manager).
    """
    retry = urllib3.util.Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        # A certificate that fails verification will fail again: do not retry
        # "other" errors (TLS, protocol), only connect/read/status ones.
        other=0,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods={"GET", "HEAD"},
        # Hand back the last 503 instead of raising, so the caller reports the status.
        raise_on_status=False,
        respect_retry_after_header=True,
        retry_after_max=RETRY_AFTER_MAX,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.verify = verify
    session.headers["User-Agent"] = f"tfpipe/{__version__}"
    return session


def fetch(
    session: requests.Session,
    url: str,
    *,
    timeout: Timeout = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_IMAGE_BYTES,
) -> bytes:
    """GET ``url`` and return its body, within every limit.

    The whole body must arrive within the read timeout (``timeout[1]``) as a
    wall-clock deadline: the per-read timeout alone never fires on a server
    that trickles one byte a second. A server that stalls *before* its headers
    is bounded by the read timeout per attempt, times ``1 + retries`` attempts.

    Args:
        session: from :func:`http_session`.
        url: an http(s) URL.
        timeout: ``(connect, read)`` seconds, or one number for both.
        max_bytes: largest body accepted.

    Returns:
        The body bytes (not checked to be an image; see :func:`fetch_image`).

    Raises:
        Rejected: ``"bad url"``, ``"http <status>"``, ``"too large"``,
            ``"timeout"``, ``"tls error"`` or ``"connection error"``; the
            detail names the URL.
    """
    return _get(session, url, timeout=timeout, max_bytes=max_bytes)[0]


def fetch_image(
    session: requests.Session,
    url: str,
    *,
    timeout: Timeout = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_IMAGE_BYTES,
) -> bytes:
    """:func:`fetch`, then :func:`require_image` on the body.

    Raises:
        Rejected: as :func:`fetch`, or ``"not an image"``.
    """
    data, content_type = _get(session, url, timeout=timeout, max_bytes=max_bytes)
    require_image(data, url, content_type=content_type)
    return data


def _get(
    session: requests.Session, url: str, *, timeout: Timeout, max_bytes: int
) -> tuple[bytes, str | None]:
    """Body and Content-Type of one bounded GET; every failure is a Rejected."""
    check_url(url)
    started = time.monotonic()
    try:
        # verify is passed per request because requests lets $REQUESTS_CA_BUNDLE
        # override a session-level verify=False or CA path (psf/requests#3829).
        with session.get(url, stream=True, timeout=timeout, verify=session.verify) as resp:
            if not 200 <= resp.status_code < 300:
                raise Rejected(f"http {resp.status_code}", f"HTTP {resp.status_code} from {url}")
            _check_declared_length(resp, url, max_bytes)
            chunks = _stream(resp, url, max_bytes, deadline=started + _read_timeout(timeout))
            return b"".join(chunks), resp.headers.get("Content-Type")
    except requests.RequestException as exc:
        category, cause = _classify(exc)
        raise Rejected(category, f"cannot fetch {url}: {cause}") from exc


def _read_timeout(timeout: Timeout) -> float:
    return timeout[1] if isinstance(timeout, tuple) else timeout


def _check_declared_length(resp: requests.Response, url: str, max_bytes: int | None) -> None:
    """Refuse an oversized body from its header alone, before reading a byte of it."""
    declared = resp.headers.get("Content-Length", "")
    if max_bytes is not None and declared.isdigit() and int(declared) > max_bytes:
        raise Rejected("too large", f"{url} declares {declared} bytes, over the cap of {max_bytes}")


def _stream(
    resp: requests.Response, url: str, max_bytes: int | None, deadline: float | None
) -> Iterator[bytes]:
    """Yield body chunks, stopping at the byte cap and the wall-clock deadline.

    Reads with ``raw.read1`` (whatever one socket read returns) rather than
    ``iter_content``, which blocks until a whole chunk has arrived and so would
    never look at the clock while a server trickles.

    Raises:
        Rejected: ``"too large"`` or ``"timeout"``.
        requests.RequestException: network failures, for the caller to classify.
    """
    total = 0
    while True:
        try:
            # requests asks urllib3 not to decode; decoding here, bounded by
            # CHUNK_BYTES per call, keeps a gzip bomb under the byte cap too.
            chunk = resp.raw.read1(CHUNK_BYTES, decode_content=True)
        except urllib3.exceptions.HTTPError as exc:
            # Body reads bypass requests' own exception wrapping.
            raise requests.ConnectionError(exc) from exc
        if not chunk:
            return
        total += len(chunk)
        if max_bytes is not None and total > max_bytes:
            raise Rejected("too large", f"{url} sent more than the cap of {max_bytes} bytes")
        if deadline is not None and time.monotonic() > deadline:
            raise Rejected("timeout", f"{url} did not finish sending its body in time")
        yield chunk


def _classify(exc: BaseException) -> tuple[str, str]:
    """Map a requests/urllib3 failure to ``(category, human cause)``.

    requests wraps urllib3 errors inside each other (a refused connection is a
    ConnectionError holding a MaxRetryError holding a NewConnectionError caused
    by ConnectionRefusedError), so look at the whole chain, not the outer type.
    """
    chain = _chain(exc)

    def has(*types: type) -> BaseException | None:
        return next((e for e in chain if isinstance(e, types)), None)

    if has(requests.exceptions.SSLError, urllib3.exceptions.SSLError, ssl.SSLError):
        verify = has(ssl.SSLCertVerificationError)
        reason = f" ({verify.verify_message})" if verify else ""
        return (
            "tls error",
            f"TLS verification failed{reason}; if you trust this server, pass "
            "verify=False (--insecure) explicitly to skip certificate checks",
        )
    if has(requests.exceptions.RetryError):
        # Only reached with raise_on_status=True sessions; keep the status countable.
        status = re.search(r"too many (\d{3}) error", str(exc))
        if status:
            return f"http {status.group(1)}", f"HTTP {status.group(1)} after retries"
        return "connection error", "gave up after retries"
    if has(requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema):
        return "bad url", "not a valid http(s) URL"
    if has(requests.exceptions.TooManyRedirects):
        return "connection error", "too many redirects"
    if has(ConnectionRefusedError):
        return "connection error", "connection refused"
    if has(urllib3.exceptions.NameResolutionError):
        return "connection error", "cannot resolve the host name"
    timeout = has(
        requests.exceptions.Timeout,
        urllib3.exceptions.ReadTimeoutError,
        urllib3.exceptions.ConnectTimeoutError,
        TimeoutError,
    )
    if timeout and not isinstance(timeout, urllib3.exceptions.NewConnectionError):
        connecting = has(requests.exceptions.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError)
        return "timeout", "timed out connecting" if connecting else "timed out waiting for data"
    return "connection error", str(chain[-1]) or type(chain[-1]).__name__


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps, outermost first."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        err = todo.pop()
        if any(err is s for s in seen):
            continue
        seen.append(err)
        inner = [getattr(err, "reason", None), err.__cause__, err.__context__]
        inner += [a for a in err.args if isinstance(a, BaseException)]
        todo.extend(e for e in reversed(inner) if isinstance(e, BaseException))
    return seen


# Magic numbers at the start of each format we decode; the server's
# Content-Type is never trusted (CDNs label error pages "image/jpeg").
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)


def sniff_image(data: bytes) -> str | None:
    """Name the image format from magic bytes: jpeg, png, gif, bmp, tiff, webp, or None."""
    head = bytes(data[:16])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def require_image(data: bytes, url: str, *, content_type: str | None = None) -> str:
    """Return the sniffed format of ``data``, or reject it.

    Raises:
        Rejected: ``"not an image"``, naming the URL, the size and what the
            server claimed the content was.
    """
    kind = sniff_image(data)
    if kind is None:
        raise Rejected(
            "not an image",
            f"{url} returned {len(data)} bytes that are not an image "
            f"(server said Content-Type: {content_type or 'none'})",
        )
    return kind


def cache_dir() -> Path:
    """Where downloads are kept between runs: ``$TFPIPE_CACHE_DIR`` or ``~/.cache/tfpipe``."""
    env = os.environ.get("TFPIPE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tfpipe"


def zip_cache_path(url: str, fallback_name: str = "download.zip") -> Path:
    """Where a downloaded archive is cached: one place, so every caller reuses the others' files."""
    name = os.path.basename(urlsplit(url).path) or fallback_name
    return cache_dir() / "zips" / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{name}"


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    max_bytes: int | None = None,
    session: requests.Session | None = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    progress: bool = True,
    insecure: bool = False,
) -> Path:
    """Download a big file (a dataset zip) to ``dest``, atomically and verified.

    A ``dest`` that already exists (with the right checksum, when one is given)
    is returned without touching the network. Otherwise the body streams to
    ``dest.name + ".part-<random>"`` beside ``dest``, hashed on the way, and is
    renamed into place only when complete and matching ``sha256``; the partial
    file is removed on any failure, so a broken download is never mistaken for
    a cached one. There is no total deadline here (big files take time); the
    read timeout still catches a stalled server.

    Args:
        url: an http(s) URL.
        dest: final path; its directory is created.
        sha256: expected hex digest, checked before the file is kept.
        max_bytes: refuse bodies larger than this.
        session: reuse a session; by default a fresh :func:`http_session`.
        timeout: ``(connect, read)`` seconds.
        progress: show a progress bar on stderr.
        insecure: skip TLS certificate verification (the user asked for it).

    Returns:
        ``dest``.

    Raises:
        TfpipeError: one line naming the URL and the cause.
    """
    dest = Path(dest)
    expected = sha256.lower() if sha256 else None
    if dest.is_file() and (expected is None or _file_sha256(dest) == expected):
        return dest
    try:
        check_url(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
    except Rejected as exc:
        raise TfpipeError(f"cannot download {url}: {exc.detail}") from None
    except OSError as exc:
        raise TfpipeError(
            f"cannot download {url}: cannot create {dest.parent}: {exc.strerror}"
        ) from None

    own_session = session is None
    session = session or http_session(verify=not insecure)
    tmp = dest.with_name(f"{dest.name}.part-{secrets.token_hex(4)}")
    try:
        digest = _stream_to(session, url, tmp, timeout, max_bytes, progress, insecure)
        if expected is not None and digest != expected:
            raise TfpipeError(f"checksum mismatch for {url}: expected {expected}, got {digest}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
        if own_session:
            session.close()
    return dest


def _stream_to(
    session: requests.Session,
    url: str,
    tmp: Path,
    timeout: Timeout,
    max_bytes: int | None,
    progress: bool,
    insecure: bool,
) -> str:
    """Write the body of ``url`` to ``tmp``; return its sha256 hex digest."""
    from tqdm import tqdm  # only big downloads need it

    hasher = hashlib.sha256()
    fail = f"cannot download {url}"
    hint = "download it yourself and pass its path"
    try:
        verify = False if insecure else session.verify  # per request: see _get
        with session.get(url, stream=True, timeout=timeout, verify=verify) as resp:
            if not 200 <= resp.status_code < 300:
                raise TfpipeError(f"{fail}: HTTP {resp.status_code}; {hint}")
            _check_declared_length(resp, url, max_bytes)
            size = resp.headers.get("Content-Length", "")
            bar = tqdm(
                total=int(size) if size.isdigit() else None,
                desc=tmp.name.split(".part-")[0],
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                disable=not progress,
                leave=False,
            )
            with bar, open(tmp, "xb") as out:
                for chunk in _stream(resp, url, max_bytes, deadline=None):
                    out.write(chunk)
                    hasher.update(chunk)
                    bar.update(len(chunk))
    except Rejected as exc:
        raise TfpipeError(f"{fail}: {exc.detail}; {hint}") from None
    except requests.RequestException as exc:
        raise TfpipeError(f"{fail}: {_classify(exc)[1]}; {hint}") from None
    except OSError as exc:
        raise TfpipeError(f"{fail}: cannot write {tmp}: {exc.strerror}") from None
    return hasher.hexdigest()


def _file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            hasher.update(block)
    return hasher.hexdigest()
