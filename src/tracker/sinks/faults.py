"""A fault-injection wrapper at the sink seam, for tests and drills (never on by default).

Enabled by the environment variable ``TRACKER_FAULTS_FILE``: while that file exists it is read
before every write, as JSON:

* ``{"unreachable": true}`` — every write fails as if the database were down;
* ``{"reject_containing": "text"}`` — a batch holding a row that contains ``text`` is refused as
  bad data (as ClickHouse refuses a batch with one unparsable row).

``"sinks": ["nats", …]`` limits the faults to the sinks so named (all sinks without it).
Delete the file and writes go through again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import orjson

from tracker.errors import SinkRejected, SinkUnreachable
from tracker.sinks.base import Sink

ENV = "TRACKER_FAULTS_FILE"


class FaultInjectingSink:
    def __init__(self, inner: Sink, control: Path) -> None:
        self.inner = inner
        self.control = control
        self.name = inner.name

    def _faults(self) -> dict[str, object]:
        try:
            data = orjson.loads(self.control.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}
        if not isinstance(data, dict):
            return {}
        names = data.get("sinks")
        return data if not isinstance(names, list) or self.name in names else {}

    def open(self) -> None:
        self.inner.open()

    def healthcheck(self) -> bool:
        return not self._faults().get("unreachable") and self.inner.healthcheck()

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        faults = self._faults()
        if faults.get("unreachable"):
            raise SinkUnreachable(f"insert into {table}: injected fault (unreachable)")
        marker = faults.get("reject_containing")
        if isinstance(marker, str) and marker and any(marker.encode() in line for line in lines):
            raise SinkRejected(
                f"insert into {table}: injected fault (row refused: contains {marker!r})"
            )
        self.inner.write(table, lines, token)

    def maintain(self) -> None:
        """The inner sink's own chores (DuckDB's export), unaffected by the faults."""
        chores = getattr(self.inner, "maintain", None)
        if chores is not None:
            chores()

    def query(
        self, sql: str, fmt: str = "JSONEachRow", params: Mapping[str, object] | None = None
    ) -> bytes:
        return self.inner.query(sql, fmt, params)

    def close(self) -> None:
        self.inner.close()


def with_faults(sink: Sink) -> Sink:
    path = os.environ.get(ENV)
    return FaultInjectingSink(sink, Path(path)) if path else sink
