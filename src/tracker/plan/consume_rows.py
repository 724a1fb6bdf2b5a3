"""Rows of messages consumed from NATS: ``count``, ``update`` and ``log``, as the Go tracker wrote.

* ``count``  → ``counters``: ``id`` (the payload's, else the subject), ``total`` 1, today;
* ``update`` → ``updates``: ``id`` (likewise), ``updated_at`` from ``updated`` (epoch
  milliseconds, as text or a number; else now), ``msg``;
* ``log``    → ``logs``: a new ``id``, ``ldate`` (else today), ``created_at`` now, ``ltime``
  from ``ltimenss`` (nanoseconds since the epoch), ``topic`` (else the payload's ``id``),
  ``name``, ``host``, ``hostname``, ``owner``, ``ip``, ``iphash``, ``level``, ``msg``,
  ``params`` (an object, or JSON text of one) and ``oid``.

Differences (docs/nats.md): ``iphash`` is the keyed hash of the tracker's other rows, not Go's FNV
chain; ``UseRemoveIP`` empties ``ip``; values are coerced to the column types like every row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tracker.errors import InvalidEvent
from tracker.normalise import hashing
from tracker.normalise.ids import new_id
from tracker.plan.coerce import coerce_row, format_time
from tracker.plan.rows import record, typed_record
from tracker.schema.tables import TABLES
from tracker.spool.records import Record

ALIASES = ("count", "update", "log")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_NS = 253_402_300_799 * 10**9  # 9999-12-31


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    return None


def _millis(value: Any) -> datetime | None:
    text = _text(value)
    if text is None or not text.lstrip("-").isdigit():
        return None
    ms = int(text)
    return _EPOCH + timedelta(milliseconds=ms) if 0 <= ms < _MAX_NS // 10**6 else None


def _ltime(value: Any) -> str | None:
    """DateTime64(9) text of a nanosecond epoch count (given as text, as Go's clients send it)."""
    text = _text(value)
    if text is None or not text.isdigit() or int(text) >= _MAX_NS:
        return None
    seconds, nanos = divmod(int(text), 10**9)
    moment = _EPOCH + timedelta(seconds=seconds)
    return f"{moment.replace(tzinfo=None).isoformat(' ')}.{nanos:09d}"


def plan_message(
    alias: str,
    subject: str,
    payload: dict[str, Any],
    now: datetime,
    ip_secret: bytes,
    remove_ip: bool = False,
) -> list[Record]:
    """The row of one consumed message; raises InvalidEvent for an alias we do not write."""
    ident = _text(payload.get("id")) or subject
    today = now.date().isoformat()
    if alias == "count":
        return [typed_record("counters", {"id": ident, "total": 1, "date": today})]
    if alias == "update":
        updated = _millis(payload.get("updated")) or now
        return [record("updates", {"id": ident, "updated_at": updated, "msg": payload.get("msg")})]
    if alias == "log":
        return [_log_row(payload, now, today, ip_secret, remove_ip)]
    raise InvalidEvent(f"NATS filter alias '{alias}' is not one of {', '.join(ALIASES)}.")


def _log_row(
    payload: dict[str, Any], now: datetime, today: str, ip_secret: bytes, remove_ip: bool
) -> Record:
    ip = _text(payload.get("ip")) or ""
    level = payload.get("level")
    values = {
        **{key: payload.get(key) for key in ("name", "host", "hostname", "owner", "msg", "oid")},
        "id": new_id(),
        "ldate": payload.get("ldate") or today,
        "created_at": format_time(now),
        "topic": _text(payload.get("topic")) or _text(payload.get("id")) or "",
        "ip": "" if remove_ip else ip,
        "iphash": hashing.iphash(ip, ip_secret),
        "level": int(level)
        if isinstance(level, int | float) and not isinstance(level, bool)
        else None,
        "params": payload.get("params"),
    }
    row = coerce_row(TABLES["logs"], values)
    row.setdefault("ldate", today)  # an unreadable ldate: today, the column's default
    ltime = _ltime(payload.get("ltimenss"))
    if ltime is not None:
        row["ltime"] = ltime
    return typed_record("logs", row)
