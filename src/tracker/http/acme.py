"""Certificates from an ACME server (Let's Encrypt by default) for the hosts in `Domains`.

The protocol is certbot's `acme` library; this module only decides when to ask and keeps the
results. One certificate per host, so a host that fails validation holds back no other. Files
live in `<DataDir>/acme/<directory host>/`: the account key and `<host>/cert.pem` + `key.pem`;
a directory of its own per ACME server, so a staging certificate is never served once the
production directory is configured.

At start-up the kept certificates are served at once (a self-signed stand-in until the first
one arrives). A supervised thread orders what is missing and renews each certificate once two
thirds of its lifetime have passed (30 days before the end of a 90-day Let's Encrypt one), and
swaps it into the listener without a restart (see `tracker.http.tls`). http-01 challenges are
answered from `Challenges` by the redirect listener. A failed order is retried after 2 minutes,
doubling up to an hour, which keeps within Let's Encrypt's limit of 5 failed validations per
host and hour.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from acme import challenges, client, crypto_util, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from josepy.jwk import JWKRSA

from tracker.config import Settings
from tracker.http.tls import CertificateError, Certificates

log = logging.getLogger(__name__)

LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
CHALLENGE_PREFIX = "/" + challenges.HTTP01.URI_ROOT_PATH + "/"
RETRY_FIRST = 120.0
RETRY_MAX = 3600.0
WAKE_MAX = 3600.0  # look at the certificates at least hourly (a clock jump, a deleted file)
ORDER_TIMEOUT = 120.0
_HOST = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?"
)


def directory_url(settings: Settings) -> str:
    if settings.acme_directory_url:
        return settings.acme_directory_url
    return LETSENCRYPT_STAGING if settings.acme_staging else LETSENCRYPT


def certifiable(domains: Sequence[str]) -> tuple[list[str], list[str]]:
    """The hosts an ACME server can validate over http-01, and the others (localhost, IPs,
    wildcards, single labels), which get no certificate."""
    hosts: list[str] = []
    skipped: list[str] = []
    for raw in domains:
        name = raw.strip().lower().rstrip(".")
        ok = bool(_HOST.fullmatch(name)) and not name.endswith(".localhost")
        try:
            ipaddress.ip_address(name)
            ok = False
        except ValueError:
            pass
        target = hosts if ok else skipped
        if name not in target:
            target.append(name if ok else raw)
    return hosts, skipped


class Challenges:
    """The http-01 answers being validated: token → key authorization."""

    def __init__(self) -> None:
        self._answers: dict[str, str] = {}

    def answer(self, token: str) -> str | None:
        return self._answers.get(token)

    def put(self, token: str, key_authorization: str) -> None:
        self._answers[token] = key_authorization

    def remove(self, token: str) -> None:
        self._answers.pop(token, None)


def renew_at(cert: x509.Certificate) -> float:
    """When two thirds of the certificate's lifetime have passed (unix seconds)."""
    start = cert.not_valid_before_utc.timestamp()
    end = cert.not_valid_after_utc.timestamp()
    return start + (end - start) * 2 / 3


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` atomically, so a reader sees the old file or the new one."""
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, path)


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class AcmeCertificates:
    """Keeps a valid ACME certificate installed in `certificates` for each host of `Domains`."""

    def __init__(
        self,
        settings: Settings,
        certificates: Certificates,
        challenge_answers: Challenges,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = directory_url(settings)
        self.email = settings.acme_email
        self.ca_cert = settings.acme_ca_cert
        netloc = re.sub(r"[^A-Za-z0-9.-]", "_", self.url.split("/")[2])
        self.home = settings.data_dir / "acme" / netloc
        self.certificates = certificates
        self.challenges = challenge_answers
        self.clock = clock
        self.hosts, skipped = certifiable(settings.domains)
        if skipped:
            log.warning(
                "ACME: no certificate for %s (an ACME server validates only public host names)",
                ", ".join(skipped),
            )
        self.due: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        self.renewed = 0  # certificates obtained since start-up
        self._client: client.ClientV2 | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> None:
        """Serve the kept certificates; a self-signed stand-in when there is none yet."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        now = self.clock()
        for host in self.hosts:
            self.due[host] = now
            cert_file, key_file = self.home / host / "cert.pem", self.home / host / "key.pem"
            try:
                cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
                self.certificates.install(cert_file, key_file, [host])
            except (OSError, ValueError, CertificateError):
                continue  # missing or damaged: ordered at once
            if cert.not_valid_after_utc.timestamp() > now:
                self.due[host] = renew_at(cert)
        self._pick_default()
        if self.certificates.default is None:
            self._stand_in()

    def _stand_in(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tracker (no certificate yet)")])
        now = datetime.datetime.now(datetime.UTC)
        sans = [x509.DNSName(host) for host in self.hosts] or [x509.DNSName("localhost")]
        cert = (
            x509.CertificateBuilder(subject_name=name, issuer_name=name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256())
        )
        folder = self.home / "stand-in"
        folder.mkdir(exist_ok=True, mode=0o700)
        _write(folder / "key.pem", _key_pem(key), 0o600)
        _write(folder / "cert.pem", cert.public_bytes(serialization.Encoding.PEM))
        self.certificates.install(folder / "cert.pem", folder / "key.pem")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="acme", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop looking; an order in flight is abandoned (its thread is a daemon)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = RETRY_FIRST
            try:
                now = self.clock()
                for host in self.hosts:
                    if self.due[host] <= now and not self._stop.is_set():
                        self._renew(host)
                wait = min(self.due.values(), default=now + WAKE_MAX) - self.clock()
            except Exception:  # supervised: a bug here must not end renewals for good
                log.exception("ACME: the renewal loop failed; it goes on in %.0f s", wait)
            self._stop.wait(min(max(wait, 0.5), WAKE_MAX))

    def _renew(self, host: str) -> None:
        try:
            cert = self.order(host)
        except Exception as exc:  # network, the CA's refusal, a bug: retried, never fatal
            self._client = None
            failures = self.failures.get(host, 0) + 1
            self.failures[host] = failures
            delay = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MAX)
            self.due[host] = self.clock() + delay
            log.error(
                "ACME: no certificate for %s from %s (attempt %d, next in %.0f s): %s: %s",
                host, self.url, failures, delay, type(exc).__name__, exc,
            )  # fmt: skip
            return
        self.failures.pop(host, None)
        self.due[host] = renew_at(cert)
        self.renewed += 1
        log.info(
            "ACME: certificate for %s installed, valid until %s",
            host, cert.not_valid_after_utc.isoformat(),
        )  # fmt: skip

    def _account(self) -> client.ClientV2:
        if self._client is not None:
            return self._client
        key_file = self.home / "account.key"
        if not key_file.exists():
            _write(key_file, _key_pem(rsa.generate_private_key(65537, 2048)), 0o600)
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        net = client.ClientNetwork(JWKRSA(key=key), user_agent="tracker")
        if self.ca_cert:  # requests takes a CA bundle where acme's signature says bool
            setattr(net, "verify_ssl", self.ca_cert)  # noqa: B010
        acme = client.ClientV2(client.ClientV2.get_directory(self.url, net), net)
        registration = messages.NewRegistration.from_data(
            email=self.email or None, terms_of_service_agreed=True
        )
        try:
            acme.new_account(registration)
        except errors.ConflictError as known:  # this key has an account there already
            acme.query_registration(
                messages.RegistrationResource(uri=known.location, body=registration)
            )
        self._client = acme
        return acme

    def order(self, host: str) -> x509.Certificate:
        """Order, validate (http-01), fetch, keep and install a certificate for `host`."""
        acme = self._account()
        key_pem = _key_pem(ec.generate_private_key(ec.SECP256R1()))
        order = acme.new_order(crypto_util.make_csr(key_pem, [host]))
        tokens: list[str] = []
        try:
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    continue  # validated recently for this account
                challenge = next(
                    (c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)),
                    None,
                )
                if challenge is None:
                    raise errors.Error(f"the ACME server offers no http-01 challenge for {host}")
                response, validation = challenge.response_and_validation(acme.net.key)
                token = challenge.chall.encode("token")
                self.challenges.put(token, validation)
                tokens.append(token)
                acme.answer_challenge(challenge, response)
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=ORDER_TIMEOUT)
            done = acme.poll_and_finalize(order, deadline)
        finally:
            for token in tokens:
                self.challenges.remove(token)
        chain = done.fullchain_pem.encode()
        cert = x509.load_pem_x509_certificate(chain)
        folder = self.home / host
        folder.mkdir(exist_ok=True, mode=0o700)
        _write(folder / "key.pem", key_pem, 0o600)
        _write(folder / "cert.pem", chain)
        self.certificates.install(folder / "cert.pem", folder / "key.pem", [host])
        self._pick_default()
        return cert

    def _pick_default(self) -> None:
        """Clients that name no host of ours get the first host's certificate (if it has one)."""
        by_name = self.certificates.by_name
        first = next((by_name[host] for host in self.hosts if host in by_name), None)
        if first is not None:
            self.certificates.default = first
