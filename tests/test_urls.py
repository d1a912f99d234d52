"""Downloads and the JSON-lines URL source, against a real server on 127.0.0.1.

No mocks: every test runs real ``requests`` against :class:`LoopbackServer`,
scripted to fail the way real servers do.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import ssl
import sys
import time
import warnings
from pathlib import Path

import pytest
from PIL import Image

from tfpipe.download import (
    cache_dir,
    check_url,
    download_file,
    fetch,
    fetch_image,
    http_session,
    sniff_image,
)
from tfpipe.errors import Rejected, TfpipeError
from tfpipe.sources.base import Item
from tfpipe.sources.urls import UrlListSource
from tfpipe.testing import LoopbackServer, _cert_with_openssl

FAST = (2.0, 2.0)  # (connect, read) for tests that expect success
SHORT = (1.0, 1.0)  # for tests that expect a timeout


def make_image(fmt: str = "JPEG", shade: int = 0) -> bytes:
    """A 28x28 grayscale image, like one MNIST letter."""
    img = Image.new("L", (28, 28), color=shade)
    img.putpixel((shade % 28, 3), 255 - shade)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


JPEG = make_image()
HTML = b"<!doctype html><html><body>Sign in to continue</body></html>"


@pytest.fixture(scope="module")
def server():
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def tls_server():
    with LoopbackServer(tls=True) as srv:
        srv.add("secure.jpg", JPEG)
        yield srv


@pytest.fixture
def session():
    # Tiny backoff: the retry logic is under test, not the sleeping.
    with http_session(backoff=0.01) as s:
        yield s


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFPIPE_CACHE_DIR", str(tmp_path / "cache"))


def category(call) -> str:
    """Run ``call``; return the category of the Rejected it must raise."""
    with pytest.raises(Rejected) as info:
        call()
    return info.value.category


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- fetch: retries, statuses, limits ------------------------------------------------


def test_transient_503s_are_retried_until_200(server, session):
    url = server.add("flaky.jpg", JPEG, statuses=[503, 503, 200])
    assert fetch(session, url, timeout=FAST) == JPEG
    assert server.hits["flaky.jpg"] == 3


def test_persistent_503_gives_up_with_the_status(server):
    url = server.add("down.jpg", JPEG, statuses=[503] * 10)
    with http_session(retries=2, backoff=0.01) as s, pytest.raises(Rejected) as info:
        fetch(s, url, timeout=FAST)
    assert info.value.category == "http 503"
    assert url in info.value.detail
    assert server.hits["down.jpg"] == 3  # first try + 2 retries


def test_404_is_rejected_at_once_without_retry(server, session):
    url = server.url("missing.jpg")
    with pytest.raises(Rejected) as info:
        fetch(session, url, timeout=FAST)
    assert info.value.category == "http 404"
    assert info.value.detail == f"HTTP 404 from {url}"
    assert server.hits["missing.jpg"] == 1


def test_server_that_stalls_after_headers_times_out(server, session):
    url = server.add("hang.jpg", JPEG, hang=30)
    start = time.monotonic()
    assert category(lambda: fetch(session, url, timeout=SHORT)) == "timeout"
    assert time.monotonic() - start < 5


def test_trickling_server_hits_the_wall_clock_deadline(server, session):
    # One byte every 0.2 s never trips a 1 s read timeout; the deadline must.
    url = server.add("trickle.jpg", JPEG, trickle=0.2)
    start = time.monotonic()
    with pytest.raises(Rejected) as info:
        fetch(session, url, timeout=SHORT)
    assert info.value.category == "timeout"
    assert url in info.value.detail
    assert time.monotonic() - start < 5


def test_declared_oversize_is_refused_before_reading_the_body(server, session):
    # The body stalls for 30 s: reading it at all would end in "timeout", not "too large".
    url = server.add("huge-declared.jpg", JPEG + bytes(5000), hang=30)
    start = time.monotonic()
    assert category(lambda: fetch(session, url, timeout=SHORT, max_bytes=1000)) == "too large"
    assert time.monotonic() - start < 1


def test_undeclared_oversize_is_cut_off_while_streaming(server, session):
    url = server.add("huge-chunked.jpg", JPEG + bytes(200_000), declare_length=False)
    with pytest.raises(Rejected) as info:
        fetch(session, url, timeout=FAST, max_bytes=50_000)
    assert info.value.category == "too large"
    assert url in info.value.detail


def test_chunked_body_under_the_cap_is_read_whole(server, session):
    body = JPEG + bytes(100_000)
    url = server.add("chunked.jpg", body, declare_length=False)
    assert fetch(session, url, timeout=FAST) == body


def test_html_labelled_image_jpeg_is_not_an_image(server, session):
    url = server.add("login.jpg", HTML, content_type="image/jpeg")
    with pytest.raises(Rejected) as info:
        fetch_image(session, url, timeout=FAST)
    assert info.value.category == "not an image"
    assert url in info.value.detail
    assert "Content-Type: image/jpeg" in info.value.detail


def test_image_with_a_wrong_content_type_is_accepted(server, session):
    png = make_image("PNG")
    url = server.add("mislabelled.jpg", png, content_type="text/plain")
    assert fetch_image(session, url, timeout=FAST) == png


def test_connection_refused_is_a_connection_error():
    url = f"http://127.0.0.1:{closed_port()}/x.jpg"
    with http_session(backoff=0.01) as s, pytest.raises(Rejected) as info:
        fetch(s, url, timeout=FAST)
    assert info.value.category == "connection error"
    assert url in info.value.detail and "refused" in info.value.detail


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP"])
def test_sniff_image_knows_every_decodable_format(fmt):
    assert sniff_image(make_image(fmt)) == fmt.lower()


@pytest.mark.parametrize("data", [b"", b"\xff", HTML, b'{"error": "nope"}', b"RIFF\0\0\0\0WAVE"])
def test_sniff_image_rejects_non_images(data):
    assert sniff_image(data) is None


# --- TLS -------------------------------------------------------------------------------


def test_self_signed_certificate_is_refused(tls_server, session):
    url = tls_server.url("secure.jpg")
    start = time.monotonic()
    with pytest.raises(Rejected) as info:
        fetch(session, url, timeout=FAST)
    assert info.value.category == "tls error"
    assert url in info.value.detail
    assert "verify=False" in info.value.detail and "TLS verification failed" in info.value.detail
    assert time.monotonic() - start < 2  # a bad certificate is not retried


def test_self_signed_certificate_is_accepted_when_verify_is_off(tls_server):
    with http_session(verify=False) as s, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning: expected here
        assert fetch(s, tls_server.url("secure.jpg"), timeout=FAST) == JPEG


def test_self_signed_certificate_is_accepted_as_a_trusted_ca(tls_server):
    with http_session() as s:
        s.verify = str(tls_server.cert_path)
        assert fetch(s, tls_server.url("secure.jpg"), timeout=FAST) == JPEG


def test_openssl_fallback_makes_a_loadable_certificate(tmp_path):
    cert, key = _cert_with_openssl(tmp_path)
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)


# --- schemes: refused before any I/O ----------------------------------------------------

_watched: list[str] = []  # paths the audit hook reports on
_seen: list[tuple] = []


def _audit(event: str, args: tuple) -> None:
    # Audit hooks cannot be removed, so this one stays cheap when idle.
    if _watched and event in ("open", "socket.connect"):
        if event == "socket.connect" or any(w in str(args[0]) for w in _watched):
            _seen.append((event, args[1] if event == "socket.connect" else args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def canary(tmp_path):
    """A file that must never be opened; yields its path while I/O is watched."""
    path = tmp_path / "canary.jpg"
    path.write_bytes(JPEG)
    _seen.clear()
    _watched.append(str(path))
    yield path
    _watched.clear()


@pytest.mark.parametrize(
    "template",
    ["file://{canary}", "FILE://{canary}", "ftp://127.0.0.1/{canary}", "{canary}", "//x/{canary}"],
)
def test_non_http_urls_are_refused_without_io(template, canary, session):
    url = template.format(canary=canary)
    assert category(lambda: check_url(url)) == "bad url"
    assert category(lambda: fetch(session, url)) == "bad url"
    assert _seen == []


def test_download_file_refuses_file_urls_without_io(canary, tmp_path):
    with pytest.raises(TfpipeError, match="only http"):
        download_file(f"file://{canary}", tmp_path / "out.zip", progress=False)
    assert _seen == []
    assert not (tmp_path / "out.zip").exists()


# --- UrlListSource --------------------------------------------------------------------


def write_jsonl(path: Path, lines: list) -> str:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n")
    return str(path)


def test_url_list_yields_items_and_rejections_in_file_order(server, tmp_path, canary):
    images = {name: make_image(shade=i * 40) for i, name in enumerate("abcd")}
    urls = {name: server.add(f"list/{name}.jpg", data) for name, data in images.items()}
    # The first image is slow, so later ones finish first: order must not change.
    server.add("list/slow.jpg", images["a"], hang=0.3)
    lines = [
        {"content": server.url("list/slow.jpg"), "label": "a"},
        {"content": urls["b"], "label": "b"},
        "",
        {"content": server.url("list/gone.jpg"), "label": "c"},
        {"content": f"file://{canary}", "label": "d"},
        "{not json",
        {"content": urls["c"]},
        {"content": urls["c"], "label": "c"},
        {"content": urls["d"], "label": "d"},
    ]
    path = write_jsonl(tmp_path / "letters.json", lines)
    source = UrlListSource(path, workers=4, timeout=FAST)
    assert source.kind == "json-urls" and source.path == path
    assert source.count() == 8

    first = list(source.items())
    summary = [
        (r.key, r.label)
        if isinstance(r, Item)
        else (re.match(r".*:line \d+", r[0])[0], r[2].category)
        for r in first
    ]
    assert summary == [
        ("letters.json:line 1", "a"),
        ("letters.json:line 2", "b"),
        (f"{path}:line 4", "http 404"),
        (f"{path}:line 5", "bad url"),
        (f"{path}:line 6", "malformed line"),
        (f"{path}:line 7", "malformed line"),
        ("letters.json:line 8", "c"),
        ("letters.json:line 9", "d"),
    ]
    items = [r for r in first if isinstance(r, Item)]
    assert [i.payload for i in items] == [images["a"], images["b"], images["c"], images["d"]]
    assert items[0].origin == f"{path}:line 1 {server.url('list/slow.jpg')}"
    assert all(i.split is None for i in items)
    assert first[2][1] is None and server.url("list/gone.jpg") in first[2][0]
    assert [e for e in _seen if e[0] == "open"] == []  # the file:// line was never opened

    # Second pass: every image comes from the cache. Only the 404 is asked again,
    # on purpose: failures are not cached, so a transient outage heals on rerun.
    before = dict(server.hits)
    second = list(source.items())
    assert [r for r in second if isinstance(r, Item)] == items
    grown = {p: n - before.get(p, 0) for p, n in server.hits.items() if n != before.get(p, 0)}
    assert grown == {"/list/gone.jpg": 1}


def test_url_list_cache_survives_a_new_source_and_only_keeps_images(server, tmp_path):
    good = server.add("cache/ok.jpg", JPEG)
    bad = server.add("cache/login.jpg", HTML)
    path = write_jsonl(
        tmp_path / "l.json", [{"content": good, "label": "a"}, {"content": bad, "label": "b"}]
    )
    first = list(UrlListSource(path, workers=2, timeout=FAST).items())
    assert isinstance(first[0], Item) and first[1][2].category == "not an image"
    assert [p.name for p in (cache_dir() / "urls").iterdir()] == [
        hashlib.sha256(good.encode()).hexdigest()
    ]
    hits = server.hits["cache/ok.jpg"]
    again = list(UrlListSource(path, workers=2, timeout=FAST).items())
    assert again[0] == first[0]
    assert server.hits["cache/ok.jpg"] == hits


def test_url_list_keeps_a_bounded_window_of_downloads(server, tmp_path):
    url = server.add("window/x.jpg", JPEG)
    lines = [{"content": f"{url}?n={n}", "label": "x"} for n in range(200)]
    source = UrlListSource(write_jsonl(tmp_path / "many.json", lines), workers=2, timeout=FAST)
    stream = source.items()
    next(stream)
    time.sleep(0.2)  # let the pool drain whatever it was given
    assert server.hits["window/x.jpg"] <= 4 * 2 + 1
    stream.close()


def test_url_list_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(TfpipeError, match="no such file"):
        UrlListSource(str(tmp_path / "nope.json"))


# --- download_file ----------------------------------------------------------------------


def test_download_file_verifies_and_caches(server, tmp_path):
    body = bytes(range(256)) * 400
    url = server.add("data/set.zip", body, content_type="application/zip")
    digest = hashlib.sha256(body).hexdigest()
    dest = tmp_path / "dl" / "set.zip"

    assert download_file(url, dest, sha256=digest, progress=False) == dest
    assert dest.read_bytes() == body
    hits = server.hits["data/set.zip"]
    assert download_file(url, dest, sha256=digest, progress=False) == dest
    assert server.hits["data/set.zip"] == hits  # second call never touches the network
    assert sorted(p.name for p in dest.parent.iterdir()) == ["set.zip"]


def test_download_file_checksum_mismatch_keeps_nothing(server, tmp_path):
    url = server.add("data/tampered.zip", b"not what you expected" * 100)
    dest = tmp_path / "tampered.zip"
    with pytest.raises(TfpipeError) as info:
        download_file(url, dest, sha256="0" * 64, progress=False)
    assert str(info.value).startswith(f"checksum mismatch for {url}: expected {'0' * 64}, got ")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a .part file


@pytest.mark.parametrize("failure", ["refused", "404", "too large"])
def test_download_file_network_failure_is_one_line(server, tmp_path, failure):
    url = {
        "refused": f"http://127.0.0.1:{closed_port()}/set.zip",
        "404": server.url("data/absent.zip"),
        "too large": server.add("data/big.zip", bytes(10_000), declare_length=False),
    }[failure]
    with http_session(backoff=0.01) as session, pytest.raises(TfpipeError) as info:
        download_file(url, tmp_path / "set.zip", session=session, max_bytes=1000, progress=False)
    message = str(info.value)
    assert message.startswith(f"cannot download {url}: ") and "\n" not in message
    assert {"refused": "connection refused", "404": "HTTP 404", "too large": "cap"}[
        failure
    ] in message
    assert list(tmp_path.iterdir()) == []


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TFPIPE_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("TFPIPE_CACHE_DIR")
    assert cache_dir() == Path.home() / ".cache" / "tfpipe"
