"""The privacy operations' view of the store: SQL text in, rows out, through one query function.

Prune, retention and forget run in three places: inside the server (the privacy route, start-up),
in the CLI against a stopped server's chDB directory (`ChdbSink.query`), and in the CLI against a
running server (`tracker.control.remote_query` over the control socket). The control socket
carries SQL text only, no query parameters, so every value these modules put into SQL is one they
validated (a UUID, an integer, a partition id) or a literal ClickHouse itself rendered.

Mutations run with ``mutations_sync = 2``: the statement returns when the rows are rewritten.
ClickHouse refuses a lightweight ``DELETE FROM`` on tables with projections (events, logs,
payments, updates), so deletes are always ``ALTER TABLE … DELETE`` mutations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tracker.normalise.ids import Uuid

__all__ = ["MUTATION_SETTINGS", "Column", "QueryFn", "Store", "store_for", "uuid_list"]

QueryFn = Callable[[str, str], bytes]  # (sql, ClickHouse output format) -> output

MUTATION_SETTINGS = "SETTINGS mutations_sync = 2"
_PARTITION_ID = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Column:
    """A live column, as ``system.columns`` describes it."""

    name: str
    type: str
    in_key: bool  # part of the partition or sorting key: ClickHouse cannot UPDATE it
    in_sorting_key: bool
    position: int


def uuid_list(ids: list[Uuid] | tuple[Uuid, ...] | set[Uuid]) -> str:
    """``'a', 'b'``: UUIDs rendered from parsed values only, so safe as SQL text."""
    return ", ".join(f"'{u}'" for u in sorted(ids))


class StoreSettings(Protocol):
    @property
    def database(self) -> str: ...

    @property
    def clickhouse_url(self) -> str | None: ...

    @property
    def clickhouse_cluster(self) -> str: ...


def store_for(settings: StoreSettings, query: QueryFn) -> Store:
    """The store of these settings (a cluster only with a ClickHouse server)."""
    cluster = settings.clickhouse_cluster if settings.clickhouse_url else ""
    return Store(query, settings.database, cluster)


def partition_clause(partition_id: str) -> str:
    if not _PARTITION_ID.fullmatch(partition_id):
        raise ValueError(f"Unexpected partition id {partition_id!r} from system.parts.")
    return f"IN PARTITION ID '{partition_id}'"


@dataclass
class Store:
    query: QueryFn
    database: str
    cluster: str = ""  # ClickHouseCluster: rows live in `<table>_local`, changed ON CLUSTER

    def storage(self, table: str) -> str:
        """The table that holds the rows (reads go through the plain, Distributed name)."""
        return f"{table}_local" if self.cluster else table

    def _alter(self, table: str) -> str:
        on_cluster = f" ON CLUSTER {self.cluster}" if self.cluster else ""
        return f"ALTER TABLE {self.storage(table)}{on_cluster}"

    def run(self, sql: str) -> None:
        self.query(sql, "TSV")

    def rows(self, sql: str) -> list[dict[str, Any]]:
        output = self.query(sql, "JSONEachRow")
        return [orjson.loads(line) for line in output.splitlines() if line.strip()]

    def count(self, table: str, where: str) -> int:
        rows = self.rows(f"SELECT count() AS n FROM {table} WHERE {where}")
        return int(rows[0]["n"]) if rows else 0

    def tables(self) -> set[str]:
        """Names of the live tables of the database (a catalogue table may be missing)."""
        rows = self.rows(
            f"SELECT name FROM system.tables WHERE database = '{self.database}' "
            "AND NOT is_temporary"
        )
        return {str(row["name"]) for row in rows}

    def columns(self, table: str) -> dict[str, Column]:
        rows = self.rows(
            "SELECT name, type, is_in_partition_key, is_in_sorting_key, position "
            f"FROM system.columns WHERE database = '{self.database}' "
            f"AND table = '{self.storage(table)}' "
            "ORDER BY position"
        )
        return {
            str(r["name"]): Column(
                str(r["name"]),
                str(r["type"]),
                bool(r["is_in_partition_key"]) or bool(r["is_in_sorting_key"]),
                bool(r["is_in_sorting_key"]),
                int(r["position"]),
            )
            for r in rows
        }

    def table_ttl(self, table: str) -> str:
        """The table's TTL clause as ClickHouse shows it in ``engine_full`` ('' when none)."""
        rows = self.rows(
            f"SELECT engine_full FROM system.tables WHERE database = '{self.database}' "
            f"AND name = '{self.storage(table)}'"
        )
        if not rows:
            return ""
        match = re.search(r" TTL (.*?)(?: SETTINGS |$)", str(rows[0]["engine_full"]))
        return match.group(1).strip() if match else ""

    def modify_ttl(self, table: str, ttl: str | None) -> None:
        """Set the table's TTL expression, or remove it (None)."""
        self.run(f"{self._alter(table)} {'REMOVE TTL' if ttl is None else f'MODIFY TTL {ttl}'}")

    def delete(self, table: str, where: str, partition_id: str | None = None) -> None:
        where_part = f"{partition_clause(partition_id)} " if partition_id else ""
        self.run(f"{self._alter(table)} DELETE {where_part}WHERE {where} {MUTATION_SETTINGS}")

    def update(
        self, table: str, assignments: str, where: str, partition_id: str | None = None
    ) -> None:
        where_part = f"{partition_clause(partition_id)} " if partition_id else ""
        self.run(
            f"{self._alter(table)} UPDATE {assignments} {where_part}WHERE {where} "
            f"{MUTATION_SETTINGS}"
        )
