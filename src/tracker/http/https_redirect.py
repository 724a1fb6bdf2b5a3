"""The redirect listener (`ProxyPort`): HTTPS redirects and ACME http-01 answers, nothing else.

* `GET /.well-known/acme-challenge/<token>` answers the key authorization of a challenge being
  validated (404 for any other token).
* Every other request is redirected to the same path and query on the TLS listener:
  `https://<host>[:<port>]<path>?<query>`. The host is the request's `Host` without its port,
  and the port is `ProxyPortRedirect` or the TLS port, left out when it is 443. (The Go tracker
  kept the port of `Host`, giving `https://localhost:8080:8443/x`.)
* GET and HEAD get 301; every other method gets 308, which makes the client repeat the same
  method with the same body at the new address. (301 and 302 let clients turn a POST into a
  GET without its body, which would silently drop an event.) Both are permanent: the HTTPS
  address is where the tracker lives for as long as TLS is on.
* The host is never copied into `Location` unchecked: it must be a syntactically valid host
  name or IP address, and when `Domains` is set, one of them. Anything else gets 400 in the
  JSON error shape, so a forged `Host` cannot make the tracker point anywhere else (for
  instance through a shared cache that ignores `Host`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import quote

from tracker.errors import BadRequest, NotFound
from tracker.http.acme import CHALLENGE_PREFIX, Challenges
from tracker.http.request import Receive, Scope, Send
from tracker.http.responses import respond, respond_error

_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


def split_host(raw: str) -> str | None:
    """The host of a `Host` header, lowercased, without its port; None when it is not a valid
    host name, IPv4 address or bracketed IPv6 address (with an optional numeric port)."""
    raw = raw.strip().lower()
    if raw.startswith("["):
        inside, bracket, port = raw[1:].partition("]")
        if not bracket or (port and not re.fullmatch(r":\d{1,5}", port)):
            return None
        try:
            return f"[{ipaddress.IPv6Address(inside).compressed}]"
        except ValueError:
            return None
    name, colon, port = raw.partition(":")
    if colon and not re.fullmatch(r"\d{1,5}", port):
        return None
    name = name.rstrip(".")
    return name if _NAME.fullmatch(name) else None


class HttpsRedirect:
    """The ASGI app of the redirect listener."""

    def __init__(
        self, redirect_port: int, domains: Sequence[str], challenges: Challenges | None
    ) -> None:
        self.port_text = "" if redirect_port == 443 else f":{redirect_port}"
        self.domains = frozenset(d.strip().lower().rstrip(".") for d in domains)
        self.challenges = challenges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # this listener has no start-up of its own
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith(CHALLENGE_PREFIX) and method in ("GET", "HEAD"):
            await self.challenge(path[len(CHALLENGE_PREFIX) :], send)
            return
        host_header = next((v for k, v in scope["headers"] if k == b"host"), b"")
        host = split_host(host_header.decode("latin-1"))
        if host is None or (self.domains and host.strip("[]") not in self.domains):
            shown = host_header.decode("latin-1")[:100]
            expected = "one of Domains" if self.domains else "a host name or IP address"
            message = f"Host '{shown}' cannot be redirected to HTTPS: expected {expected}."
            await respond_error(send, BadRequest(message))
            return
        raw_path = scope.get("raw_path") or path.encode()
        target = quote(raw_path, safe=_PATH_SAFE)  # bytes: non-ASCII is encoded as sent
        query = scope.get("query_string", b"")
        if query:
            target += "?" + quote(query, safe=_QUERY_SAFE)
        location = f"https://{host}{self.port_text}{target}"
        status = 301 if method in ("GET", "HEAD") else 308
        await respond(send, status, b"", [(b"location", location.encode("ascii"))])

    async def challenge(self, token: str, send: Send) -> None:
        answer = self.challenges.answer(token) if self.challenges else None
        if answer is None:
            await respond_error(send, NotFound("No ACME challenge with this token is pending."))
            return
        await respond(send, 200, answer.encode("ascii"), content_type=b"text/plain")
