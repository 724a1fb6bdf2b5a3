"""The identity cookies: a hostile Host never shapes them; Secure behind a trusted TLS proxy."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx
import pytest

from conftest import FAST_BATCHES, TrackerServer
from tracker.normalise.client import cookie_domain


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    config = {**FAST_BATCHES, "TrustedProxies": ["127.0.0.1"]}
    server = TrackerServer(tmp_path_factory.mktemp("cookies") / "data", config).start()
    yield server
    if server.running:
        server.stop(signal.SIGKILL)


def vid_cookie(response: httpx.Response) -> str:
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith("vid=")]
    return cookie


@pytest.mark.parametrize(
    "host",
    [
        "a.evil.com; HttpOnly",
        "a.evil.com;Domain=evil.com",
        "a.evil.com Secure",
        "a.ev\til.com",
        "bad_.example..com",
        "-a.example.com",
        "a." + "x" * 64 + ".com",
    ],
)
def test_a_host_that_is_not_a_host_name_sets_no_cookie_domain(host: str) -> None:
    assert cookie_domain(host) is None


def test_a_valid_host_gives_its_last_two_labels() -> None:
    assert cookie_domain("Tr.Example.COM") == "example.com"
    assert cookie_domain("a-b.c_d.example.com.") == "example.com"


def test_an_injected_host_header_adds_no_cookie_attributes(behind_proxy: TrackerServer) -> None:
    with httpx.Client(base_url=behind_proxy.url) as client:
        response = client.get("/tr/v1/tr/", headers={"Host": "a.evil.com; HttpOnly"})
    cookie = vid_cookie(response)
    assert "HttpOnly" not in cookie
    assert "Domain" not in cookie
    assert cookie.endswith("; SameSite=Lax")


def test_https_named_by_a_trusted_proxy_makes_the_cookies_secure(
    behind_proxy: TrackerServer,
) -> None:
    response = httpx.get(
        behind_proxy.url + "/tr/v1/tr/",
        headers={"Host": "tr.example.com", "X-Forwarded-Proto": "https"},
    )
    for cookie in response.headers.get_list("set-cookie"):
        assert cookie.endswith("; Domain=example.com; Secure; SameSite=None"), cookie
    forwarded = httpx.get(
        behind_proxy.url + "/tr/v1/xrdr/?url=/landing", headers={"Forwarded": "proto=https"}
    )
    assert "; Secure; SameSite=None" in vid_cookie(forwarded)


def test_https_claimed_by_an_untrusted_client_does_not(make_server: object) -> None:
    server: TrackerServer = make_server(config=FAST_BATCHES)  # type: ignore[operator]
    response = httpx.get(server.url + "/tr/v1/tr/", headers={"X-Forwarded-Proto": "https"})
    cookie = vid_cookie(response)
    assert "Secure" not in cookie
    assert cookie.endswith("; SameSite=Lax")
