"""The ingest service: what every source calls to record events, below the sources themselves.

A source (a tracking route, the WebSocket, static files, the proxy, redirects, short links, a
broker consumer) turns what it received into a `RawRequest` and event bodies; `Ingest.track` does
the rest, the same way for all of them:

1. `arrive`: what the request tells before any body, its `Origin` (client IP, host, agent, JA4H,
   clock) and its value map (``User`` header < cookies < path pairs < query);
2. one value map per body, merged over that, each normalised into a trusted `Event`; a body
   that cannot be (a bad value, a bug of ours) is refused on its own, and the others go on: one
   bad event never costs the good ones. `track` returns what was stored and what was refused,
   with the reason, so each source can tell its client (`Tracked`);
3. the write plan's rows of every event, appended to the spool in one entry (the acknowledgement
   point: `track` returns once they are as safe as ``SpoolMode`` promises);
4. metrics: events recorded, or the drop counted by reason when anything fails; params keys over
   ``MaxParamKeys`` counted too.

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
class Refusal:
    """A body `track` did not record, by its index in the request, and why."""

    index: int
    error: TrackerError

    def as_json(self) -> dict[str, object]:
        return {"index": self.index, "status": self.error.status, "error": self.error.message}


@dataclass(frozen=True, slots=True)
class Tracked:
    """What `track` did with a request's bodies: the events stored, and the bodies refused."""

    events: list[Event]
    refused: list[Refusal]
    count: int  # bodies in the request

    def ids(self) -> list[Uuid | None]:
        """Each body's event id, in the request's order; None where it was refused."""
        stored = iter(self.events)
        refused = {r.index for r in self.refused}
        return [None if i in refused else next(stored).eid for i in range(self.count)]

    def partial(self) -> dict[str, object]:
        """The answer that tells a client which of its events were refused, and why."""
        return {
            "ok": True,
            "stored": len(self.events),
            "refused": [r.as_json() for r in self.refused],
        }


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

    def secure(self, req: RawRequest) -> bool:
        """Whether the client reached us over HTTPS: the scheme of the socket, or the one a
        trusted proxy that terminates TLS names (``X-Forwarded-Proto``, ``Forwarded: proto=``)."""
        trusted = self.trusted_proxies.contains(req.peer)
        return client.request_scheme(req.scheme, req.headers, trusted) == "https"

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
    ) -> Tracked:
        """Normalise one event per body (one event when there is none), plan and spool their rows.

        A body that cannot be normalised is refused alone (counted as ``invalid``) and listed in
        the result. Raises TrackerError (the drop counted) when nothing can be recorded: every
        body refused (the first one's error), or the spool refusing the request.
        """
        started = time.perf_counter_ns()
        events, refused = self.events(arrival, bodies)
        if refused:
            self.metrics.drop("invalid", len(refused))
        if not events:
            raise refused[0].error
        try:
            await self._append(self._plan(events))
        except TrackerError as exc:
            self.refused(exc, len(events))
            raise
        except Exception as exc:  # a bug of ours: the client gets a 500, the server goes on
            log_unexpected(arrival.source.name, exc)
            self.metrics.drop("invalid", len(events))
            raise TrackerError(INTERNAL_ERROR) from exc
        self.metrics.record_event(len(events), time.perf_counter_ns() - started)
        dropped_keys = sum(event.dropped_keys for event in events)
        if dropped_keys:
            self.metrics.dropped_keys["too_many_keys"] += dropped_keys
        return Tracked(events, refused, len(bodies) if bodies else 1)

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

    def events(
        self, arrival: Arrival, bodies: Sequence[Mapping[str, Any]] | None
    ) -> tuple[list[Event], list[Refusal]]:
        """The normalised event of each body, and the bodies refused (no I/O: `track` plans and
        spools the events)."""
        is_server = arrival.source.is_server
        events: list[Event] = []
        refused: list[Refusal] = []
        for index, body in enumerate(bodies if bodies is not None else (None,)):
            event_values = dict(arrival.values)
            try:
                if body:
                    values.merge(event_values, body)
                events.append(
                    normalise(event_values, arrival.origin, self.ctx, is_server=is_server)
                )
            except TrackerError as exc:
                refused.append(Refusal(index, exc))
            except Exception as exc:  # a bug of ours costs this event only
                log_unexpected(arrival.source.name, exc)
                refused.append(Refusal(index, TrackerError(INTERNAL_ERROR)))
        return events, refused

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
