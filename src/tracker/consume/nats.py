"""The NATS consumer: ``Consume`` entries with ``Service: "nats"``, one subscription per ``Filter``.

Each filter's ``Id`` is a subject, queue-subscribed in group ``tracker`` (so several trackers share
the messages), and its ``Alias`` says what the messages are: ``count``, ``update`` or ``log``
(`tracker.plan.consume_rows`). A message's rows go through `Ingest.store`, the same spool append
as every tracked event; JetStream messages are acknowledged only after it returned, so a message is
never acknowledged before its rows are as safe as ``SpoolMode`` promises. The broker's client runs
on its own event loop (`tracker.sinks.nats.NatsBroker`); the spool append runs on the server's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import orjson

from tracker.config import Service, Settings
from tracker.errors import InvalidEvent, TrackerError
from tracker.normalise.event import now_ms
from tracker.plan.consume_rows import ALIASES, plan_message
from tracker.runtime import Ingest
from tracker.sinks.nats import Handler, NatsBroker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subscription:
    subject: str
    alias: str


class NatsConsumer:
    """One `Consume` entry: started and stopped with the runtime (`Runtime.attach`)."""

    def __init__(self, service: Service, ingest: Ingest, name: str = "nats-consume") -> None:
        self.service = service
        self.ingest = ingest
        self.name = name
        self.subscriptions = [
            Subscription(f.id, f.alias) for f in service.filter if f.id and f.alias in ALIASES
        ]
        self.broker: NatsBroker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.state: dict[str, object] = {}

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()  # the spool is appended to on this loop
        self.broker = broker = NatsBroker(self.service, self.name)
        broker.start([(s.subject, self._handler(s.alias)) for s in self.subscriptions])
        self.state = broker.state
        self.state.update(subscriptions=len(self.subscriptions), messages=0, refused=0)
        self.ingest.metrics.sources[self.name] = self.state

    def _count(self, key: str) -> None:
        self.state[key] = int(str(self.state[key])) + 1

    async def stop(self) -> None:
        if self.broker is not None:
            broker, self.broker = self.broker, None
            await asyncio.to_thread(broker.stop)

    def _handler(self, alias: str) -> Handler:
        async def handle(subject: str, data: bytes) -> None:
            """Runs on the broker's loop; returns once the rows are spooled, raises if not."""
            try:
                payload = orjson.loads(data)
                if not isinstance(payload, dict):
                    raise InvalidEvent("a NATS message must be a JSON object")
                ctx = self.ingest.ctx
                records = plan_message(
                    alias, subject, payload, now_ms(), ctx.ip_secret, ctx.remove_ip
                )
            except (orjson.JSONDecodeError, TrackerError) as exc:
                # Bad data is counted and acknowledged: redelivering it cannot help.
                self.ingest.refused(exc if isinstance(exc, TrackerError) else InvalidEvent(""))
                self._count("refused")
                log.warning(
                    "%s: a message on %s is not %s data; dropped", self.name, subject, alias
                )
                return
            assert self._loop is not None
            stored = asyncio.run_coroutine_threadsafe(self.ingest.store(records), self._loop)
            await asyncio.wrap_future(stored)
            self._count("messages")

        return handle


def consumers(settings: Settings, ingest: Ingest) -> list[NatsConsumer]:
    """The usable NATS `Consume` entries (the loader warned about the others)."""
    entries = [
        s
        for s in settings.consume
        if s.service == "nats"
        and not s.skip
        and s.hosts
        and any(f.id and f.alias for f in s.filter)
    ]
    return [
        NatsConsumer(s, ingest, "nats-consume" if i == 0 else f"nats-consume-{i + 1}")
        for i, s in enumerate(entries)
    ]
