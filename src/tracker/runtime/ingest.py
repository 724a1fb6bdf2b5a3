"""The ingest service: what every source calls to record events, below the sources themselves.

A source (a tracking route, the WebSocket, static files, the proxy, redirects, short links, a
broker consumer) turns what it received into a `RawRequest` and event bodies; `Ingest.track` does
the rest, the same way for all of them:

1. `arrive`: what the request tells before any body, its `Origin` (client IP, host, agent, JA4H,
   clock) and its value map (``User`` header < cookies < path pairs < query);
2. one value map per body, merged over that, each normalised into a trusted `Event`;
3. the write plan's rows of every event, appended to the spool in one entry (the acknowledgement
   point: `track` returns once they are as safe as ``SpoolMode`` promises);
4. metrics: events recorded, or the drop counted by reason when anything fails.

Rows that are not events (payments, consent records, short-link changes) go through `store`,
which keeps steps 3 and 4.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracker.errors import PayloadTooLarge, SpoolFailed, TrackerError, Unavailable
from tracker.metrics import Metrics
from tracker.normalise import client, values
from tracker.normalise.event import Event, NormaliseContext, Origin, normalise, now_ms
from tracker.normalise.ids import Uuid
from tracker.normalise.ja4h import ja4h
from tracker.normalise.request import RawRequest
from tracker.plan.event_rows import plan_event
from tracker.spool import LogSpool, Record

log = logging.getLogger(__name__)

RECORDING_METHODS = frozenset({"GET", "POST", "PUT"})
INTERNAL_ERROR = "Internal error; the event was not recorded."


@dataclass(frozen=True, slots=True)
class Source:
    """A kind of request that records events, and what that means for its events."""

    name: str
    is_server: bool  # server events write no client tables and set no cookie
    captures_agent: bool = True  # /str/ ignores User-Agent and Accept-Language, as in Go
    path_depth: int = 3  # path segments before the path pairs: /tr/v1/tr/vid/X/ename/Y


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a request tells before any body; a WebSocket keeps its upgrade's for every message."""

    source: Source
    values: values.Values
    origin: Origin

    def restamped(self) -> Arrival:
        """The same arrival with the clock read again (each WebSocket message is its own event)."""
        return dataclasses.replace(self, origin=dataclasses.replace(self.origin, now=now_ms()))


@dataclass(frozen=True, slots=True)
class Identity:
    """The visitor a response names in its ``vid`` and ``sid`` cookies."""

    vid: Uuid
    sid: Uuid
    domain: str | None


def drop_reason(exc: TrackerError) -> str:
    if isinstance(exc, PayloadTooLarge):
        return "oversize"
    if isinstance(exc, SpoolFailed):
        return "spool_error"
    if isinstance(exc, Unavailable):
        return "spool_full"
    return "invalid"


def log_unexpected(source: str, exc: BaseException) -> None:
    """Log where an unexpected error happened, without its message (it may quote the payload)."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unexpected %s on %s:\n%s", type(exc).__name__, source, frames.rstrip())


def identity(events: Sequence[Event]) -> Identity | None:
    """The cookies' visitor: the last event's, for a consented client event; else none."""
    if not events or events[-1].is_server or not events[-1].consented:
        return None
    last = events[-1]
    return Identity(last.vid, last.sid, client.cookie_domain(last.host))


class Ingest:
    def __init__(
        self,
        ctx: NormaliseContext,
        trusted_proxies: client.TrustedProxies,
        spool: LogSpool,
        metrics: Metrics,
        ignore_query_key: str = "",
        planners: Sequence[Callable[[Event], list[Record]]] = (),
    ) -> None:
        self.ctx = ctx
        self.trusted_proxies = trusted_proxies
        self.spool = spool
        self.metrics = metrics
        self.ignore_query_key = ignore_query_key
        self.planners = tuple(planners)  # rows for other backends (Facebook's `fb_events`)

    # -- what a request tells ----------------------------------------------------------------
    def origin(self, req: RawRequest, source: Source) -> Origin:
        headers = req.headers
        trusted = self.trusted_proxies.contains(req.peer)
        agent = headers.get("user-agent", "") if source.captures_agent else ""
        language = headers.get("accept-language", "") if source.captures_agent else ""
        return Origin(
            ip=client.client_ip(req.peer, headers, self.trusted_proxies),
            host=client.request_host(headers.get("host", ""), headers, trusted),
            user_agent=agent,
            culture=language.split(",", 1)[0].split(";", 1)[0].strip().lower(),
            request_uri=req.request_uri,
            ja4h=ja4h(req.method, req.http_version, req.header_pairs, req.cookie_names),
            now=now_ms(),
        )

    def host(self, req: RawRequest) -> str:
        """The request's host, lowercased without its port (forwarded only from trusted proxies)."""
        trusted = self.trusted_proxies.contains(req.peer)
        return client.request_host(req.headers.get("host", ""), req.headers, trusted)

    def arrive(
        self, req: RawRequest, source: Source, path_values: Mapping[str, Any] | None = None
    ) -> Arrival:
        """V before any body: User header, cookies, path pairs after the route, query string."""
        base = values.build(
            user_header=req.headers.get("user"),
            cookies=req.cookies,
            path_values=values.from_path(req.path, source.path_depth)
            if path_values is None
            else path_values,
            query_values=values.from_query(req.query_pairs(), self.ignore_query_key),
            body=None,
        )
        return Arrival(source, base, self.origin(req, source))

    # -- recording ------------------------------------------------------------------------------
    async def track(
        self, arrival: Arrival, bodies: Sequence[Mapping[str, Any]] | None = None
    ) -> list[Event]:
        """Normalise one event per body (one event when there is none), plan and spool their rows.

        Raises TrackerError (the drop counted) when the request cannot be recorded.
        """
        started = time.perf_counter_ns()
        count = len(bodies) if bodies else 1
        try:
            events = self.events(arrival, bodies)
            await self._append(self._plan(events))
        except TrackerError as exc:
            self.refused(exc, count)
            raise
        except Exception as exc:  # a bug of ours: the client gets a 500, the server goes on
            log_unexpected(arrival.source.name, exc)
            self.metrics.drop("invalid", count)
            raise TrackerError(INTERNAL_ERROR) from exc
        self.metrics.record_event(len(events), time.perf_counter_ns() - started)
        return events

    def refused(self, exc: TrackerError, count: int = 1) -> None:
        """Count the drop of a request its source refused before `track` (a bad body, say)."""
        self.metrics.drop(drop_reason(exc), count)

    async def store(self, records: Sequence[Record]) -> None:
        """Spool rows that are not events (payments, consent records, short-link changes)."""
        try:
            await self._append(records)
        except TrackerError as exc:
            self.refused(exc)
            raise

    def events(self, arrival: Arrival, bodies: Sequence[Mapping[str, Any]] | None) -> list[Event]:
        """The normalised event of each body (no I/O: `track` plans and spools them)."""
        is_server = arrival.source.is_server
        events = []
        for body in bodies if bodies is not None else (None,):
            event_values = dict(arrival.values)
            if body:
                values.merge(event_values, body)
            events.append(normalise(event_values, arrival.origin, self.ctx, is_server=is_server))
        return events

    def _plan(self, events: list[Event]) -> list[Record]:
        records: list[Record] = []
        for event in events:
            if not event.consented:
                self.metrics.drop("no_consent")
                continue
            if event.tid is not None:
                self.metrics.campaign_events += 1
            records.extend(plan_event(event))
            for planner in self.planners:
                records.extend(planner(event))
        return records

    async def _append(self, records: Sequence[Record]) -> None:
        if records:
            await self.spool.append(records)
