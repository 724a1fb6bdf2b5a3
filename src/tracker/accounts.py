"""Accounts of the redirect (short-link) API: password schemes, credentials and the lookup.

Two password forms live side by side in ``accounts.pwd``:

* the Go tracker's: base64url (with ``=`` padding) of an unsalted SHA-1 of the password
  (``tracker.normalise.hashing.password_sha1``). Accepted so existing deployments keep working;
  never written by this tracker.
* ours, for new accounts: ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (salt and hash unpadded
  base64url), from ``hashlib.scrypt`` with a random 16-byte salt. The parameters travel with the
  hash, so they can be raised later without breaking older rows.

Comparisons are constant-time (``hmac.compare_digest``). An unknown account costs the same scrypt
work as a wrong password, so response times do not reveal which accounts exist. A successful
scrypt check is remembered for a minute (keyed by an HMAC of the password under a per-process
random key), so a client creating many links pays the scrypt cost once.

Credentials come from an ``Authorization: Basic base64(uid:password)`` header or, as in the Go
tracker, from the ``{uid}/{password}`` path segments; the header wins, and with it the path
segments may be left out or be placeholders.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from tracker.errors import BadRequest, Unauthorized
from tracker.normalise.hashing import password_sha1
from tracker.normalise.ids import Uuid, parse_uuid
from tracker.plan.coerce import format_time

__all__ = [
    "Accounts",
    "Credentials",
    "Unauthorized",
    "add_account_sql",
    "credentials",
    "hash_password",
    "new_account",
    "verify_password",
]

SCRYPT_PREFIX = "scrypt"
# Django's scrypt defaults (2**14, 8, 1): 16 MiB and tens of milliseconds per check.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_MAXMEM = 256 * 2**20
SALT_BYTES = 16
HASH_BYTES = 32
VERIFIED_TTL = 60.0
VERIFIED_MAX = 256

QueryFn = Callable[..., bytes]


WRONG = "Unknown account or wrong password."


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=HASH_BYTES
    )


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The ``scrypt$n$r$p$salt$hash`` form of ``password`` with a fresh random salt."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{SCRYPT_PREFIX}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (either form); False for a malformed ``stored``."""
    if stored.startswith(SCRYPT_PREFIX + "$"):
        parts = stored.split("$")
        if len(parts) != 6:
            return False
        try:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, expected = _unb64(parts[4]), _unb64(parts[5])
            if not (1 < n <= 2**20 and 0 < r <= 32 and 0 < p <= 16 and expected):
                return False
            actual = hashlib.scrypt(
                password.encode(),
                salt=salt,
                n=n,
                r=r,
                p=p,
                maxmem=SCRYPT_MAXMEM,
                dklen=len(expected),
            )
        except (ValueError, binascii.Error):
            return False
        return hmac.compare_digest(actual, expected)
    if not stored:
        return False
    return hmac.compare_digest(password_sha1(password).encode(), stored.encode())


@dataclass(frozen=True)
class Credentials:
    uid: Uuid
    password: str


def _from_header(authorization: str) -> tuple[str, str] | None:
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None  # another scheme (e.g. a client's Bearer JWT) is not ours to read
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("The Authorization header is not valid Basic credentials.") from None
    uid, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthorized("The Authorization header must hold 'uid:password'.")
    return uid, password


def credentials(
    headers: Mapping[str, str], path_uid: str | None, path_password: str | None
) -> Credentials:
    """The request's credentials: the Basic ``Authorization`` header, else the path segments."""
    pair = _from_header(headers["authorization"]) if headers.get("authorization") else None
    if pair is None:
        if not path_uid or not path_password:
            raise Unauthorized(
                "Credentials required: send 'Authorization: Basic <base64 of uid:password>' "
                "or put /{uid}/{password} in the path."
            )
        pair = (path_uid, path_password)
    uid_text, password = pair
    uid = parse_uuid(uid_text)
    if uid is None:
        # Not echoed: a client that swapped the fields would see its password in the answer.
        raise BadRequest("The account id is not a UUID (expected e.g. 0b9d1c3e-…-8f2a).")
    if not password:
        raise Unauthorized(WRONG)
    return Credentials(uid, password)


class Accounts:
    """Checks credentials against ``accounts`` through the sink's ``query`` (blocking: run it
    off the event loop)."""

    def __init__(self, query: QueryFn, clock: Callable[[], float] = time.monotonic) -> None:
        self.query = query
        self.clock = clock
        self._key = os.urandom(32)
        self._verified: OrderedDict[tuple[Uuid, str], tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()  # authenticate runs in worker threads
        self._dummy = hash_password(os.urandom(12).hex())

    def stored_password(self, uid: Uuid) -> str | None:
        output = self.query(
            "SELECT pwd FROM accounts FINAL WHERE uid = {uid:UUID} "
            "ORDER BY updated_at DESC LIMIT 1",
            "JSONEachRow",
            params={"uid": uid},
        )
        line = output.strip()
        if not line:
            return None
        pwd = orjson.loads(line.splitlines()[0]).get("pwd")
        return pwd if isinstance(pwd, str) else None

    def authenticate(self, creds: Credentials) -> None:
        """Return when the credentials are right; raise Unauthorized otherwise."""
        stored = self.stored_password(creds.uid)
        if stored is None:
            verify_password(creds.password, self._dummy)  # same work as a real check
            raise Unauthorized(WRONG)
        mark = hmac.digest(self._key, creds.password.encode(), "sha256")
        key = (creds.uid, stored)
        now = self.clock()
        with self._lock:
            seen = self._verified.get(key)
        if seen is not None and seen[1] > now and hmac.compare_digest(seen[0], mark):
            return
        if not verify_password(creds.password, stored):
            raise Unauthorized(WRONG)
        if stored.startswith(SCRYPT_PREFIX + "$"):  # SHA-1 is cheap: nothing worth remembering
            with self._lock:
                self._verified[key] = (mark, now + VERIFIED_TTL)
                self._verified.move_to_end(key)
                while len(self._verified) > VERIFIED_MAX:
                    self._verified.popitem(last=False)


def new_account(uid_text: str | None, password: str) -> tuple[Uuid, str]:
    """``tracker accounts add``: the account id (given, or a new random one) and its INSERT."""
    uid = Uuid(str(uuid.uuid4())) if not uid_text else parse_uuid(uid_text)
    if uid is None:
        raise BadRequest(f"--uid {uid_text!r} is not a UUID.")
    return uid, add_account_sql(uid, password)


def add_account_sql(uid: Uuid, password: str, now: datetime | None = None) -> str:
    """An INSERT of a new account (scrypt form); the row travels as JSON data, not SQL text."""
    if not password:
        raise BadRequest("The password must not be empty.")
    moment = format_time(now or datetime.now(UTC))
    row = {
        "uid": uid,
        "pwd": hash_password(password),
        "created_at": moment,
        "updated_at": moment,
    }
    return "INSERT INTO accounts FORMAT JSONEachRow " + orjson.dumps(row).decode()
