"""The right to be forgotten: remove every row that holds one person's ids.

``forget(store, vid=…)`` or ``forget(store, uid=…)`` deletes, as ``ALTER TABLE … DELETE``
mutations that finish before it returns:

* from every catalogue table with a ``vid`` or ``uid`` column (derived from
  `tracker.schema.tables.TABLES`, so a new table is covered without a change here), the rows of
  the person's visitor ids or user id. That includes ``reqs``, which only the ``reqs_mv`` view
  fills: our materialized views write into ordinary tables (``TO``), so their storage is purged
  like any other table. ``accounts`` is left alone: its ``uid`` is an operator of the redirect
  API, not a tracked person;
* ``ltv`` rows keyed by those ids (``id_type`` ``vid``/``uid``) and by the invoices of the
  person's payments (``orid``);
* ``ips`` and ``dailies`` rows of the IP addresses (and IP hashes) the person's events and
  agreements were recorded with. These are per-address counters: other visitors behind the same
  address lose those counts too, which is the price of erasing the address.

With ``uid``, the visitor ids linked to that user (any table holding both columns) are forgotten
as well. ``events`` goes last, so a run that is interrupted can be repeated: it still finds the
user's visitor ids there. The zero UUID stands for "no visitor" and is refused.

Rows accepted before the request but not yet written (in the spool or an open batch) land after
a forget that does not wait for them: the privacy route waits for the writer first; the CLI
against a running server says so and can be run again.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from tracker.errors import BadRequest
from tracker.normalise.ids import ZERO_UUID, Uuid, parse_uuid
from tracker.privacy.store import Store, uuid_list
from tracker.schema.tables import TABLES

__all__ = ["ForgetReport", "forget", "person_tables"]

PERSON_COLUMNS = ("vid", "uid")
NOT_PEOPLE = frozenset({"accounts"})  # operators of the redirect API, not tracked people
ADDRESS_SOURCES = (("events", "ip", "iphash"), ("agreements", "ip", "iphash"))
_HASH = re.compile(r"[A-Za-z0-9_=+/-]{1,128}")
Progress = Callable[[int], Any]  # total steps -> a tqdm-like bar, as `tracker.privacy.prune`


def person_tables() -> dict[str, tuple[str, ...]]:
    """Each catalogue table holding a person's ids, with the id columns it has."""
    found: dict[str, tuple[str, ...]] = {}
    for name, table in TABLES.items():
        columns = tuple(c for c in PERSON_COLUMNS if c in table.column_names())
        if columns and name not in NOT_PEOPLE:
            found[name] = columns
    return found


@dataclass
class ForgetReport:
    vids: set[Uuid] = field(default_factory=set)
    uids: set[Uuid] = field(default_factory=set)
    removed: dict[str, int] = field(default_factory=dict)  # table -> rows deleted

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    def as_json(self) -> dict[str, object]:
        return {
            "vids": sorted(self.vids),
            "uids": sorted(self.uids),
            "removed": dict(sorted(self.removed.items())),
            "total": self.total,
        }


def _id_filter(columns: tuple[str, ...], vids: set[Uuid], uids: set[Uuid]) -> str:
    parts = [
        f"{column} IN ({uuid_list(ids)})"
        for column, ids in (("vid", vids), ("uid", uids))
        if column in columns and ids
    ]
    return " OR ".join(parts)


def _parsed(rows: list[dict[str, object]], column: str) -> set[Uuid]:
    """The ids of ``column`` in ``rows``, parsed, so they are safe to render into SQL."""
    return {parsed for row in rows if (parsed := parse_uuid(row.get(column))) is not None}


def _linked_vids(store: Store, uid: Uuid, live: set[str]) -> set[Uuid]:
    found: set[Uuid] = set()
    for table, columns in person_tables().items():
        if table in live and columns == PERSON_COLUMNS:
            rows = store.rows(
                f"SELECT DISTINCT toString(vid) AS vid FROM {table} "
                f"WHERE uid = '{uid}' AND vid != '{ZERO_UUID}'"
            )
            found.update(_parsed(rows, "vid"))
    return found


def _addresses(store: Store, where: str, live: set[str]) -> set[str]:
    """The IP addresses and IP hashes recorded with the person's events and agreements."""
    found: set[str] = set()
    for table, ip_column, hash_column in ADDRESS_SOURCES:
        if table not in live:
            continue
        for row in store.rows(
            f"SELECT DISTINCT {ip_column} AS ip, {hash_column} AS h FROM {table} WHERE {where}"
        ):
            found.update(_valid_address(str(row["ip"])) + _valid_hash(str(row["h"])))
    return found


def _valid_address(text: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(text))] if text else []
    except ValueError:
        return []


def _valid_hash(text: str) -> list[str]:
    return [text] if _HASH.fullmatch(text) else []


def _invoices(store: Store, where: str, live: set[str]) -> set[Uuid]:
    if "payments" not in live:
        return set()
    rows = store.rows(
        f"SELECT DISTINCT toString(invid) AS invid FROM payments WHERE ({where}) "
        f"AND invid != '{ZERO_UUID}'"
    )
    return _parsed(rows, "invid")


def _plan(store: Store, vids: set[Uuid], uids: set[Uuid], live: set[str]) -> list[tuple[str, str]]:
    """(table, WHERE) pairs in the order they are deleted; ``events`` last."""
    person = _id_filter(PERSON_COLUMNS, vids, uids)
    addresses = _addresses(store, person, live)
    invoices = _invoices(store, _id_filter(PERSON_COLUMNS, vids, uids), live)
    plan: list[tuple[str, str]] = []
    for table, columns in person_tables().items():
        if table != "events":
            plan.append((table, _id_filter(columns, vids, uids)))
    ltv = [
        f"(id_type = '{kind}' AND id IN ({uuid_list(ids)}))"
        for kind, ids in (("vid", vids), ("uid", uids), ("orid", invoices))
        if ids
    ]
    plan.append(("ltv", " OR ".join(ltv)))
    if addresses:
        quoted = ", ".join(f"'{a}'" for a in sorted(addresses))
        plan.extend((("ips", f"ip IN ({quoted})"), ("dailies", f"ip IN ({quoted})")))
    plan.append(("events", _id_filter(person_tables()["events"], vids, uids)))
    return [(table, where) for table, where in plan if table in live and where]


def forget(
    store: Store,
    *,
    vid: Uuid | None = None,
    uid: Uuid | None = None,
    progress: Progress | None = None,
) -> ForgetReport:
    """Delete every row of the visitor ``vid``, or of the user ``uid`` and its visitors; one
    step of ``progress`` per table."""
    if (vid is None) == (uid is None):
        raise BadRequest("Name exactly one person: a visitor id (vid) or a user id (uid).")
    if ZERO_UUID in (vid, uid):
        raise BadRequest("The zero UUID stands for 'no visitor' and cannot be forgotten.")
    live = store.tables()
    report = ForgetReport()
    if vid is not None:
        report.vids.add(vid)
    if uid is not None:
        report.uids.add(uid)
        report.vids.update(_linked_vids(store, uid, live))
    plan = _plan(store, report.vids, report.uids, live)
    bar: AbstractContextManager[Any] = nullcontext() if progress is None else progress(len(plan))
    with bar as shown:
        for table, where in plan:
            if shown is not None:
                shown.set_postfix_str(table, refresh=False)
                shown.update(1)
            rows = store.count(table, where)
            if rows:
                store.delete(table, where)
            report.removed[table] = report.removed.get(table, 0) + rows
    return report
