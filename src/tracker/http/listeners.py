"""The listeners of `tracker serve`, planned from the settings and run together in one event loop.

With TLS off (neither `UseLocalTLS` nor `UseAcme`): plain HTTP on `Host:Port`, every route.
With TLS on, the Go tracker's three listeners, all bound to `Host`:

* `ProxyPortTLS` (default `:443`): HTTPS, every route, certificates from `TLSCert`/`TLSKey`
  (`UseLocalTLS`) or from ACME (`UseAcme`); HTTP/2 too with `HTTP2`;
* `ProxyPort` (default `:80`): redirects to HTTPS and answers ACME http-01 challenges;
* `ProxyExceptHTTP` (when set, with TLS on or off): plain HTTP, every route.

`plan` lists them (`Listener.describe` gives the start-up lines), `bind` takes their sockets
before anything starts, so a taken port stops start-up with a clear message, and
`tracker.http.servers` runs them.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

import psutil

from tracker.config import ConfigError, Settings
from tracker.errors import ListenError

ROLES = {
    "tls": "HTTPS, every route",
    "redirect": "redirects to HTTPS, ACME challenges",
    "plain": "HTTP, every route",
}


@dataclass(frozen=True)
class Listener:
    """One listening socket: its role, address and the config key that set its port."""

    role: str  # tls, redirect or plain (see ROLES)
    host: str
    port: int
    key: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.role == 'tls' else 'http'}://{host}:{self.port}"

    def describe(self) -> str:
        """For the start-up lines, e.g. `https://0.0.0.0:8443 (HTTPS, every route; ProxyPortTLS)`."""
        return f"{self.url} ({ROLES[self.role]}; {self.key})"


def tls_on(settings: Settings) -> bool:
    return settings.use_local_tls or settings.use_acme


def _port(text: str, default: int) -> int:
    return int(text[1:]) if text else default


def redirect_port(settings: Settings) -> int:
    """The port written into HTTPS redirects: `ProxyPortRedirect`, else the TLS port."""
    return _port(settings.proxy_port_redirect, _port(settings.proxy_port_tls, 443))


def plan(settings: Settings) -> list[Listener]:
    """The listeners the settings ask for, the one running the application's lifespan first."""
    host = settings.host
    if tls_on(settings):
        listeners = [
            Listener("tls", host, _port(settings.proxy_port_tls, 443), "ProxyPortTLS"),
            Listener("redirect", host, _port(settings.proxy_port, 80), "ProxyPort"),
        ]
    else:
        listeners = [Listener("plain", host, settings.port, "Port")]
    if settings.proxy_except_http:
        extra = Listener("plain", host, _port(settings.proxy_except_http, 0), "ProxyExceptHTTP")
        if not any(other.port == extra.port and other.role == "plain" for other in listeners):
            listeners.append(extra)  # equal to Port: the same listener already serves it
    ports: dict[int, Listener] = {}
    for listener in listeners:
        other = ports.setdefault(listener.port, listener)
        if other is not listener and listener.port:
            raise ConfigError(
                f"Config keys '{other.key}' and '{listener.key}' both ask for port "
                f"{listener.port}: expected a port of its own for each listener.",
                key=listener.key,
            )
    return listeners


def holder(port: int) -> str | None:
    """'PID 1234 (python3 -m http.server)': the process listening on ``port``, when this user
    may know it (psutil reads it from /proc)."""
    try:
        connections = psutil.net_connections(kind="inet")
    except (psutil.Error, OSError):
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return None
            try:
                command = " ".join(psutil.Process(conn.pid).cmdline())
            except psutil.Error:
                return f"PID {conn.pid}"
            shown = command if len(command) <= 80 else command[:77] + "..."
            return f"PID {conn.pid} ({shown})" if shown else f"PID {conn.pid}"
    return None


def bind(listener: Listener, reuse_port: bool = False) -> socket.socket:
    """A bound socket for `listener`; ListenError says why it cannot be had. ``reuse_port``:
    `SO_REUSEPORT`, so that the HTTP workers of `Workers` each listen on the same port and the
    kernel spreads the connections over them (docs/workers.md)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        listener.host or None, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = ""
        if exc.errno == errno.EADDRINUSE:
            who = holder(listener.port) or "Another process"
            hint = f" {who} listens there; stop it or choose another port."
        elif exc.errno == errno.EACCES and listener.port < 1024:
            hint = " Ports below 1024 need root or the CAP_NET_BIND_SERVICE capability."
        raise ListenError(
            f"Cannot listen on {listener.url} ({listener.key}): {exc.strerror}.{hint}"
        ) from exc
    sock.setblocking(False)
    return sock
