"""The write plan of one event: which rows go to which tables, as data.

Differences from the Go tracker's sequence, each deliberate (docs/differences.md):

* ``ips``, ``hits``, ``reqs``, ``referrers`` and ``browsers`` are fed only by the schema's
  materialized views over ``events``; the Go code also inserted +1 itself, counting twice.
* a ``tid`` event writes one full ``mthreads`` row and one ``mstore`` row, not an extra sparse
  "campaign" row of each;
* the resolved (possibly generated) ``vid``/``sid`` are stored, not the zero UUID;
* ``events`` also gets the columns the Go insert left out (culture, tz, browser, vp_w/vp_h, …).
"""

from __future__ import annotations

from typing import Any

from tracker.normalise.event import Event
from tracker.normalise.ids import new_id
from tracker.plan.coerce import Missing, coerce_values, coercers, format_time
from tracker.plan.rows import record, typed_record
from tracker.schema.tables import TABLES
from tracker.spool.records import Record

# Columns of `events` copied from the value map as the client sent them (the ids normalise parsed,
# uid, oid and tid, come from the `Event` instead).
EVENT_COPIED = (
    "org", "app", "rel", "ptyp", "xid", "split", "ename", "source", "medium", "campaign",
    "term", "etyp", "sink", "relation", "aff", "arm_id", "mcid", "device", "os",
    "rid", "auth_id", "invoice_id", "duration", "ver", "score",
    "gaid", "idfa", "msid", "fbid", "ref", "rcode", "tz",
)  # fmt: skip

_EVENT_COERCERS = coercers(TABLES["events"])
_COPIED = {key: _EVENT_COERCERS[key] for key in EVENT_COPIED}
_TO_DEVICE_ID = _EVENT_COERCERS["device_id"]
_TO_VIEWPORT = _EVENT_COERCERS["vp_w"]


def events_row(event: Event) -> dict[str, Any]:
    """The `events` row in column types: the client's values are coerced here, once; the event's
    own fields already have their types."""
    v = event.values
    row = coerce_values(_COPIED, v)
    content = v.get("content")
    if isinstance(content, str):
        row["content"] = content
    for key, parsed in (("uid", event.uid), ("oid", event.oid), ("tid", event.tid)):
        if parsed is not None:
            row[key] = parsed
    for key, given, coerce in (
        ("device_id", v.get("did"), _TO_DEVICE_ID),
        ("vp_w", v.get("w"), _TO_VIEWPORT),
        ("vp_h", v.get("h"), _TO_VIEWPORT),
    ):
        if given is not None:
            converted = coerce(given)
            if converted is not Missing:
                row[key] = converted
    if event.last is not None:
        row["last"] = event.last
    if event.url is not None:
        row["url"] = event.url
    row.update(
        eid=event.eid,
        vid=event.vid,
        sid=event.sid,
        cflags=event.cflags,
        created_at=format_time(event.created_at),
        ip=event.ip,
        iphash=event.iphash,
        hhash=event.hhash,
        bhash=event.bhash,
        browser=event.browser,
        culture=event.culture,
        ja4h=event.ja4h,
        lat=event.lat,
        lon=event.lon,
        country=event.country,
        region=event.region,
        city=event.city,
        zip=event.zip,
        params=event.params,
        targets=event.targets,
    )
    return row


def _tags(v: dict[str, Any], *keys: str) -> list[str]:
    for key in keys:
        value = v.get(key)
        if isinstance(value, str):
            tags = [t.strip() for t in value.split(",")]
        elif isinstance(value, list):
            tags = [t.strip() for t in value if isinstance(t, str)]
        else:
            continue
        tags = [t for t in tags if t]
        if tags:
            return tags
    return []


def interests_row(event: Event) -> dict[str, Any] | None:
    v = event.values
    if event.oid is None:
        return None
    audience = _tags(v, "audience", "audience_tags")
    content = _tags(v, "content", "content_tags") or ([] if audience else _tags(v, "tags"))
    if not audience and not content:
        return None
    interests = audience + content
    return {
        "vid": event.vid,
        "uid": v.get("uid"),
        "oid": event.oid,
        "org": v.get("org"),
        "audience_tags": audience,
        "audience_counts": dict.fromkeys(audience, 1),
        "content_tags": content,
        "content_counts": dict.fromkeys(content, 1),
        "interests": interests,
        "interest_counts": dict.fromkeys(interests, 1),
        "campaign_sources": {
            str(v.get("campaign") or ""): {"audience": audience, "content": content}
        },
        "total_interactions": 1,
        "unique_campaigns": 1,
        "first_seen": event.created_at,
        "last_updated": event.created_at,
        "updated_at": event.created_at,
        "created_at": event.created_at,
        "location_updated_at": event.created_at,
        "last_iphash": event.iphash,
        "last_lat": event.lat,
        "last_lon": event.lon,
        "last_country": event.country,
        "last_region": event.region,
        "last_city": event.city,
        "last_zip": event.zip,
    }


def messaging_records(event: Event) -> list[Record]:
    v = event.values
    if event.tid is None:
        return []
    base = {
        **v,
        "vid": event.vid,
        "created_at": event.created_at,
        "updated_at": event.created_at,
    }
    records = [
        record("mthreads", base),
        record("mstore", {**base, "mid": new_id()}),
        record(
            "mtriage",
            {"urgency": 8, "keep": True, **base, "mid": new_id()},
        ),
    ]
    ename = v.get("ename")
    if ename and (ename == "conversion" or "score" in v) and event.oid is not None:
        records.append(
            record(
                "impression_daily",
                {
                    "oid": v["oid"],
                    "tid": v["tid"],
                    "day": event.created_at,
                    "variant_id": v.get("xid", ""),
                    "total_impressions": 1,
                    "anonymous_impressions": 1,
                    "identified_impressions": 0,
                    "unique_visitors": 1,
                    "conversions": 1 if ename == "conversion" else 0,
                    "updated_at": event.created_at,
                },
            )
        )
    return records


def client_records(event: Event) -> list[Record]:
    """Rows only client events write (as in Go), minus those the views feed."""
    v = event.values
    day = event.created_at.date().isoformat()
    records = [typed_record("dailies", {"ip": event.ip or event.iphash, "day": day, "total": 1})]
    if event.new_visitor:
        records.append(typed_record("counters", {"id": "vids_created", "total": 1, "date": day}))
    outcome = v.get("outcome")
    if isinstance(outcome, str) and outcome:
        records.append(
            record(
                "outcomes",
                {
                    "hhash": event.hhash,
                    "outcome": outcome,
                    "sink": v.get("sink"),
                    "created": day,
                    "url": event.url,
                    "total": 1,
                },
            )
        )
    if event.host:
        created_at = format_time(event.created_at)
        records.append(
            typed_record(
                "hosts", {"hhash": event.hhash, "hostname": event.host, "created_at": created_at}
            )
        )
    uid = event.uid
    if uid is None and not (event.uhash or event.ehash or event.chash):
        return records  # most events: none of the rows below, so no `people` to build
    people = {"hhash": event.hhash, "vid": event.vid, "sid": event.sid}
    if uid is not None:
        records.append(record("userhosts", {**people, "uid": uid, "created_at": event.created_at}))
    for table, column, value in (
        ("usernames", "uhash", event.uhash),
        ("emails", "ehash", event.ehash),
        ("cells", "chash", event.chash),
    ):
        if value:
            records.append(record(table, {**people, column: value, "created_at": event.created_at}))
    return records


def plan_event(event: Event) -> list[Record]:
    if not event.consented:  # no analytics consent: nothing about the event is stored
        return []
    records = [typed_record("events", events_row(event))]
    interests = interests_row(event)
    if interests is not None:
        records.append(record("visitor_interests", interests))
    records.extend(messaging_records(event))
    if not event.is_server:
        records.extend(client_records(event))
    return records


__all__ = ["events_row", "plan_event"]
