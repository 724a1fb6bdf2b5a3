"""From the untrusted value map V to the trusted, normalised `Event`.

`normalise()` applies the steps below in this order; each comment says why the step sits where it
does. Every step is a pure function of its inputs (the clock and the id generator are passed in
through `Origin` and `new_id`), so the whole pipeline is testable without a server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tracker.errors import InvalidEvent
from tracker.normalise import geo, hashing, marketing, params, urls
from tracker.normalise.agent import UNKNOWN, AgentParser
from tracker.normalise.consent import has_all, parse_cflags
from tracker.normalise.geoip import GeoIP
from tracker.normalise.geoip.locate import locate
from tracker.normalise.ids import ZERO_UUID, Uuid, new_id, parse_uuid
from tracker.normalise.values import Values

# String fields the Go tracker meant to trim and lowercase (its helper was a no-op, so it stored
# them as sent).
IDENTIFIER_FIELDS = (
    "app", "rel", "ptyp", "xid", "split", "ename", "etyp", "sink", "source", "medium",
    "campaign", "content", "term", "relation", "aff", "arm_id", "mcid", "device", "os",
)  # fmt: skip

_IDENTIFIER_SET = frozenset(IDENTIFIER_FIELDS)

# Fields that must be scalars; an object or array here is a client error, not something to store.
SCALAR_FIELDS = _IDENTIFIER_SET - {"content"} | {
    "eid", "vid", "sid", "uid", "oid", "tid", "rid", "auth_id", "invoice_id",
    "url", "last", "score", "duration", "ver", "cflags", "country", "region", "city", "zip",
    "tz", "email", "cell", "uname", "ehash", "chash", "uhash", "acct", "outcome", "browser",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Origin:
    """What the request itself tells, computed once per request (shared by a batch's events)."""

    ip: str
    host: str
    user_agent: str
    culture: str
    request_uri: str
    ja4h: str
    now: datetime


@dataclass(frozen=True, slots=True)
class NormaliseContext:
    """Settings the pipeline needs, prepared once at start-up."""

    url_filter: urls.UrlFilter
    ip_secret: bytes
    prefix_private_hash: str = ""
    account_hash_mixer: str = ""
    remove_ip: bool = False
    geoip: GeoIP | None = None  # None: GeoIP is off
    use_region_descriptions: bool = False
    agents: AgentParser | None = None  # None: no parsing; `browser` is the lowercased agent (Go)
    cflags_analytics: int = 0  # CFlagsAnalytics: bits an event needs to be stored; 0 asks none
    marketing: bool = (
        False  # a Facebook entry is configured: keep Meta's hashes (`Event.marketing`)
    )
    cflags_marketing: int = 0  # CFlagsMarketing: bits an event needs to be sent to Facebook
    cflags_ignore: bool = False  # CFlagsIgnore: events without cflags may be sent to Facebook
    max_param_keys: int = 100  # MaxParamKeys: keys kept in params (and in targets), all depths


@dataclass(slots=True)
class Event:
    """A normalised event: every field has its final type and meaning."""

    eid: Uuid
    vid: Uuid
    sid: Uuid
    uid: Uuid | None  # the ids below are None when absent or not a UUID
    oid: Uuid | None
    tid: Uuid | None
    new_visitor: bool
    is_server: bool
    created_at: datetime
    values: Values  # V after normalisation: messaging and side tables read their columns from it
    params: dict[str, Any]
    targets: dict[str, Any]
    url: str | None
    last: str | None
    ip: str
    iphash: str
    host: str
    hhash: str
    bhash: str
    browser: str
    culture: str
    ja4h: str
    cflags: int
    ehash: str | None = None
    chash: str | None = None
    uhash: str | None = None
    country: str = ""
    region: str = ""
    city: str = ""
    zip: str = ""
    lat: float = 0.0
    lon: float = 0.0
    consented: bool = True  # False: no analytics consent (CFlagsAnalytics); nothing is stored
    # With marketing consent and a Facebook entry: Meta's SHA-256 of the email and phone (the
    # clear values are dropped in step 9) and the client's agent and IP, which the Conversions
    # API takes in clear; None otherwise (docs/facebook.md says what is kept and for how long).
    marketing: dict[str, str] | None = None
    dropped_keys: int = 0  # params and targets keys over MaxParamKeys, left out (and counted)


def check_types(values: Values) -> None:
    """Reject objects and arrays where a scalar is expected (the Go tracker dropped whole batches)."""
    for key, value in values.items():
        # Containers are rare, so the type test comes first (a tuple is quicker than `dict | list`).
        if isinstance(value, (dict, list)) and key in SCALAR_FIELDS:
            raise InvalidEvent(
                f"Field '{key}' must be a string or number, not a JSON {_kind(value)}."
            )
    # `content` may be a tag list (visitor_interests) but never an object: that would be stored
    # as its Python repr in events.content.
    if isinstance(values.get("content"), dict):
        raise InvalidEvent("Field 'content' must be a string or a list of tags, not a JSON object.")


def _kind(value: object) -> str:
    return "object" if isinstance(value, dict) else "array"


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _object(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def normalise(
    values: Values,
    origin: Origin,
    ctx: NormaliseContext,
    *,
    is_server: bool,
    make_id: Callable[[], Uuid] = new_id,
) -> Event:
    v = dict(values)

    # 1. Types first, so every later step can rely on scalars where scalars belong.
    check_types(v)

    # 2. Account check before anything is derived: a rejected event must leave no trace.
    if ctx.account_hash_mixer and origin.host:
        expected = hashing.account_check(origin.host, ctx.account_hash_mixer)
        if _text(v.get("acct", "")) != expected:
            raise InvalidEvent("Field 'acct' does not match this host.")

    # 3. Identifier strings are trimmed and lowercased on every transport (Go meant to); before
    #    the ename alias so the alias copies the cleaned value.
    #    Only the fields present are visited (a few of the 19), strings without the `_text` call.
    for key in _IDENTIFIER_SET.intersection(v):
        value = v[key]
        if isinstance(value, str):
            v[key] = value.strip().lower()
        elif value is not None and not isinstance(value, list):
            v[key] = _text(value).strip().lower()

    # 4. Tracking links carry the event name as utm_content (Go's alias, kept on purpose).
    if "ename" not in v and isinstance(v.get("content"), str):
        v["ename"] = v.pop("content")

    # 5. Ids, parsed once here into their canonical text: the resolved (possibly generated) ids
    #    are what gets stored, never the zero UUID (docs/differences.md).
    eid = parse_uuid(v.get("eid")) or make_id()
    vid = parse_uuid(v.get("vid"))
    new_visitor = vid is None
    if vid is None:
        vid = make_id()
    sid = parse_uuid(v.get("sid"))
    if sid is None:
        sid = vid if new_visitor and "sid" not in v else make_id()
    v["eid"], v["vid"], v["sid"] = eid, vid, sid

    # 6. Consent is read before any enrichment so later steps can honour it. Without the
    #    CFlagsAnalytics bits the event stops here: no URL, GeoIP, agent or hash work is done
    #    for it, and the write plan stores nothing (docs/privacy.md).
    given_cflags = parse_cflags(v.get("cflags"))
    cflags = given_cflags or 0
    if not has_all(given_cflags, ctx.cflags_analytics):
        return _refused(eid, vid, sid, new_visitor, is_server, origin, cflags)

    # 7. URLs: the payload's url, else the request URI unless it is one of our own routes.
    url = v.get("url")
    if url is None and not urls.is_internal_route(origin.request_uri):
        url = origin.request_uri
    url_text = ctx.url_filter.apply(_text(url)) if url is not None else None
    last = v.get("last")
    last_text = ctx.url_filter.apply(_text(last)) if last is not None else None

    # 8. Location, after consent (step 6) and before the raw values are dropped: the client's own
    #    values win, then its time zone's country, then GeoIP fills what is missing.
    place = locate(
        v, origin.ip, geo.country_for_tz(v.get("tz")), ctx.geoip, ctx.use_region_descriptions
    )

    # 8b. User agent: browser, os and device where the client sent none, and the bot flag. After
    #     step 3, so the client's os/device are already cleaned; server routes capture no agent.
    agent = ctx.agents.parse(origin.user_agent) if ctx.agents is not None else UNKNOWN
    browser = _text(v.get("browser", "")).strip().lower()
    if not browser:
        browser = agent.browser if ctx.agents is not None else origin.user_agent.strip().lower()

    # 9. Personal identifiers are hashed and the clear values dropped before anything is stored.
    hashes: dict[str, str | None] = {}
    cleartext: dict[str, object] = {}
    for clear, hashed in (("email", "ehash"), ("cell", "chash"), ("uname", "uhash")):
        given = v.get(hashed)
        secret = cleartext[clear] = v.pop(clear, None)
        if given is not None and _text(given):
            hashes[hashed] = _text(given)
        elif secret is not None and _text(secret).strip():
            hashes[hashed] = hashing.private_hash(_text(secret), ctx.prefix_private_hash)
        else:
            hashes[hashed] = None

    # 10. params last: it is built from the cleaned map, so it matches what the columns hold.
    event_params = params.build_params(v, v.get("params"))
    # Parsed values go to the columns only (params holds what the client sent), and the bot flag,
    # which has no column in the Go schema, goes to params only when set.
    # Bounded here, so that what is kept is what is stored: hostile clients cannot grow the
    # store's JSON paths (files on disk) without limit, one event at a time.
    targets = dict(_object(v.get("targets")))
    dropped_keys = params.cap_keys(event_params, ctx.max_param_keys) + params.cap_keys(
        targets, ctx.max_param_keys
    )
    for key, parsed in (("os", agent.os), ("device", agent.device)):
        if parsed and not v.get(key):
            v[key] = parsed
    if agent.is_bot:
        event_params["bot"] = True  # ours, after the bound: never crowded out by client keys

    ip = origin.ip
    meta = None
    if ctx.marketing and marketing.marketing_allowed(
        given_cflags, ctx.cflags_marketing, ctx.cflags_ignore
    ):
        # Meta's own hashes, while the clear email and phone are still at hand.
        meta = {
            key: value
            for key, value in (
                ("em", marketing.email(cleartext["email"])),
                ("ph", marketing.phone(cleartext["cell"])),
                ("client_user_agent", origin.user_agent),
                ("client_ip_address", "" if ctx.remove_ip else ip),
            )
            if value
        }
    return Event(
        eid=eid,
        vid=vid,
        sid=sid,
        uid=parse_uuid(v.get("uid")),
        oid=parse_uuid(v.get("oid")),
        tid=parse_uuid(v.get("tid")),
        new_visitor=new_visitor,
        is_server=is_server,
        created_at=origin.now,
        values=v,
        params=event_params,
        targets=targets,
        url=url_text,
        last=last_text,
        ip="" if ctx.remove_ip else ip,
        iphash=hashing.iphash(ip, ctx.ip_secret),
        host=origin.host,
        hhash=hashing.hhash(origin.host),
        bhash=hashing.bhash(origin.user_agent),
        browser=browser,
        culture=origin.culture,
        ja4h=origin.ja4h,
        cflags=cflags,
        ehash=hashes["ehash"],
        chash=hashes["chash"],
        uhash=hashes["uhash"],
        country=place.country,
        region=place.region,
        city=place.city,
        zip=place.zip,
        lat=place.lat,
        lon=place.lon,
        marketing=meta,
        dropped_keys=dropped_keys,
    )


def _refused(
    eid: Uuid, vid: Uuid, sid: Uuid, new_visitor: bool, is_server: bool, origin: Origin, cflags: int
) -> Event:
    """The event of a visitor without analytics consent: ids only, nothing derived or kept."""
    return Event(
        eid=eid, vid=vid, sid=sid, uid=None, oid=None, tid=None, new_visitor=new_visitor,
        is_server=is_server,
        created_at=origin.now, values={}, params={}, targets={}, url=None, last=None, ip="",
        iphash="", host="", hhash="", bhash="", browser="", culture="", ja4h="", cflags=cflags,
        consented=False,
    )  # fmt: skip


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> datetime:
    """The current UTC time, truncated to the millisecond (the DateTime64(3) columns' precision).

    Integer arithmetic from `time.time_ns()`: a third cheaper than `datetime.now(UTC)` and then
    `replace(microsecond=...)`, and exact."""
    return _EPOCH + timedelta(milliseconds=time.time_ns() // 1_000_000)


__all__ = ["ZERO_UUID", "Event", "NormaliseContext", "Origin", "normalise", "now_ms"]
