"""What a database holds now, read from ``system.tables`` and ``system.columns``, and where it
came from: empty, made by this tracker (with its schema version), or made by the Go tracker's DDL.

Only a query function is needed (``Sink.query`` or the control socket's), so this reads a chDB
store, a running server's store and a ClickHouse server alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import orjson

QueryFn = Callable[[str, str], bytes]  # (sql, output format) -> output

VERSION_KEY = "TRACKER_SCHEMA_VER"  # our row in the Go schema's `sequences` table
GO_VERSION_KEY = "DB_VER"  # the Go schema's own marker (3)


class Origin(StrEnum):
    EMPTY = "empty"
    TRACKER = "tracker"  # made by this tracker; version None before versions were recorded
    GO = "go"  # made by the Go tracker's DDL


class Form(StrEnum):
    SINGLE = "single"  # plain tables: the embedded store or a single server
    CLUSTER = "cluster"  # `T_local` storage tables behind `Distributed` tables named `T`
    NONE = "none"


@dataclass(frozen=True)
class LiveTable:
    name: str
    engine: str  # "ReplicatedReplacingMergeTree", "Distributed", "View", "MaterializedView" …
    engine_full: str
    partition_key: str
    sorting_key: str
    as_select: str  # a view's SELECT, on one line as ClickHouse formats it
    columns: Mapping[str, str]  # name -> type, in table order

    @property
    def family(self) -> str:
        """The engine without replication: ``ReplicatedSummingMergeTree`` → ``SummingMergeTree``."""
        return self.engine.removeprefix("Replicated")


@dataclass(frozen=True)
class Live:
    database: str
    tables: Mapping[str, LiveTable]
    version: int | None  # TRACKER_SCHEMA_VER, or None when never recorded
    go_marker: bool  # `sequences` holds DB_VER

    def get(self, name: str) -> LiveTable | None:
        return self.tables.get(name)

    @property
    def form(self) -> Form:
        events = self.tables.get("events")
        if events is None:
            return Form.NONE
        return Form.CLUSTER if events.engine == "Distributed" else Form.SINGLE

    @property
    def origin(self) -> Origin:
        if not any(not name.startswith(".inner") for name in self.tables):
            return Origin.EMPTY
        if self.version is not None:
            return Origin.TRACKER
        events = self.tables.get("events_local") or self.tables.get("events")
        renamed = events is not None and "did" in events.columns
        if self.go_marker or renamed:
            return Origin.GO
        return Origin.TRACKER


def quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _rows(query: QueryFn, sql: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in query(sql, "JSONEachRow").splitlines() if line]


def introspect(query: QueryFn, database: str) -> Live:
    """Read the database's objects, columns and schema version (nothing when it does not exist)."""
    db = quote(database)
    tables = _rows(
        query,
        "SELECT name, engine, engine_full, partition_key, sorting_key, as_select"
        f" FROM system.tables WHERE database = {db}",
    )
    columns: dict[str, dict[str, str]] = {}
    for row in _rows(
        query,
        f"SELECT table, name, type FROM system.columns WHERE database = {db}"
        " ORDER BY table, position",
    ):
        columns.setdefault(str(row["table"]), {})[str(row["name"])] = str(row["type"])
    live_tables = {
        str(row["name"]): LiveTable(
            name=str(row["name"]),
            engine=str(row["engine"]),
            engine_full=str(row["engine_full"]),
            partition_key=str(row["partition_key"]),
            sorting_key=str(row["sorting_key"]),
            as_select=str(row["as_select"]),
            columns=columns.get(str(row["name"]), {}),
        )
        for row in tables
    }
    version: int | None = None
    go_marker = False
    if "sequences" in live_tables:
        markers = _rows(
            query,
            f"SELECT name, max(seq) AS seq FROM {database}.sequences"
            f" WHERE name IN ({quote(VERSION_KEY)}, {quote(GO_VERSION_KEY)}) GROUP BY name",
        )
        found = {str(row["name"]): int(str(row["seq"])) for row in markers}
        version = found.get(VERSION_KEY)
        go_marker = GO_VERSION_KEY in found
    return Live(database, live_tables, version, go_marker)


def formatted(query: QueryFn, selects: list[str]) -> list[str]:
    """The SELECTs as ClickHouse prints a view's ``as_select``, to compare definitions."""
    if not selects:
        return []
    array = "[" + ", ".join(quote(select) for select in selects) + "]"
    out = query(f"SELECT arrayMap(q -> formatQuerySingleLine(q), {array}) AS f", "JSONEachRow")
    (row,) = [orjson.loads(line) for line in out.splitlines() if line]
    return [str(text) for text in row["f"]]


__all__ = [
    "GO_VERSION_KEY",
    "VERSION_KEY",
    "Form",
    "Live",
    "LiveTable",
    "Origin",
    "QueryFn",
    "formatted",
    "introspect",
    "quote",
]
