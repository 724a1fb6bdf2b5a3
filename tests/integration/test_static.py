"""`/tr/v1/pub/`: files from StaticDirectory, caching headers, Range, traversal refused, tracked."""

from __future__ import annotations

import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import FAST_BATCHES, TrackerServer

WASM = bytes(range(256)) * 8  # 2 KiB of binary content


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("static")
    public = root / "public"
    (public / "docs").mkdir(parents=True)
    (public / "empty").mkdir()
    (public / "index.html").write_text("<p>home</p>")
    (public / "lz4.wasm").write_bytes(WASM)
    (public / "docs" / "index.html").write_text("<p>docs</p>")
    (root / "secret.txt").write_text("outside the static directory")
    (public / "link.txt").symlink_to(root / "secret.txt")
    return public


@pytest.fixture(scope="module")
def static_server(public: Path) -> Iterator[TrackerServer]:
    server = TrackerServer(public.parent / "data", {**FAST_BATCHES, "StaticDirectory": str(public)})
    yield server.start()
    if server.running:
        server.stop(signal.SIGKILL)


def raw_get(server: TrackerServer, target: str) -> bytes:
    """A request with the path exactly as written (HTTP clients would normalise `..`)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_file_is_served_with_its_type_and_caching_headers(static_server: TrackerServer) -> None:
    response = httpx.get(static_server.url + "/tr/v1/pub/lz4.wasm")
    assert response.status_code == 200
    assert response.content == WASM
    assert response.headers["content-type"] == "application/wasm"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith(" GMT")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["accept-ranges"] == "bytes"


def test_conditional_requests_get_304(static_server: TrackerServer) -> None:
    url = static_server.url + "/tr/v1/pub/lz4.wasm"
    first = httpx.get(url)
    by_etag = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    by_date = httpx.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert (by_etag.status_code, by_etag.content) == (304, b"")
    assert (by_date.status_code, by_date.content) == (304, b"")
    assert by_etag.headers["etag"] == first.headers["etag"]


def test_range_request_gets_206_with_the_bytes_asked_for(static_server: TrackerServer) -> None:
    url = static_server.url + "/tr/v1/pub/lz4.wasm"
    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == WASM[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(WASM)}"
    beyond = httpx.get(url, headers={"Range": f"bytes={len(WASM) + 10}-"})
    assert beyond.status_code == 416


def test_directories_serve_index_html_and_never_a_listing(static_server: TrackerServer) -> None:
    base = static_server.url + "/tr/v1/pub/"
    assert httpx.get(base).text == "<p>home</p>"
    assert httpx.get(base + "docs/").text == "<p>docs</p>"
    redirect = httpx.get(base + "docs")
    assert (redirect.status_code, redirect.headers["location"]) == (301, "docs/")
    listing = httpx.get(base + "empty/")
    assert listing.status_code == 404
    assert listing.json() == {"ok": False, "error": "Nothing at /tr/v1/pub/empty/.", "status": 404}


@pytest.mark.parametrize(
    "target",
    [
        "/tr/v1/pub/../../secret.txt",
        "/tr/v1/pub/%2e%2e/secret.txt",
        "/tr/v1/pub/docs/..%2f..%2fsecret.txt",
        "/tr/v1/pub/link.txt",  # a symlink pointing out of the directory
        "/tr/v1/pub//etc/passwd",
        "/tr/v1/pub/nothing%00.txt",
    ],
)
def test_paths_leaving_the_directory_are_refused(static_server: TrackerServer, target: str) -> None:
    response = raw_get(static_server, target)
    assert response.startswith(b"HTTP/1.1 404 ")
    assert b"outside the static directory" not in response
    assert b"root:" not in response


def test_other_methods_get_405_and_post_is_served_like_get(static_server: TrackerServer) -> None:
    url = static_server.url + "/tr/v1/pub/index.html"
    assert httpx.post(url, content=b"x").text == "<p>home</p>"
    assert httpx.head(url).headers["content-length"] == "11"
    deleted = httpx.delete(url)
    assert deleted.status_code == 405
    assert deleted.json()["status"] == 405


def test_each_fetch_is_tracked_as_a_client_event_without_a_url(
    static_server: TrackerServer,
) -> None:
    vid, uid = str(uuid.uuid4()), str(uuid.uuid4())
    response = httpx.get(
        static_server.url + f"/tr/v1/pub/lz4.wasm?utm_campaign=wasm&uid={uid}",
        headers={"Cookie": f"vid={vid}"},
    )
    assert response.status_code == 200
    assert f"vid={vid}" in response.headers["set-cookie"]  # client events set the cookie
    rows = static_server.wait_for(
        f"SELECT url, campaign FROM events WHERE vid = '{vid}'", expected=1
    )
    assert rows == [{"url": "", "campaign": "wasm"}]
    # userhosts is written for client events only: /pub/ is one again (Go made it a server event)
    assert static_server.wait_for(f"SELECT uid FROM userhosts WHERE vid = '{vid}'", 1) == [
        {"uid": uid}
    ]


def test_missing_static_directory_answers_404_until_it_exists(
    static_server: TrackerServer, public: Path
) -> None:
    moved = public.with_name("public-moved")
    public.rename(moved)
    try:
        gone = httpx.get(static_server.url + "/tr/v1/pub/index.html")
        assert gone.status_code == 404
        assert gone.json()["status"] == 404
    finally:
        moved.rename(public)
    assert httpx.get(static_server.url + "/tr/v1/pub/index.html").status_code == 200
