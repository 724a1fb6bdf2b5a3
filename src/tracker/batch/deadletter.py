"""Rows a database refused, kept with the reason so an operator can inspect and replay them."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson


class DeadLetters:
    """Appends one JSON line per refused row to ``<dir>/<sink>.jsonl`` (fsync'd: it is data)."""

    def __init__(self, directory: Path, sink: str) -> None:
        self.path = directory / f"{sink}.jsonl"
        self._lock = threading.Lock()

    def add(self, table: str, line: bytes, reason: str) -> None:
        record = orjson.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "table": table,
                "reason": reason,
                "row": line.decode("utf-8", "replace"),
            }
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as out:
                out.write(record + b"\n")
                out.flush()
                os.fsync(out.fileno())
