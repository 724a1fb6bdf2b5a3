"""Dashboard logins: the signed session cookie, the login rate limit, and the same-origin check.

* **Session cookie** ``tracker_session``: ``<payload>.<signature>``, where the payload is the
  base64url of ``uid|expires|nonce`` and the signature an HMAC-SHA256 of it under
  ``DashboardSecret`` (or ``<DataDir>/dashboard.key``). It is ``HttpOnly``, ``SameSite=Lax``,
  ``Secure`` when the request came over TLS, and lasts `SESSION_SECONDS`. Logging out clears it
  and remembers its nonce until it would have expired, so a copy of it stops working here.
* **CSRF**: every state-changing request (POST) must come from a page of this host: its
  ``Origin`` header (or, without one, its ``Referer``) must name the host the request was sent to
  (``Host``, or a trusted proxy's forwarded host).
  Together with ``SameSite=Lax`` a form on another site cannot use a logged-in browser.
* **Login rate limit**: `LoginLimiter` allows `MAX_FAILURES` failed logins per client address,
  and `MAX_ACCOUNT_FAILURES` per account (from any address), in `WINDOW_SECONDS`; beyond that,
  429 with ``Retry-After``. Passwords are never
  logged, and the answer never says whether the account exists.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from tracker.errors import Forbidden, TooManyRequests
from tracker.normalise.ids import Uuid, parse_uuid

__all__ = ["SESSION_COOKIE", "LoginLimiter", "Sessions", "same_origin"]

SESSION_COOKIE = "tracker_session"
SESSION_SECONDS = 12 * 3600
MAX_FAILURES = 10
MAX_ACCOUNT_FAILURES = 30  # higher: anyone can fail an account's logins and lock its owner out
WINDOW_SECONDS = 15 * 60
MAX_TRACKED = 10_000  # addresses and accounts remembered by the limiter (oldest forgotten first)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues and checks the signed session cookie's value."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self.key = hashlib.sha256(b"tracker dashboard session\0" + key).digest()
        self.clock = clock
        self._revoked: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def _sign(self, payload: str) -> str:
        return _b64(hmac.digest(self.key, payload.encode("ascii"), "sha256"))

    def issue(self, uid: Uuid) -> str:
        expires = int(self.clock()) + SESSION_SECONDS
        payload = _b64(f"{uid}|{expires}|{_b64(os.urandom(12))}".encode("ascii"))
        return f"{payload}.{self._sign(payload)}"

    def _open(self, token: str) -> tuple[Uuid, int, str] | None:
        payload, _, signature = token.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            uid_text, expires_text, nonce = _unb64(payload).decode("ascii").split("|")
            expires = int(expires_text)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        uid = parse_uuid(uid_text)
        if uid is None or expires <= self.clock():
            return None
        return uid, expires, nonce

    def verify(self, token: str | None) -> Uuid | None:
        """The account of a valid, unexpired, not logged-out session token; else None."""
        if not token or len(token) > 512:
            return None
        opened = self._open(token)
        if opened is None:
            return None
        with self._lock:
            if opened[2] in self._revoked:
                return None
        return opened[0]

    def revoke(self, token: str | None) -> None:
        opened = self._open(token) if token and len(token) <= 512 else None
        if opened is None:
            return
        now = self.clock()
        with self._lock:
            self._revoked[opened[2]] = opened[1]
            while self._revoked and (
                len(self._revoked) > MAX_TRACKED or next(iter(self._revoked.values())) <= now
            ):
                self._revoked.popitem(last=False)


def session_cookie(token: str, secure: bool) -> tuple[bytes, bytes]:
    parts = [f"{SESSION_COOKIE}={token}", "Path=/", "HttpOnly", "SameSite=Lax"]
    parts.append("Max-Age=0" if not token else f"Max-Age={SESSION_SECONDS}")
    if secure:
        parts.append("Secure")
    return b"set-cookie", "; ".join(parts).encode("ascii")


class LoginLimiter:
    """Failed logins per client address and per account in a sliding window."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        max_account_failures: int = MAX_ACCOUNT_FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.max_account_failures = max_account_failures
        self.window = window
        self.clock = clock
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, ()) if t > now - self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def check(self, address: str, account: str) -> None:
        """Raise TooManyRequests while either key has used up its failures."""
        now = self.clock()
        with self._lock:
            for key, most in (
                (f"ip:{address}", self.max_failures),
                (f"uid:{account}", self.max_account_failures),
            ):
                times = self._recent(key, now)
                if len(times) >= most:
                    wait = int(times[0] + self.window - now) + 1
                    raise TooManyRequests(
                        f"Too many failed logins: try again in {wait} seconds.", wait
                    )

    def failed(self, address: str, account: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (f"ip:{address}", f"uid:{account}"):
                self._failures.setdefault(key, []).append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(f"ip:{address}", None)


def same_origin(headers: Mapping[str, str], host: str) -> None:
    """Raise Forbidden unless ``Origin`` (else ``Referer``) names ``host``, the host the request
    was sent to (lowercased, without port: cookies do not tell ports apart either)."""
    source = headers.get("origin") or headers.get("referer") or ""
    try:
        claimed = urlsplit(source).hostname or "" if source != "null" else ""
    except ValueError:
        claimed = ""
    if not host or claimed.rstrip(".") != host.rstrip("."):
        raise Forbidden(
            "This request must come from a page of the dashboard itself (its Origin or Referer "
            "header does not name this host)."
        )
