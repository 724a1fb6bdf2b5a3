"""Client IP, request host and cookie domain, as the Go tracker derived them, with fixes.

Differences from the Go tracker, all deliberate:

* Forwarding headers are believed only when the socket peer is a configured trusted proxy. The
  Go tracker believed them from anyone, so any client could choose its IP, iphash, GeoIP and
  rate-limit bucket.
* A forwarding header that is present but holds no valid IP falls through to the next rule
  (Go returned '' for a garbage `X-Real-IP`).
* `X-Forwarded` and the standard `Forwarded` header (RFC 7239) are parsed properly: quoted values,
  bracketed IPv6 and `ip:port` forms work; `unknown` and obfuscated (`_hidden`) nodes are skipped.
  A port on the first X-Forwarded-For entry (some cloud balancers add one) is ignored.

Caveat kept from Go: the FIRST X-Forwarded-For entry is used. A trusted proxy that appends to a
client-sent X-Forwarded-For passes the client's claim through, so configure the proxy to set
`X-Real-IP` (checked first) or to overwrite X-Forwarded-For.
* The host is lowercased with its port stripped on every path, including direct requests (Go kept
  `localhost:8443` on a direct request). IPv6 literals come back without brackets: `[::1]:8080` and
  `[::1]` both give `::1`, which is what Go's `net.SplitHostPort` gives for the ported form and the
  same text `client_ip` uses for that address.

IP parsing uses `socket.inet_pton` (strict: no leading zeros, no zone ids, no short forms) and
formats the result the way Go's `net.IP.String` and Python's `ipaddress` do (RFC 5952, IPv4-mapped
IPv6 as dotted IPv4), at a tenth of the cost of `ipaddress`.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping

__all__ = [
    "TrustedProxies",
    "clean_ip",
    "client_ip",
    "cookie_domain",
    "request_host",
    "request_scheme",
]

_V4_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
_HOST_HEADERS = ("x-original-host", "x-forwarded-host", "x-host")
_CACHE_LIMIT = 4096


def _format_v6(packed: bytes) -> str:
    """RFC 5952 text of a 16-byte address, as Go and `ipaddress` print it."""
    if packed[:12] == _V4_MAPPED_PREFIX:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    groups = [(packed[i] << 8) | packed[i + 1] for i in range(0, 16, 2)]
    best_start, best_len, run_start = -1, 0, -1
    for i, group in enumerate(groups):
        if group == 0:
            if run_start < 0:
                run_start = i
            if i - run_start + 1 > best_len:
                best_start, best_len = run_start, i - run_start + 1
        else:
            run_start = -1
    texts = [format(g, "x") for g in groups]
    if best_len < 2:
        return ":".join(texts)
    head = ":".join(texts[:best_start])
    tail = ":".join(texts[best_start + best_len :])
    return f"{head}::{tail}"


def _parse_ip(text: str) -> str:
    """Canonical text of one IP address, or '' when `text` (already trimmed) is not one."""
    if not text:
        return ""
    if ":" in text:
        try:
            return _format_v6(socket.inet_pton(socket.AF_INET6, text))
        except (OSError, ValueError):
            return ""
    try:
        socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        return ""
    return text  # inet_pton accepts only canonical dotted quads (no leading zeros)


def clean_ip(value: str) -> str:
    """The last comma-separated entry of `value` that parses as an IP, canonical; '' if none."""
    if "," not in value:
        return _parse_ip(value.strip())
    for part in reversed(value.split(",")):
        ip = _parse_ip(part.strip())
        if ip:
            return ip
    return ""


def _strip_port(addr: str) -> str:
    """`1.2.3.4:80` → `1.2.3.4`, `[::1]:80` / `[::1]` → `::1`; other text is returned as is."""
    if addr.startswith("["):
        end = addr.find("]")
        return addr[1:end] if end > 0 else addr
    if addr.count(":") == 1:
        return addr.partition(":")[0]
    return addr


def _peer_ip(peer: str) -> str:
    """Canonical IP of a socket peer given as `host`, `host:port` or `[v6]:port`; '' if none."""
    peer = peer.strip()
    return _parse_ip(peer) or _parse_ip(_strip_port(peer))


class TrustedProxies:
    """The set of networks whose forwarding headers we believe (config `TrustedProxies`)."""

    __slots__ = ("_cache", "_networks")

    def __init__(self, cidrs: Iterable[str] = ()) -> None:
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(
                    f"Trusted proxy {cidr!r} is not an IP address or CIDR network: "
                    "expected e.g. '10.0.0.0/8', '192.0.2.7' or 'fd00::/8'."
                ) from exc
        self._networks = tuple(networks)
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(n) for n in self._networks]!r})"

    def contains(self, ip: str) -> bool:
        """Whether the address `ip` lies in a trusted network; False for '' or non-addresses.

        `ip` may be a peer address in any form `client_ip` takes (`host`, `host:port`,
        `[v6]:port`, IPv4-mapped IPv6). Results are memoised per input (bounded).
        """
        if not ip or not self._networks:
            return False
        hit = self._cache.get(ip)
        if hit is None:
            canonical = _peer_ip(ip)
            if canonical:
                addr = ipaddress.ip_address(canonical)
                hit = any(addr in net for net in self._networks if net.version == addr.version)
            else:
                hit = False
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[ip] = hit
        return hit


def _forwarded_for(value: str) -> str:
    """The first usable `for=` node of an RFC 7239 `Forwarded` or legacy `X-Forwarded` value."""
    for element in value.split(","):
        for pair in element.split(";"):
            name, sep, node = pair.partition("=")
            if not sep or name.strip().lower() != "for":
                continue
            node = node.strip().strip('"').strip()
            if not node or node.lower() == "unknown" or node.startswith("_"):
                continue
            ip = _parse_ip(_strip_port(node))
            if ip:
                return ip
    return ""


def client_ip(peer: str, headers: Mapping[str, str], trusted: TrustedProxies) -> str:
    """The client's IP: from forwarding headers when the peer is a trusted proxy, else the peer.

    `peer` is the socket peer address (`host`, or `host:port` / `[v6]:port`); `headers` are keyed
    in lowercase. Header order (first usable wins): X-Real-IP, the first X-Forwarded-For entry,
    X-Client-IP, CF-Connecting-IP, X-Forwarded `for=`, Forwarded `for=`. '' when nothing parses.
    """
    peer_ip = _peer_ip(peer)
    if not trusted.contains(peer_ip):
        return peer_ip
    value = headers.get("x-real-ip")
    if value and (ip := clean_ip(value)):
        return ip
    value = headers.get("x-forwarded-for")
    if value and (ip := _peer_ip(value.partition(",")[0])):  # some balancers add a port
        return ip
    for name in ("x-client-ip", "cf-connecting-ip"):
        value = headers.get(name)
        if value and (ip := clean_ip(value)):
            return ip
    for name in ("x-forwarded", "forwarded"):
        value = headers.get(name)
        if value and (ip := _forwarded_for(value)):
            return ip
    return peer_ip


def _normalise_host(value: str) -> str:
    host = value.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def request_host(host_header: str, headers: Mapping[str, str], peer_trusted: bool) -> str:
    """The normalised request host: lowercased, trimmed, port stripped (IPv6 without brackets).

    X-Original-Host, X-Forwarded-Host (its first entry) and X-Host are honoured, in that order,
    only when the peer is a trusted proxy; otherwise the `Host` / `:authority` value is used.
    """
    if peer_trusted:
        for name in _HOST_HEADERS:
            value = headers.get(name)
            if value:
                host = _normalise_host(value.partition(",")[0])
                if host:
                    return host
    return _normalise_host(host_header)


def request_scheme(scheme: str, headers: Mapping[str, str], peer_trusted: bool) -> str:
    """``http`` or ``https``: the socket's scheme, or, from a trusted proxy (which may terminate
    TLS), the first `X-Forwarded-Proto` value or the `Forwarded` header's first ``proto=``."""
    if peer_trusted:
        proto = headers.get("x-forwarded-proto", "").partition(",")[0].strip().lower()
        if not proto:
            for pair in headers.get("forwarded", "").partition(",")[0].split(";"):
                name, _, value = pair.partition("=")
                if name.strip().lower() == "proto":
                    proto = value.strip().strip('"').lower()
        if proto in ("http", "https"):
            return proto
    return "https" if scheme in ("https", "wss") else "http"


_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?")


def cookie_domain(host: str) -> str | None:
    """`Domain` for the vid cookie: the last two labels of `host` (`tr.sfpl.io` → `sfpl.io`).

    None for IP literals, single-label hosts such as `localhost` (browsers reject
    `Domain=localhost`) and anything that is not a valid host name (letters, digits, `-` and `_`
    in labels of at most 63 characters): the `Host` header is the client's, and a `;` or a space
    in it must never reach a `Set-Cookie` header. Like the Go tracker, no public-suffix list is used,
    so `a.example.co.uk` gives `co.uk`, which browsers reject; serve such sites from a host
    whose last two labels are the registrable domain.
    """
    host = host.strip().lower().rstrip(".")
    if not host or ":" in host or host.startswith("["):
        return None
    labels = host.split(".")
    if len(labels) < 2 or len(host) > 253 or not all(_LABEL.fullmatch(x) for x in labels):
        return None
    if labels[-1].isdigit():
        return None  # an all-digit last label means an IPv4 literal (no TLD is numeric)
    return f"{labels[-2]}.{labels[-1]}"
