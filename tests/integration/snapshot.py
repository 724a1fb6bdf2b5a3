"""Pinned snapshots of stored rows: ``tests/integration/snapshots/<name>.json``.

``assert_snapshot(name, rows)`` compares rows (after ``volatile`` placeholders are put in) with the
file. Run with ``UPDATE_SNAPSHOTS=1`` to write the files instead, then review every changed file
by hand before keeping it: a snapshot pins what we decided is right, not what the code happens
to do.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SNAPSHOTS = Path(__file__).parent / "snapshots"


def assert_snapshot(name: str, rows: list[dict[str, Any]]) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(rows, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}; run with UPDATE_SNAPSHOTS=1 and review it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert rows == expected, f"stored rows differ from {path.name}"


def placeholders(row: dict[str, Any], **volatile: str) -> dict[str, Any]:
    """``row`` with each named column replaced by its placeholder text (columns must exist)."""
    missing = set(volatile) - set(row)
    assert not missing, f"columns {sorted(missing)} are not in the row"
    return {**row, **volatile}
