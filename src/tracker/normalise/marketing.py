"""Customer information for the Facebook Conversions API: Meta's normalisation, then SHA-256.

Meta matches events to people by hashes of normalised values, so a value must be normalised exactly
as Meta does before it is hashed: the hash of ``" Jane@Example.com"`` matches nothing. Each function
here returns the lowercase hex SHA-256 of the normalised value, or None when nothing is left. A
value that already is a 64-character hex string is taken as a hash the client made and passed on
lowercased, never hashed twice.

The Go tracker sent its own base64 SHA-1 `ehash` as `em`, which matches nobody; it hashed city and
region without removing spaces, and never sent a GeoIP zip. All pure functions.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from tracker.normalise.consent import has_all

__all__ = [
    "city",
    "country",
    "email",
    "external_id",
    "is_sha256_hex",
    "marketing_allowed",
    "phone",
    "sha256_hex",
    "state",
    "zip_code",
]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_NOT_DIGIT = re.compile(r"\D")
_NOT_WORD = re.compile(r"[\W_]", re.UNICODE)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def is_sha256_hex(value: str) -> bool:
    return _HEX64.fullmatch(value) is not None


def _hashed(value: object, normalised: str) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()
    if is_sha256_hex(text):
        return text.lower()
    return sha256_hex(normalised) if normalised else None


def _text(value: object) -> str:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""


def email(value: object) -> str | None:
    """``em``: trimmed and lowercased."""
    return _hashed(value, _text(value).strip().lower())


def phone(value: object) -> str | None:
    """``ph``: digits only, without the leading zeros of an international prefix (``00``).

    Meta needs the country code in the number; a number sent without one cannot be completed
    here, so send phone numbers in international form (``+1 650 555 0100``).
    """
    return _hashed(value, _NOT_DIGIT.sub("", _text(value)).lstrip("0"))


def city(value: object) -> str | None:
    """``ct``: lowercase letters without spaces or punctuation (accents kept, as UTF-8)."""
    return _hashed(value, _NOT_WORD.sub("", unicodedata.normalize("NFC", _text(value)).lower()))


def state(value: object) -> str | None:
    """``st``: the region code, lowercase, without spaces or punctuation."""
    return city(value)


def zip_code(value: object, country_code: str = "") -> str | None:
    """``zp``: lowercase without spaces or dashes; a US zip is its first five digits."""
    text = re.sub(r"[\s\-]", "", _text(value).lower())
    if country_code.lower() == "us":
        text = text[:5]
    return _hashed(value, text)


def country(value: object) -> str | None:
    """``country``: the ISO 3166-1 alpha-2 code, lowercase."""
    text = _text(value).strip().lower()
    return _hashed(value, text if len(text) == 2 and text.isalpha() else "")


def external_id(value: object) -> str | None:
    """``external_id``: our user (or visitor) id, trimmed and lowercased."""
    return _hashed(value, _text(value).strip().lower())


def marketing_allowed(cflags: int | None, mask: int, allow_missing: bool) -> bool:
    """The Facebook consent gate: every ``CFlagsMarketing`` bit set in ``cflags``; an event
    without ``cflags`` passes only with ``CFlagsIgnore`` (the Go tracker compared numbers)."""
    if cflags is None:
        return allow_missing
    return has_all(cflags, mask)
