"""A planned row: a table's values in its column types, encoded as one JSONEachRow line."""

from __future__ import annotations

from typing import Any

import orjson

from tracker.errors import InvalidEvent
from tracker.plan.coerce import coerce_row
from tracker.schema.tables import TABLES
from tracker.spool.records import Record


def record(table: str, values: dict[str, Any]) -> Record:
    """One row of ``table`` from loose values, each coerced to its column's type."""
    return typed_record(table, coerce_row(TABLES[table], values))


def typed_record(table: str, row: dict[str, Any]) -> Record:
    """One row of ``table`` whose values already have their columns' types."""
    try:
        return table, orjson.dumps(row)
    except orjson.JSONEncodeError as exc:  # nested deeper than JSON encoding allows
        raise InvalidEvent(f"The event cannot be stored in table '{table}': {exc}.") from exc
