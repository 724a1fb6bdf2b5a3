"""The TLS listener's certificates: one SSL context per host name, swapped in place.

uvicorn takes one `ssl.SSLContext` for a listener's whole life. `Certificates.context()` is that
listening context; its SNI callback (which OpenSSL calls on every handshake, with or without a
server name) hands each new connection the context of the certificate currently held for the
name the client asked for, or the default one. Installing a new certificate therefore replaces
a reference: new handshakes get it, connections already open keep theirs, and nothing is
restarted. (Reloading a certificate into the same context with `load_cert_chain` would keep a
replaced certificate of another key type in OpenSSL's other key slot.)

Every context allows TLS 1.2 and 1.3 only, with forward-secret AEAD ciphers for TLS 1.2
(Mozilla's "intermediate" list), and offers the ALPN protocols of the listener.

`CertificateFiles` serves `TLSCert`/`TLSKey` and reloads them when either file changes on disk
(an external certbot renewing them, say): a pair that does not load (a half-written file, a key
that does not match) is reported and the previous certificate stays in service.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tracker.errors import TrackerError

log = logging.getLogger(__name__)

# TLS 1.2 suites: ECDHE key exchange and AEAD ciphers only (TLS 1.3 suites are all AEAD).
CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
HTTP1 = ("http/1.1",)
HTTP2 = ("h2", "http/1.1")


class CertificateError(TrackerError):
    """A certificate or key file that cannot be served."""


def server_context(cert_file: Path, key_file: Path, alpn: Sequence[str]) -> ssl.SSLContext:
    """A server context holding one certificate chain; CertificateError names what is wrong."""
    ctx = bare_context(alpn)
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CertificateError(
            f"The TLS certificate '{cert_file}' with key '{key_file}' cannot be loaded: {reason}. "
            "Expected a PEM certificate chain and the PEM private key that matches it."
        ) from exc
    return ctx


def bare_context(alpn: Sequence[str]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS)
    ctx.options |= ssl.OP_NO_RENEGOTIATION
    ctx.set_alpn_protocols(list(alpn))
    return ctx


class Certificates:
    """The certificates a TLS listener serves, by lowercase host name, and the default one."""

    def __init__(self, alpn: Sequence[str]) -> None:
        self.alpn = tuple(alpn)
        self.default: ssl.SSLContext | None = None
        self.by_name: dict[str, ssl.SSLContext] = {}
        self._listening: ssl.SSLContext | None = None

    def install(self, cert_file: Path, key_file: Path, names: Sequence[str] = ()) -> None:
        """Serve this chain for `names` (for every name without one of its own when `names` is
        empty); raises CertificateError, leaving what was served, when the pair does not load."""
        ctx = server_context(cert_file, key_file, self.alpn)
        if not names:
            self.default = ctx
        for name in names:
            self.by_name[name.lower()] = ctx
        if self.default is None:
            self.default = ctx

    def context(self) -> ssl.SSLContext:
        """The one context the listener is created with; it hands each handshake the current one."""
        if self._listening is None:
            self._listening = bare_context(self.alpn)
            self._listening.sni_callback = self._choose
        return self._listening

    def _choose(self, conn: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        chosen = self.by_name.get(name.lower()) if name else None
        chosen = chosen or self.default
        if chosen is not None:
            conn.context = chosen
        return None  # the handshake goes on (with no certificate at all it then fails)


@dataclass(frozen=True)
class _Seen:
    """What identifies a file's content cheaply: inode, size and modification time."""

    cert: tuple[int, int, int] | None
    key: tuple[int, int, int] | None


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class CertificateFiles:
    """`TLSCert` and `TLSKey`, served through `certificates` and reloaded when they change."""

    def __init__(self, cert_file: Path, key_file: Path, certificates: Certificates) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.certificates = certificates
        self.seen = self._seen()
        self.failed: _Seen | None = None
        certificates.install(cert_file, key_file)  # at start-up a bad pair is an error

    def _seen(self) -> _Seen:
        return _Seen(_stat(self.cert_file), _stat(self.key_file))

    def poll(self) -> bool:
        """Reload the pair if either file changed since the last look; True when it did."""
        seen = self._seen()
        if seen == self.seen or seen == self.failed or seen.cert is None or seen.key is None:
            return False
        try:
            self.certificates.install(self.cert_file, self.key_file)
        except CertificateError as exc:
            self.failed = seen  # said once per change; the next change is tried again
            log.warning("%s The certificate in service is kept.", exc.message)
            return False
        self.seen, self.failed = seen, None
        log.info("Reloaded the TLS certificate %s", self.cert_file)
        return True
