"""Embedded ClickHouse (chDB): the default store, in this process, under ``<data>/clickhouse``.

chDB sessions are not shared across threads: the writer thread has its own session, and every
thread that calls ``query`` gets one of its own on the same path.
Settings that must hold for every statement (UTC, the database) are set per session.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chdb import session as chdb_session

from tracker.errors import SinkRejected, SinkUnreachable
from tracker.schema.migrate import Scope, migrate
from tracker.schema.render import Topology

# chDB reads server settings from a file named in its connection string. BACKUP and RESTORE
# (`tracker backup`) need a path they may use; the data directory's owner chooses it on the
# command line, and the control socket is the owner's only (mode 0600).
CHDB_CONFIG = """<clickhouse>
    <backups><allowed_path>/</allowed_path></backups>
</clickhouse>
"""

# ClickHouse error codes that mean "this data is wrong": retrying the same rows cannot succeed
# (469: a CHECK constraint refused a row).
BAD_DATA_CODES = frozenset(
    {6, 26, 27, 32, 38, 41, 43, 44, 47, 53, 62, 69, 70, 72, 76, 117, 130, 131, 190, 252, 376, 469}
)
CODE_RE = re.compile(r"Code: (\d+)")


def error_code(exc: BaseException) -> int | None:
    match = CODE_RE.search(str(exc))
    return int(match.group(1)) if match else None


def translate(exc: Exception, what: str) -> SinkRejected | SinkUnreachable:
    code = error_code(exc)
    message = (
        f"{what}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
    )
    if code in BAD_DATA_CODES:
        return SinkRejected(message)
    return SinkUnreachable(message)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def escape_param(value: object) -> object:
    """A query parameter as ClickHouse reads one: text in its escaped (TabSeparated) form, so a
    tab, newline or backslash in a value is that character, not a broken parameter (a short link
    path with a tab answered 503). clickhouse-connect does the same for the server sink."""
    return value.translate(_ESCAPES) if isinstance(value, str) else value


class ChdbSink:
    name = "clickhouse"

    def __init__(self, path: Path, database: str = "sfpla") -> None:
        self.path = path
        self.database = database
        self._local = threading.local()
        self._sessions: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    def _session(self) -> Any:
        current = getattr(self._local, "session", None)
        if current is None:
            if self._closed:
                raise SinkUnreachable("the chDB store is closed")
            current = chdb_session.Session(self._connection())  # type: ignore[no-untyped-call]
            current.query("SET session_timezone = 'UTC'")  # type: ignore[no-untyped-call]
            current.query(f"CREATE DATABASE IF NOT EXISTS {self.database}")  # type: ignore[no-untyped-call]
            current.query(f"USE {self.database}")  # type: ignore[no-untyped-call]
            self._local.session = current
            with self._lock:
                self._sessions.append(current)
        return current

    def _connection(self) -> str:
        config = self.path.parent / f"{self.path.name}.xml"
        if not config.exists() or config.read_text() != CHDB_CONFIG:
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(CHDB_CONFIG)
        return f"file:{self.path}?config-file={config}"

    def open(self) -> None:
        """Create the tables the tracker writes and run pending schema migrations."""
        self.path.mkdir(parents=True, exist_ok=True)
        migrate(self.query, Topology.EMBEDDED, self.database, scope=Scope.TRACKER)

    def healthcheck(self) -> bool:
        try:
            self._session().query("SELECT 1")
        except Exception:
            return False
        return True

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        # A batch may span any number of partitions (events: one per oid and month), and a
        # JSON object with both "a.b" and "a": {"b"} keeps the first path instead of failing.
        settings = (
            "deduplicate_blocks_in_dependent_materialized_views = 1, "
            "max_partitions_per_insert_block = 0, type_json_skip_duplicated_paths = 1"
        )
        if token:
            settings += f", insert_deduplication_token = '{token}'"
        sql = f"INSERT INTO {self.database}.{table} SETTINGS {settings} FORMAT JSONEachRow\n"
        try:
            # A plain query, not send_insert(): chDB 4.4's streaming insert swallows errors
            # raised while writing parts (e.g. too many partitions, a failing materialized
            # view) and reports the rows as written although none were stored.
            self._session().query(sql.encode() + b"\n".join(lines))
        except Exception as exc:
            raise translate(exc, f"insert into {table}") from exc

    def query(
        self, sql: str, fmt: str = "JSONEachRow", params: Mapping[str, object] | None = None
    ) -> bytes:
        session = self._session()
        bound = {k: escape_param(v) for k, v in params.items()} if params else None
        try:
            result = session.query(sql, fmt, params=bound)
        except Exception as exc:
            raise translate(exc, "query") from exc
        data: bytes = result.bytes()
        return data

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for current in sessions:
            with contextlib.suppress(Exception):  # closing is best effort
                current.close()
