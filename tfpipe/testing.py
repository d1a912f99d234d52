"""Test toolkit: a real HTTP(S) server on loopback that misbehaves on request.

Tests of :mod:`tfpipe.download` run real ``requests`` against it, never mocks::

    with LoopbackServer() as srv:
        srv.add("ok.jpg", jpeg_bytes)
        srv.add("flaky.jpg", jpeg_bytes, statuses=[503, 503])  # then 200
        srv.add("slow.jpg", jpeg_bytes, hang=10)                # headers, then silence
        fetch(session, srv.url("flaky.jpg"))
        assert srv.hits["flaky.jpg"] == 3
"""

from __future__ import annotations

import mimetypes
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


def _norm(path: str) -> str:
    return "/" + path.lstrip("/")


class _Hits(Counter):
    """Requests per path; ``hits["a.jpg"]`` and ``hits["/a.jpg"]`` are the same count."""

    def __getitem__(self, path: str) -> int:
        return super().__getitem__(_norm(path))


@dataclass
class Route:
    """How the server answers one path.

    Attributes:
        body: bytes sent with a 2xx answer.
        content_type: the Content-Type claimed, true or not.
        statuses: statuses for the first requests, in turn (``[503, 503]``);
            a 2xx in the list or the list running out serves ``body``.
        hang: seconds to stall after the headers, before the body.
        trickle: seconds to wait between single bytes of the body.
        declare_length: send Content-Length; if False the body is chunked, so
            the client only learns its size by reading it.
    """

    body: bytes
    content_type: str = "image/jpeg"
    statuses: list[int] = field(default_factory=list)
    hang: float = 0.0
    trickle: float = 0.0
    declare_length: bool = True


class LoopbackServer:
    """A threaded HTTP/1.1 server on ``127.0.0.1`` with a random free port.

    Args:
        tls: serve HTTPS with a self-signed certificate made at startup
            (``cert_path`` is its PEM, usable as a CA bundle in ``verify=``).
    """

    def __init__(self, *, tls: bool = False):
        self.routes: dict[str, Route] = {}
        self.hits: Counter = _Hits()
        self.root: Path | None = None
        self._lock = threading.Lock()
        # Set on close so stalled handlers (hang, trickle) stop at once.
        self._closing = threading.Event()
        self._tmp = tempfile.TemporaryDirectory(prefix="tfpipe-loopback-")
        self.cert_path: Path | None = None
        context = None
        if tls:
            self.cert_path, key_path = _self_signed_cert(Path(self._tmp.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert_path, key_path)
        self._httpd = _Server(("127.0.0.1", 0), _Handler, owner=self, context=context)
        self.port = self._httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        """``http://127.0.0.1:PORT/path`` (``https`` when TLS is on)."""
        return f"{self.scheme}://127.0.0.1:{self.port}{_norm(path)}"

    def add(self, path: str, body: bytes, content_type: str = "image/jpeg", **behaviour) -> str:
        """Serve ``body`` at ``path``; ``behaviour`` is any :class:`Route` field. Returns the URL."""
        statuses = list(behaviour.pop("statuses", []))
        self.routes[_norm(path)] = Route(body, content_type, statuses, **behaviour)
        return self.url(path)

    def serve_dir(self, root: str | Path) -> None:
        """Serve files under ``root`` at their relative paths (routes take precedence)."""
        self.root = Path(root).resolve()

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._tmp.cleanup()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _answer(self, path: str) -> tuple[int, Route | None]:
        """Count the request and pick ``(status, route)`` for it."""
        with self._lock:
            self.hits[path] += 1
            n = self.hits[path]
        route = self.routes.get(path) or self._file_route(path)
        if route is None:
            return 404, None
        status = route.statuses[n - 1] if n <= len(route.statuses) else 200
        return status, route

    def _file_route(self, path: str) -> Route | None:
        if self.root is None:
            return None
        target = (self.root / path.lstrip("/")).resolve()
        # Refuse ../ escapes: only files inside root are served.
        if not target.is_relative_to(self.root) or not target.is_file():
            return None
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return Route(target.read_bytes(), kind)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, *, owner: LoopbackServer, context: ssl.SSLContext | None):
        self.owner = owner
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request, client_address) -> None:
        # Handshake here, in the per-connection thread: wrapping the listening
        # socket would handshake in the accept loop, where one silent client
        # blocks everyone.
        if self.context is None:
            return super().finish_request(request, client_address)
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate: that is the test passing
        with request:
            super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        pass  # clients hanging up mid-body is what these tests do on purpose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection pooling is exercised
    server: _Server

    def do_GET(self) -> None:
        self._reply(send_body=True)

    def do_HEAD(self) -> None:
        self._reply(send_body=False)

    def log_message(self, format, *args) -> None:
        pass

    def _reply(self, send_body: bool) -> None:
        owner = self.server.owner
        status, route = owner._answer(unquote(urlsplit(self.path).path))
        if route is None or not 200 <= status < 300:
            body = f"<html><body>{status}</body></html>".encode()
            self._headers(status, "text/html", len(body))
            if send_body:
                self.wfile.write(body)
            return
        self._headers(status, route.content_type, len(route.body) if route.declare_length else None)
        if not send_body:
            return
        if route.hang and owner._closing.wait(route.hang):
            return
        if not route.declare_length:
            self._write_chunked(route)
        elif route.trickle:
            for i in range(len(route.body)):
                self.wfile.write(route.body[i : i + 1])
                self.wfile.flush()
                if owner._closing.wait(route.trickle):
                    return
        else:
            self.wfile.write(route.body)

    def _headers(self, status: int, content_type: str, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _write_chunked(self, route: Route) -> None:
        step = 1 if route.trickle else 16 * 1024
        for i in range(0, len(route.body), step):
            piece = route.body[i : i + step]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            if route.trickle and self.server.owner._closing.wait(route.trickle):
                return
        self.wfile.write(b"0\r\n\r\n")


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` for ``127.0.0.1`` into ``directory``.

    Uses the ``cryptography`` package when it is installed, else the
    ``openssl`` command line tool.
    """
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return _cert_with_openssl(directory)
    return _cert_with_cryptography(directory)


def _cert_with_cryptography(directory: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _cert_with_openssl(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("TLS test server needs the cryptography package or the openssl tool")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-keyout", str(key_path), "-out", str(cert_path),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert_path, key_path
