"""The listener plan, the HTTPS redirect app, TLS contexts and the ACME certificate cache."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509

from tracker.config import ConfigError, Settings, load_settings
from tracker.http.acme import AcmeCertificates, Challenges, certifiable, renew_at
from tracker.http.https_redirect import HttpsRedirect, split_host
from tracker.http.listeners import Listener, plan, redirect_port
from tracker.http.tls import HTTP1, CertificateError, Certificates, server_context

TLS = Settings(use_local_tls=True, tls_cert="c.pem", tls_key="k.pem")


def test_the_go_configs_ports_plan_three_listeners_with_describable_urls() -> None:
    settings = replace(TLS, proxy_port=":8080", proxy_port_tls=":8443", proxy_except_http=":8880")
    assert plan(settings) == [
        Listener("tls", "0.0.0.0", 8443, "ProxyPortTLS"),
        Listener("redirect", "0.0.0.0", 8080, "ProxyPort"),
        Listener("plain", "0.0.0.0", 8880, "ProxyExceptHTTP"),
    ]
    assert [listener.describe() for listener in plan(settings)] == [
        "https://0.0.0.0:8443 (HTTPS, every route; ProxyPortTLS)",
        "http://0.0.0.0:8080 (redirects to HTTPS, ACME challenges; ProxyPort)",
        "http://0.0.0.0:8880 (HTTP, every route; ProxyExceptHTTP)",
    ]
    assert Listener("plain", "::1", 80, "Port").url == "http://[::1]:80"
    assert redirect_port(settings) == 8443
    assert redirect_port(replace(settings, proxy_port_redirect=":443")) == 443


def test_tls_defaults_to_443_and_80_and_honours_proxy_port_tls_alone() -> None:
    assert [(lst.role, lst.port) for lst in plan(TLS)] == [("tls", 443), ("redirect", 80)]
    alone = replace(TLS, proxy_port_tls=":8443")
    assert [(lst.role, lst.port) for lst in plan(alone)] == [("tls", 8443), ("redirect", 80)]
    acme = Settings(use_acme=True, domains=("tr.example.com",))
    assert [lst.role for lst in plan(acme)] == ["tls", "redirect"]


def test_without_tls_port_serves_everything_and_proxy_except_http_is_an_extra_listener() -> None:
    assert plan(Settings(port=9000)) == [Listener("plain", "0.0.0.0", 9000, "Port")]
    extra = plan(Settings(port=9000, proxy_except_http=":8880"))
    assert [(lst.port, lst.key) for lst in extra] == [(9000, "Port"), (8880, "ProxyExceptHTTP")]
    same = plan(Settings(port=8880, proxy_except_http=":8880"))
    assert [(lst.port, lst.key) for lst in same] == [(8880, "Port")]


def test_two_listeners_on_one_port_are_a_config_error_naming_both_keys() -> None:
    with pytest.raises(ConfigError, match="'ProxyPortTLS' and 'ProxyPort' both ask for port 8443"):
        plan(replace(TLS, proxy_port=":8443", proxy_port_tls=":8443"))
    with pytest.raises(ConfigError, match="'ProxyPort' and 'ProxyExceptHTTP'"):
        plan(replace(TLS, proxy_port=":8080", proxy_except_http=":8080"))


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("localhost:8080", "localhost"),
        ("TR.Example.COM", "tr.example.com"),
        ("tr.example.com.:80", "tr.example.com"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("[::1]:8080", "[::1]"),
        ("[0:0::1]", "[::1]"),
        ("", None),
        ("a b", None),
        ("evil.com/x", None),
        ("evil.com:80:90", None),
        ("evil.com:http", None),
        ("[::1", None),
        ("[::1]x", None),
        ("[not-ip]:80", None),
        ("-bad.example", None),
        ("x" * 64 + ".example", None),
    ],
)
def test_split_host_keeps_only_valid_hosts_without_their_port(raw: str, host: str | None) -> None:
    assert split_host(raw) == host


def call(app: Any, method: str, host: bytes, raw_path: bytes, query: bytes = b"") -> dict[str, Any]:
    """Drive an ASGI app with one HTTP request; the status, headers and body it sends."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": query,
        "headers": [(b"host", host)],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return {
        "status": sent[0]["status"],
        "headers": dict(sent[0]["headers"]),
        "body": b"".join(m.get("body", b"") for m in sent[1:]),
    }


def test_redirects_leave_out_443_bracket_ipv6_and_quote_the_path() -> None:
    app = HttpsRedirect(443, (), None)
    answer = call(app, "GET", b"Tr.Example.com:80", b"/a b/\xc3\xa9<x>", b"q=1 2&r=%2F")
    assert answer["status"] == 301
    assert (
        answer["headers"][b"location"]
        == b"https://tr.example.com/a%20b/%C3%A9%3Cx%3E?q=1%202&r=%2F"
    )
    ipv6 = call(HttpsRedirect(8443, (), None), "POST", b"[::1]:8080", b"//evil.example/x")
    assert ipv6["status"] == 308
    assert ipv6["headers"][b"location"] == b"https://[::1]:8443//evil.example/x"


def test_challenges_are_answered_only_while_pending() -> None:
    challenges = Challenges()
    app = HttpsRedirect(8443, ("tr.example.com",), challenges)
    path = b"/.well-known/acme-challenge/tok"
    assert call(app, "GET", b"evil.example", path)["status"] == 404
    challenges.put("tok", "tok.thumbprint")
    answer = call(app, "GET", b"any-host-at-all", path)
    assert (answer["status"], answer["body"]) == (200, b"tok.thumbprint")
    challenges.remove("tok")
    assert call(app, "GET", b"tr.example.com", path)["status"] == 404


def test_certifiable_skips_what_http_01_cannot_validate() -> None:
    hosts, skipped = certifiable(
        [
            "TR.example.com",
            "tr.example.com",
            "localhost",
            "a.localhost",
            "10.0.0.1",
            "*.x.com",
            "intranet",
        ]
    )
    assert hosts == ["tr.example.com"]
    assert skipped == ["localhost", "a.localhost", "10.0.0.1", "*.x.com", "intranet"]


def test_server_contexts_need_tls_1_2_and_say_which_file_is_wrong(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "c.pem")
    ca.issue_cert("other").private_key_pem.write_to_path(tmp_path / "k.pem")
    cert.private_key_pem.write_to_path(tmp_path / "good.pem")
    ctx = server_context(tmp_path / "c.pem", tmp_path / "good.pem", HTTP1)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    with pytest.raises(CertificateError, match=r"'.*c\.pem' with key '.*k\.pem' cannot be loaded"):
        server_context(tmp_path / "c.pem", tmp_path / "k.pem", HTTP1)
    with pytest.raises(CertificateError, match="No such file or directory"):
        server_context(tmp_path / "missing.pem", tmp_path / "good.pem", HTTP1)


def test_kept_acme_certificates_are_served_at_start_and_renewed_after_two_thirds(
    tmp_path: Path,
) -> None:
    settings = Settings(
        use_acme=True, domains=("tr.example.com",), data_dir=tmp_path, acme_staging=True
    )
    empty = AcmeCertificates(settings, Certificates(HTTP1), Challenges(), clock=lambda: 1000.0)
    empty.load()
    assert empty.certificates.default is not None  # the self-signed stand-in
    assert empty.due == {"tr.example.com": 1000.0}
    assert empty.home == tmp_path / "acme" / "acme-staging-v02.api.letsencrypt.org"

    kept = trustme.CA().issue_cert("tr.example.com")
    folder = empty.home / "tr.example.com"
    folder.mkdir()
    kept.cert_chain_pems[0].write_to_path(folder / "cert.pem")
    kept.private_key_pem.write_to_path(folder / "key.pem")
    cert = x509.load_pem_x509_certificate(kept.cert_chain_pems[0].bytes())
    certificates = Certificates(HTTP1)
    restarted = AcmeCertificates(settings, certificates, Challenges(), clock=lambda: 1000.0)
    restarted.load()
    assert certificates.by_name["tr.example.com"] is certificates.default
    assert restarted.due == {"tr.example.com": renew_at(cert)}
    start, end = cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()
    assert renew_at(cert) == pytest.approx(end - (end - start) / 3)


def load(tmp_path: Path, config: dict[str, Any]) -> tuple[Settings, list[str]]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return load_settings(path)


def test_acme_without_domains_stops_and_unused_tls_ports_are_warned_about(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'Domains' is empty: expected the host names"):
        load(tmp_path, {"UseAcme": True})
    _, warnings = load(tmp_path, {"ProxyPort": ":8080", "ProxyPortTLS": ":8443"})
    assert any("ProxyPort, ProxyPortTLS set but TLS is off" in w for w in warnings)
    _, warnings = load(tmp_path, {"UseAcme": True, "Domains": ["a.example"], "ProxyPort": ":81"})
    assert any("forward port 80 to it" in w for w in warnings)
