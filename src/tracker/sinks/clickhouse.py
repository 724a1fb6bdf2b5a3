"""A ClickHouse server or cluster over HTTP (clickhouse-connect): the production store.

Same tables, JSONEachRow batches and deduplication tokens as the embedded store. The schema is
rendered for one server (plain engines with a deduplication window) or, with ``ClickHouseCluster``,
for a cluster: ``ON CLUSTER``, Replicated engines, ``_local`` tables behind ``Distributed`` ones
with a deterministic sharding key (docs/clickhouse-server.md).

Every insert goes to the plain table name (in a cluster the Distributed table, so the materialized
views fire as in the Go tracker) and forces the settings that make an acknowledged batch stored
exactly once, whatever the server's profile says: ``insert_deduplicate = 1`` with the batch's
token, ``async_insert = 0`` (a profile with ``wait_for_async_insert = 0`` would answer before the
rows are stored), and in a cluster ``insert_distributed_sync = 1``: the insert returns once every
shard has stored its part, and each shard's part carries the token, so a replayed batch (whose
rows hash to the same shards) is dropped by each shard's replicated deduplication.

Errors are sorted here: network trouble and server overload are `SinkUnreachable` (retried);
refused credentials, grants or an unknown cluster are `SinkMisconfigured` (an operator must act);
rows the server cannot take are `SinkRejected` (dead-lettered by the writer).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
import lz4.frame
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from tracker.errors import SinkMisconfigured, SinkRejected, SinkUnreachable
from tracker.schema.render import DEFAULT_CLUSTER, Topology, render
from tracker.sinks.chdb import BAD_DATA_CODES, error_code

# The driver's warnings repeat, per retry and with each request's URL, what the writer logs once.
for _noisy in ("urllib3.connectionpool", "clickhouse_connect.driver._backend.http_sync"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)

# UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, IP_ADDRESS_NOT_ALLOWED, READONLY, ACCESS_DENIED,
# AUTHENTICATION_FAILED, CLUSTER_DOESNT_EXIST, USER_EXPIRED: the server refuses us, not the rows.
REFUSED_CODES = frozenset({192, 193, 194, 195, 164, 497, 516, 701, 720})
TOO_MANY_PARTS = 252  # also "too many partitions for one block" (bad shape, split it)
UNKNOWN_DATABASE = 81
_INSERT = re.compile(r"\s*INSERT\b", re.IGNORECASE)


def _reason(exc: BaseException) -> str:
    """The innermost OS error of a connection failure (``Connection refused``), else the text."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    first = str(exc).strip().splitlines()
    return first[0] if first else type(exc).__name__


def translate(exc: Exception, what: str, where: str = "") -> SinkRejected | SinkUnreachable:
    if isinstance(exc, OperationalError):  # no answer, a timeout, or 429/503/504 after retries
        return SinkUnreachable(f"{what}: ClickHouse{where} did not answer: {_reason(exc)}")
    lines = str(exc).strip().splitlines()
    message = f"{what}: {lines[0] if lines else type(exc).__name__}"
    code = getattr(exc, "code", None) or error_code(exc)
    if code in REFUSED_CODES:
        return SinkMisconfigured(message)
    if code == TOO_MANY_PARTS and "too many parts" in message.lower():
        return SinkUnreachable(message)  # merges are behind: the server asks us to slow down
    if code in BAD_DATA_CODES:
        return SinkRejected(message)
    return SinkUnreachable(message)


class ClickHouseServerSink:
    name = "clickhouse"

    def __init__(
        self,
        url: str,
        database: str = "sfpla",
        cluster: str = "",
        compress: bool = True,
        *,
        connect_timeout: float = 5,
        send_receive_timeout: float = 120,
    ) -> None:
        self.url = url
        self.database = database
        self.cluster = cluster
        self.compress = compress  # the Notify entry's EnableCompression: insert bodies and answers
        self.connect_timeout = connect_timeout
        self.send_receive_timeout = send_receive_timeout
        parts = urlsplit(url)
        self._where = (
            f" at {parts.hostname}:{parts.port or (8443 if parts.scheme == 'https' else 8123)}"
        )
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()

    def _client(self) -> Any:
        """This thread's client (clickhouse-connect clients are not shared between threads)."""
        client = getattr(self._local, "client", None)
        if client is None:
            try:
                client = clickhouse_connect.get_client(
                    dsn=self.url,
                    settings={"session_timezone": "UTC"},
                    compress=self.compress,
                    # No server-side session: every request stands alone, so any node behind a
                    # load balancer may answer it and no session lock is ever contended.
                    autogenerate_session_id=False,
                    connect_timeout=self.connect_timeout,
                    send_receive_timeout=self.send_receive_timeout,
                )
            except Exception as exc:
                raise translate(exc, "connect", self._where) from exc
            client.database = self.database  # the `database` of every later request
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def topology(self) -> Topology:
        return Topology.CLUSTER if self.cluster else Topology.EMBEDDED

    def open(self) -> None:
        """Create what the tracker writes and reads, where missing (idempotent; the rest of the
        Go schema and migrations are `tracker schema load|migrate`'s). DDL the server refuses is
        an operator's matter (a server too old for a column type, say): `SinkMisconfigured`."""
        client = self._client()
        cluster = self.cluster or DEFAULT_CLUSTER
        for sql in render(self.topology(), self.database, cluster, full=False):
            try:
                client.command(sql, use_database=False)
            except Exception as exc:
                error = translate(exc, "schema", self._where)
                if isinstance(error, SinkRejected):
                    raise SinkMisconfigured(
                        f"{error}; the server cannot run the tracker's DDL"
                    ) from exc
                raise error from exc

    def healthcheck(self) -> bool:
        try:
            return bool(self._client().ping())
        except Exception:
            return False

    def insert_settings(self, token: str | None) -> dict[str, Any]:
        """The settings of every insert (see the module's docstring)."""
        settings: dict[str, Any] = {
            "insert_deduplicate": 1,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            "async_insert": 0,
            "max_partitions_per_insert_block": 0,
            "type_json_skip_duplicated_paths": 1,
        }
        if token:
            settings["insert_deduplication_token"] = token
        if self.cluster:
            settings["insert_distributed_sync"] = 1
        return settings

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        settings = self.insert_settings(token)
        block = b"\n".join(lines)
        try:
            self._client().raw_insert(
                f"{self.database}.{table}",
                insert_block=lz4.frame.compress(block) if self.compress else block,
                settings=settings,
                fmt="JSONEachRow",
                compression="lz4" if self.compress else None,
            )
        except Exception as exc:
            raise translate(exc, f"insert into {table}", self._where) from exc

    def query(
        self, sql: str, fmt: str = "JSONEachRow", params: Mapping[str, object] | None = None
    ) -> bytes:
        """Run ``sql`` with the tracker's database as the default one. An INSERT carries its
        rows after its own FORMAT, so no output format is added to it."""
        client = self._client()
        parameters = dict(params) if params else None
        output = None if _INSERT.match(sql) else fmt
        try:
            try:
                data: bytes = client.raw_query(sql, parameters=parameters, fmt=output)
            except DatabaseError as exc:
                if exc.code != UNKNOWN_DATABASE or f"Database {self.database} " not in str(exc):
                    raise
                # Not created yet (`schema load` is about to): the statement names its tables
                # in full, or fails again with its own reason.
                data = client.raw_query(sql, parameters, fmt=output, use_database=False)
        except Exception as exc:
            raise translate(exc, "query", self._where) from exc
        return data

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            try:
                client.close()
            except Exception:  # closing is best effort
                continue
        self._local = threading.local()
