"""A ClickHouse server or cluster over HTTP (clickhouse-connect): the production store.

Same tables, same JSONEachRow batches and deduplication tokens as the embedded store; the schema is
rendered for a single server (plain MergeTree engines) or, with ``ClickHouseCluster`` set, for a
cluster (``ON CLUSTER``, Replicated engines, ``_local`` tables behind ``Distributed`` ones), and
inserts always go to the plain table names, as the Go tracker's do.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from tracker.errors import SinkRejected, SinkUnreachable
from tracker.schema.render import Topology, render
from tracker.sinks.chdb import BAD_DATA_CODES, error_code

try:  # an optional extra: pip install 'tracker[server]'
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import OperationalError
except ImportError:  # pragma: no cover - exercised only without the extra
    clickhouse_connect = None  # type: ignore[assignment]


def translate(exc: Exception, what: str) -> SinkRejected | SinkUnreachable:
    message = (
        f"{what}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
    )
    if clickhouse_connect is not None and isinstance(exc, OperationalError):
        return SinkUnreachable(message)
    if error_code(exc) in BAD_DATA_CODES:
        return SinkRejected(message)
    return SinkUnreachable(message)


class ClickHouseServerSink:
    name = "clickhouse"

    def __init__(
        self, url: str, database: str = "sfpla", cluster: str = "", compress: bool = True
    ) -> None:
        if clickhouse_connect is None:
            raise SinkUnreachable(
                "ClickHouseUrl needs the server extra: pip install 'tracker[server]' (clickhouse-connect)"
            )
        self.url = url
        self.database = database
        self.cluster = cluster
        self.compress = compress  # the Notify entry's EnableCompression
        self._local = threading.local()

    def _client(self, database: str | None = None) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            try:
                client = clickhouse_connect.get_client(
                    dsn=self.url,
                    database=database or self.database,
                    settings={"session_timezone": "UTC"},
                    compress=self.compress,
                )
            except Exception as exc:
                raise translate(exc, "connect") from exc
            self._local.client = client
        return client

    def open(self) -> None:
        topology = Topology.CLUSTER if self.cluster else Topology.EMBEDDED
        statements = render(
            topology, database=self.database, cluster=self.cluster or "tracker_cluster"
        )
        client = self._client(database="default")
        for sql in statements:
            try:
                client.command(sql)
            except Exception as exc:
                raise translate(exc, "schema") from exc
        self._local.client = None  # reconnect with the tracker's database as the default

    def healthcheck(self) -> bool:
        try:
            return bool(self._client().ping())
        except Exception:
            return False

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        settings: dict[str, Any] = {"deduplicate_blocks_in_dependent_materialized_views": 1}
        if token:
            settings["insert_deduplication_token"] = token
        if self.cluster:
            settings["distributed_foreground_insert"] = 1
        try:
            self._client().raw_insert(
                f"{self.database}.{table}",
                insert_block=b"\n".join(lines),
                settings=settings,
                fmt="JSONEachRow",
            )
        except Exception as exc:
            raise translate(exc, f"insert into {table}") from exc

    def query(
        self, sql: str, fmt: str = "JSONEachRow", params: Mapping[str, object] | None = None
    ) -> bytes:
        try:
            data: bytes = self._client().raw_query(
                sql, parameters=dict(params) if params else None, fmt=fmt
            )
        except Exception as exc:
            raise translate(exc, "query") from exc
        return data

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.close()
            self._local.client = None
