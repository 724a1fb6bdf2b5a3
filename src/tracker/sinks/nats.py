"""NATS: the publishing sink and the broker seam of the consumer (the only code importing nats).

nats-py is asyncio; the writer and the consumer are not. Each owns an `EventLoopThread`: a thread
running its own event loop, to which they submit coroutines and wait for the answer.

Publishing (`NatsSink`): every ``events`` row goes to the subject ``Context`` as JSON. When a
JetStream stream covers the subject, each message is published to JetStream, which acknowledges it,
with the header ``Nats-Msg-Id`` = the event id, so a batch sent again (a retry, a replay after a
crash) is stored once within the stream's duplicate window. Otherwise it is core NATS: published,
then flushed (the server has read it; core NATS keeps nothing for absent subscribers). The client
does not reconnect by itself: a lost connection fails the write, the writer retries with backoff,
and the next write connects again, so nothing waits unsent in a client buffer.

TLS: on when ``CACert``, ``Cert`` or ``Secure`` is set or a host is ``tls://``; the server
certificate is always verified (against ``CACert``, else the system's roots). The Go tracker
skipped verification exactly when ``Secure`` was true.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import nats
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError

from tracker.config import ConfigError, Service
from tracker.errors import SinkRejected, SinkUnreachable

log = logging.getLogger(__name__)

T = TypeVar("T")
CONCURRENT_ACKS = 256  # JetStream publishes awaiting their acknowledgement at once
QUEUE_GROUP = "tracker"


class EventLoopThread:
    """An asyncio loop on its own daemon thread; `run` submits a coroutine and waits for it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


def tls_context(service: Service) -> ssl.SSLContext | None:
    """The client TLS context of a NATS entry, or None for plain TCP; a bad file is a config error."""
    wants = service.secure or service.ca_cert or service.cert
    if not wants and not any(h.startswith("tls://") for h in service.hosts):
        return None
    try:
        context = ssl.create_default_context(cafile=service.ca_cert or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if service.cert:
            context.load_cert_chain(service.cert, service.key.value or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"NATS TLS files (Cert '{service.cert}', Key, CACert '{service.ca_cert}') cannot be "
            f"loaded: {exc}. Expected readable PEM files."
        ) from exc
    return context


async def connect(
    hosts: Sequence[str], tls: ssl.SSLContext | None, timeout: float, *, reconnect: bool, name: str
) -> Client:
    async def quiet(exc: Exception) -> None:  # nats-py logs every failed attempt otherwise
        log.debug("%s: %s", name, exc)

    options: dict[str, Any] = {
        "servers": list(hosts),
        "name": name,
        "connect_timeout": timeout,
        "allow_reconnect": reconnect,
        "max_reconnect_attempts": -1 if reconnect else 0,
        "reconnect_time_wait": 0.5,
        "error_cb": quiet,
    }
    if tls is not None:
        options["tls"] = tls
    return await nats.connect(**options)


class NatsSink:
    """Publishes ``events`` rows to one subject (JetStream when a stream covers it)."""

    def __init__(self, service: Service, name: str = "nats") -> None:
        self.name = name
        self.hosts = tuple(service.hosts)
        self.subject = service.context
        self.timeout = (service.timeout_ms or 5000) / 1000
        self.tls = tls_context(service)
        self._loop: EventLoopThread | None = None
        self._client: Client | None = None
        self._jetstream: bool = False

    def open(self) -> None:
        if self._loop is None:
            self._loop = EventLoopThread(f"{self.name}-loop")

    def _run(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        self.open()
        assert self._loop is not None
        try:
            return self._loop.run(coro, self.timeout * 4)
        except (NatsError, OSError, TimeoutError) as exc:
            self._drop_client()
            raise SinkUnreachable(f"{what}: {type(exc).__name__}: {exc}") from exc

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(client.close(), self._loop.loop)

    async def _connected(self) -> Client:
        client = self._client
        if client is None or client.is_closed or not client.is_connected:
            client = await connect(
                self.hosts, self.tls, self.timeout, reconnect=False, name=self.name
            )
            try:
                await client.jetstream().find_stream_name_by_subject(self.subject)
                self._jetstream = True
            except NotFoundError:
                self._jetstream = False
            self._client = client
        return client

    def healthcheck(self) -> bool:
        return self._client is not None and self._client.is_connected

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        self._run(self._publish(lines), f"publish to {self.subject}")

    async def _publish(self, lines: Sequence[bytes]) -> None:
        client = await self._connected()
        if not self._jetstream:
            for line in lines:
                await client.publish(self.subject, line)
            await client.flush(max(int(self.timeout), 1))
            return
        stream = client.jetstream(timeout=self.timeout)
        for start in range(0, len(lines), CONCURRENT_ACKS):
            chunk = lines[start : start + CONCURRENT_ACKS]
            await asyncio.gather(
                *(
                    stream.publish(self.subject, line, headers={"Nats-Msg-Id": _message_id(line)})
                    for line in chunk
                )
            )

    def query(
        self, sql: str, fmt: str = "JSONEachRow", params: Mapping[str, object] | None = None
    ) -> bytes:
        raise SinkRejected("NATS answers no queries")

    def close(self) -> None:
        if self._loop is None:
            return
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            try:
                self._loop.run(client.close(), 5)
            except Exception as exc:  # closing is best effort
                log.debug("%s: close: %s", self.name, exc)
        self._loop.close()
        self._loop = None


def _message_id(line: bytes) -> str:
    """The event id of an ``events`` row (JetStream's deduplication key)."""
    eid = orjson.loads(line).get("eid")
    return str(eid) if eid else ""


def durable_name(subject: str) -> str:
    """The queue group and durable consumer of a JetStream subject: ``tracker_<subject>``."""
    return QUEUE_GROUP + "_" + "".join(c if c.isalnum() else "_" for c in subject)


Handler = Callable[[str, bytes], Awaitable[None]]  # (subject, payload); raising means "not stored"


class NatsBroker:
    """The consumer's seam: queue-subscribes subjects in group ``tracker`` and calls a handler.

    A subject that a JetStream stream covers is read through a durable consumer shared by the
    trackers (queue group and durable name ``tracker_<subject>``, see `durable_name`), acknowledged only after the handler returned (the rows are in the spool); a handler
    that raises gets the message redelivered. Other subjects are core NATS (at most once). The
    first connection is retried in the background; after it, the client reconnects by itself.
    """

    def __init__(self, service: Service, name: str = "nats-consume") -> None:
        self.name = name
        self.hosts = tuple(service.hosts)
        self.tls = tls_context(service)
        self.timeout = (service.timeout_ms or 5000) / 1000
        self._loop = EventLoopThread(f"{name}-loop")
        self._client: Client | None = None
        self._task: concurrent.futures.Future[None] | None = None
        self._stopping = False
        # What /metrics shows of the consumer; the consumer adds its message counts.
        self.state: dict[str, object] = {"subscribed": 0}

    def start(self, subscriptions: Sequence[tuple[str, Handler]]) -> None:
        self._task = asyncio.run_coroutine_threadsafe(self._run(subscriptions), self._loop.loop)

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def _run(self, subscriptions: Sequence[tuple[str, Handler]]) -> None:
        delay = 0.2
        while not self._stopping:
            try:
                client = await connect(
                    self.hosts, self.tls, self.timeout, reconnect=True, name=self.name
                )
            except (TimeoutError, NatsError, OSError) as exc:
                log.warning("%s: cannot connect yet, retrying: %s", self.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._client = client
            for subject, handler in subscriptions:
                await self._subscribe(client, subject, handler)
                self.state["subscribed"] = int(str(self.state["subscribed"])) + 1
            return

    async def _subscribe(self, client: Client, subject: str, handler: Handler) -> None:
        stream = client.jetstream(timeout=self.timeout)
        try:
            await stream.find_stream_name_by_subject(subject)
        except NotFoundError:

            async def core(msg: Msg) -> None:
                try:
                    await handler(msg.subject, msg.data)
                except Exception as exc:
                    log.error("%s: a message on %s was not stored: %s", self.name, subject, exc)

            await client.subscribe(subject, queue=QUEUE_GROUP, cb=core)
            return

        async def acked(msg: Msg) -> None:
            try:
                await handler(msg.subject, msg.data)
            except Exception as exc:
                log.warning("%s: a message on %s is redelivered: %s", self.name, subject, exc)
                await msg.nak(delay=1.0)
                return
            await msg.ack()

        # JetStream names the group's durable consumer after the queue, one per subject.
        group = durable_name(subject)
        await stream.subscribe(subject, queue=group, durable=group, cb=acked, manual_ack=True)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        client = self._client
        if client is not None and not client.is_closed:
            try:
                self._loop.run(client.drain(), timeout)
            except Exception as exc:  # a broker that is gone cannot be drained
                log.debug("%s: drain: %s", self.name, exc)
                try:
                    self._loop.run(client.close(), timeout)
                except Exception as close_exc:
                    log.debug("%s: close: %s", self.name, close_exc)
        if self._task is not None:
            self._task.cancel()
        self._loop.close()
