"""DuckDB: ``events``, ``logs`` and ``updates`` in a file under ``<DataDir>/duckdb``, exported as
Hive-partitioned Parquet (`tracker.sinks.duckdb_export`) and uploaded to S3.

The tables have the ClickHouse tables' columns (DuckDB types), so one row shape serves both
stores. A batch is inserted in one transaction together with its deduplication token, so a batch
sent again after a crash is recognised and skipped: DuckDB stores each batch exactly once. The
writer thread owns the connection; the export runs on the same thread (`maintain`).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from tracker.errors import SinkRejected, SinkUnreachable
from tracker.schema.model import Table
from tracker.schema.tables import TABLES
from tracker.sinks.duckdb_export import Exporter, ExportPolicy, S3Target

STORED = ("events", "logs", "updates")  # the tables the Go tracker wrote to DuckDB
_INTS = {
    "Int8": "TINYINT", "Int16": "SMALLINT", "Int32": "INTEGER", "Int64": "BIGINT",
    "UInt8": "UTINYINT", "UInt16": "USMALLINT", "UInt32": "UINTEGER", "UInt64": "UBIGINT",
}  # fmt: skip
_BAD_DATA = (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.ConstraintException)


def duck_type(clickhouse: str) -> str:
    """The DuckDB type of a ClickHouse column type (anything unusual is kept as JSON)."""
    for wrapper in ("LowCardinality(", "Nullable("):
        if clickhouse.startswith(wrapper):
            return duck_type(clickhouse[len(wrapper) : -1])
    if clickhouse.startswith("Array("):
        return duck_type(clickhouse[6:-1]) + "[]"
    if clickhouse.startswith("DateTime64(9"):
        return "TIMESTAMP_NS"
    if clickhouse.startswith("DateTime"):
        return "TIMESTAMP"
    simple = {
        "UUID": "UUID", "String": "VARCHAR", "Float64": "DOUBLE", "Float32": "FLOAT",
        "Bool": "BOOLEAN", "Date": "DATE", "Date32": "DATE", "JSON": "JSON",
    }  # fmt: skip
    return simple.get(clickhouse) or _INTS.get(clickhouse) or "JSON"


def columns(table: Table) -> dict[str, str]:
    return {
        column.name: duck_type(column.type)
        for column in table.columns
        if column.materialized is None
    }


def _sql_map(types: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in types.items()) + "}"


class DuckDbSink:
    name = "duckdb"

    def __init__(
        self,
        directory: Path,
        policy: ExportPolicy,
        s3: S3Target | None = None,
        name: str = "duckdb",
    ) -> None:
        self.name = name
        self.directory = directory
        self.path = directory / "tracker.duckdb"
        self.policy = policy
        self.s3 = s3
        self._con: duckdb.DuckDBPyConnection | None = None
        self.exporter: Exporter | None = None
        self._types = {table: columns(TABLES[table]) for table in STORED}

    def open(self) -> None:
        if self._con is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise SinkUnreachable(f"open {self.path}: {exc}") from exc
        con.execute("SET TimeZone = 'UTC'")
        for table, types in self._types.items():
            cols = ", ".join(f'"{name}" {kind}' for name, kind in types.items())
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
        con.execute(
            "CREATE TABLE IF NOT EXISTS _tracker_batches (token VARCHAR PRIMARY KEY, stored_at TIMESTAMP)"
        )
        self._con = con
        self.exporter = Exporter(con, self.directory / "export", self.policy, self.s3)

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self.open()
        assert self._con is not None
        return self._con

    def healthcheck(self) -> bool:
        try:
            self._connection().execute("SELECT 1").fetchall()
        except (duckdb.Error, SinkUnreachable):
            return False
        return True

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        types = self._types.get(table)
        if types is None:
            return  # not a table DuckDB stores (the writer only passes those it takes)
        con = self._connection()
        batch = self.directory / f"batch-{os.getpid()}.jsonl"
        batch.write_bytes(b"\n".join(lines) + b"\n")
        size = sum(map(len, lines))
        try:
            con.execute("BEGIN TRANSACTION")
            if (
                token
                and con.execute(
                    "SELECT 1 FROM _tracker_batches WHERE token = ?", [token]
                ).fetchall()
            ):
                con.execute("ROLLBACK")
                return  # stored before a crash or a lost answer: once is enough
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT * FROM read_json(?, "
                f"format = 'newline_delimited', columns = {_sql_map(types)})",
                [str(batch)],
            )
            if token:
                con.execute("INSERT INTO _tracker_batches VALUES (?, now())", [token])
            assert self.exporter is not None
            self.exporter.written(size)
            con.execute("COMMIT")
        except _BAD_DATA as exc:
            self._rollback(con)
            raise SinkRejected(f"insert into {table}: {str(exc).splitlines()[0]}") from exc
        except duckdb.Error as exc:
            self._rollback(con)
            raise SinkUnreachable(f"insert into {table}: {str(exc).splitlines()[0]}") from exc
        finally:
            batch.unlink(missing_ok=True)
        self.exporter.last_write = time.monotonic()

    @staticmethod
    def _rollback(con: duckdb.DuckDBPyConnection) -> None:
        with contextlib.suppress(duckdb.Error):  # no transaction was open
            con.execute("ROLLBACK")

    def maintain(self) -> None:
        """Export a shard when it is due, and upload what is waiting (the writer's thread)."""
        if self.exporter is not None:
            self.exporter.maintain()

    def query(
        self, sql: str, fmt: str = "JSONEachRow", params: Mapping[str, object] | None = None
    ) -> bytes:
        raise SinkRejected("query DuckDB with the duckdb command on a copy of its file")

    def close(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            con.close()


def rows(path: Path, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Read a DuckDB file that no tracker holds (the tests', and an operator's, way in)."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, list(args)).fetchall()
