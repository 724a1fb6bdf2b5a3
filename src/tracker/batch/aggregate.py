"""Pre-aggregating the rows of SummingMergeTree counter tables within one batch.

A thousand ``{"ip": "1.2.3.4", "day": "2026-11-27", "total": 1}`` rows become one row with
``total: 1000``: what ClickHouse's merges would produce anyway, written once instead. Rows are
grouped on every column except the summed ones, so no information a merge would keep is lost;
the output order is the first appearance of each group, so a replayed batch is byte-identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tracker.schema.model import Table


def summed_columns(table: Table) -> tuple[str, ...]:
    return table.engine_args if table.engine == "SummingMergeTree" else ()


def pre_aggregate(table: Table, lines: Sequence[bytes]) -> list[bytes]:
    sums = summed_columns(table)
    if not sums or len(lines) < 2:
        return list(lines)
    groups: dict[bytes, dict[str, Any]] = {}
    for line in lines:
        row = orjson.loads(line)
        key = orjson.dumps(
            {k: v for k, v in row.items() if k not in sums}, option=orjson.OPT_SORT_KEYS
        )
        found = groups.get(key)
        if found is None:
            groups[key] = row
            continue
        for column in sums:
            found[column] = found.get(column, 0) + row.get(column, 0)
    return [orjson.dumps(row) for row in groups.values()]
