"""``tracker --prune`` / ``tracker prune``: the `Prune[]` rules and log expiry, on ClickHouse.

Every rule of the enabled ``clickhouse`` Notify entries is compiled against the live schema first
(`tracker.privacy.prune_sql`), so a bad rule stops the run before anything changes. Then, one
partition at a time (oldest first), the expired rows are rewritten or deleted by a mutation that
finishes before the next starts, under a progress bar:

* **Resumable.** ``<DataDir>/prune-state.json`` records the run's moment ("now", from which
  ages are measured) and each finished partition. A run that stops (Ctrl-C, a crash, or
  ``PruneLimit``) is continued by the next one with the same rules, from where it stopped; the
  file is removed when a run completes. (The Go tracker's ``PruneUpdateConfig`` rewrote
  config.json for this; the config file is never written here.)
* **PruneLimit** stops after that many rows, counted exactly: in the partition where the limit
  falls, only the oldest rows up to it are pruned (ordered by the time column, then the table's
  sorting key). The Go comparison was inverted (``limit > total`` stopped early).
* **Logs** older than ``PruneLogsTTL`` seconds (by ``created_at``) are deleted unless
  ``PruneLogsSkip``; ``--logs-only`` (or ``PruneLogsOnly``) prunes nothing else. ``PruneLimit``
  does not apply to logs.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tracker.config import PruneRule, Settings
from tracker.privacy.prune_sql import (
    CompiledRule,
    PruneConfigError,
    compile_rule,
    ident,
    resolve_table,
)
from tracker.privacy.store import Store, partition_clause
from tracker.schema.tables_dashboard import COPY_SELECT

COPY = "dashboard_events"  # the dashboard's copy of events (tracker.schema.tables_dashboard)

__all__ = ["PruneReport", "prune", "state_path"]

STATE_FILE = "prune-state.json"
# total steps -> a tqdm-like bar: a context manager with update(n) and set_postfix_str(text)
Progress = Callable[[int], Any]


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


@dataclass
class Step:
    key: str  # "rule<i>:<table>:<partition>" or "logs:<partition>"
    table: str
    where: str
    assignments: str | None
    partition: str
    rows: int
    rule: CompiledRule | None  # None: logs


@dataclass
class PruneReport:
    rows: dict[str, int] = field(default_factory=dict)  # rule label or "logs" -> rows pruned
    partitions: int = 0
    notes: list[str] = field(default_factory=list)
    resumed: bool = False
    limit_reached: bool = False


def clickhouse_rules(settings: Settings) -> tuple[tuple[PruneRule, ...], list[str]]:
    clickhouse = settings.clickhouse_services
    rules = tuple(rule for service in clickhouse for rule in service.prune)
    notes = [
        f"Prune rules of the {service.service or '?'} service are not run"
        for service in settings.notify
        if service.prune and not service.skip and service not in clickhouse
    ]
    return rules, notes


def _run_key(settings: Settings, rules: tuple[PruneRule, ...], logs_only: bool) -> str:
    text = repr((rules, settings.prune_skip_to_timestamp, settings.prune_logs_ttl, logs_only))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _key_expr(column: str, type_: str) -> str:
    """A time-zone-free, order-preserving form of a key column for the PruneLimit cut."""
    if type_.startswith("DateTime64"):
        return f"toUnixTimestamp64Milli({ident(column)})"
    if type_.startswith(("DateTime", "Date")):
        return f"toInt64({ident(column)})"
    return f"toString({ident(column)})"


class _State:
    def __init__(self, path: Path, key: str, clock: Callable[[], float]) -> None:
        self.path = path
        saved: dict[str, Any] = {}
        if path.exists():
            try:
                saved = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError:
                saved = {}
        self.resumed = saved.get("key") == key
        self.key = key
        self.now = int(saved["now"]) if self.resumed else int(clock())
        self.done: set[str] = set(saved.get("done", [])) if self.resumed else set()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)  # a server store leaves it unmade
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"key": self.key, "now": self.now, "done": sorted(self.done)}))
        tmp.replace(self.path)

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


def _steps(store: Store, table: str, time_column: str, where: str) -> list[tuple[str, int]]:
    rows = store.rows(
        f"SELECT _partition_id AS p, count() AS n FROM {table} WHERE {where} "
        f"GROUP BY p ORDER BY min({ident(time_column)}), p"
    )
    return [(str(r["p"]), int(r["n"])) for r in rows if int(r["n"])]


def _plan(
    store: Store, settings: Settings, logs_only: bool, now: int, report: PruneReport
) -> list[Step]:
    rules, notes = clickhouse_rules(settings)
    report.notes.extend(notes)
    live = store.tables()
    compiled: list[CompiledRule] = []
    for index, rule in enumerate(() if logs_only else rules):
        table = resolve_table(rule.table)
        if table not in live:
            raise PruneConfigError(
                f"Prune rule {index} names table {table!r}, which the store lacks."
            )
        one = compile_rule(index, rule, store.columns(table), now, settings.prune_skip_to_timestamp)
        report.notes.extend(f"rule {index} ({rule.table}): {note}" for note in one.notes)
        compiled.append(one)
    steps: list[Step] = []
    for one in compiled:
        for partition, rows in _steps(store, one.table, one.time_column, one.where):
            key = f"rule{one.index}:{one.table}:{partition}"
            steps.append(Step(key, one.table, one.where, one.assignments, partition, rows, one))
    if not settings.prune_logs_skip and "logs" in live:
        where = f"created_at < toDateTime64({now - settings.prune_logs_ttl}, 3)"
        for partition, rows in _steps(store, "logs", "created_at", where):
            steps.append(Step(f"logs:{partition}", "logs", where, None, partition, rows, None))
    return steps


def recopy(store: Store, partition: str) -> None:
    """Copy a month (partition) of ``events`` into the dashboard's copy again, after a rule
    deleted or cleared some of its rows: what events no longer hold leaves the copy too. A row
    stored meanwhile is already in the copy (its view fired) and is not copied twice."""
    partition_clause(partition)  # refuses an id that is not one
    inside = f"_partition_id = '{partition}'"
    store.delete(COPY, "1", partition)
    store.run(
        f"INSERT INTO {COPY} SELECT {COPY_SELECT} FROM events WHERE {inside} "
        f"AND eid GLOBAL NOT IN (SELECT eid FROM {COPY} WHERE {inside})"
    )


def _limited(store: Store, step: Step, remaining: int) -> tuple[str, int]:
    """The step's WHERE narrowed to its oldest ``remaining`` rows, and their count."""
    assert step.rule is not None
    columns = store.columns(step.table)
    keys = list(dict.fromkeys(step.rule.order_key))
    exprs = ", ".join(_key_expr(c, columns[c].type) for c in keys)
    scope = f"_partition_id = '{step.partition}' AND ({step.where})"
    cut = (
        store.query(
            f"SELECT {exprs} FROM {step.table} WHERE {scope} ORDER BY {exprs} "
            f"LIMIT 1 OFFSET {remaining - 1} FORMAT Values",
            "TSV",
        )
        .decode()
        .strip()
    )
    left = exprs if len(keys) == 1 else f"tuple({exprs})"
    where = f"({step.where}) AND {left} <= {cut}"
    return where, store.count(step.table, f"_partition_id = '{step.partition}' AND {where}")


def prune(
    store: Store,
    settings: Settings,
    *,
    logs_only: bool = False,
    state_file: Path | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
) -> PruneReport:
    """Run the prune rules and log expiry; see the module docstring."""
    logs_only = logs_only or settings.prune_logs_only
    rules, _ = clickhouse_rules(settings)
    state = _State(
        state_file or state_path(settings.data_dir), _run_key(settings, rules, logs_only), clock
    )
    report = PruneReport(resumed=state.resumed)
    if settings.prune_update_config:
        report.notes.append(
            "PruneUpdateConfig: config.json is not rewritten; runs resume from the state file"
        )
    steps = [
        s for s in _plan(store, settings, logs_only, state.now, report) if s.key not in state.done
    ]
    live = store.tables()
    limit, pruned = settings.prune_limit, 0
    bar: AbstractContextManager[Any] = nullcontext() if progress is None else progress(len(steps))
    with bar as shown:
        for step in steps:
            if shown is not None:
                label = step.rule.label if step.rule is not None else "logs"
                shown.set_postfix_str(f"{label}, partition {step.partition}", refresh=False)
                shown.update(1)
            if step.rule is not None and report.limit_reached:
                continue  # rules stop at the limit; logs go on
            where, rows = step.where, step.rows
            capped = step.rule is not None and limit > 0 and pruned + rows >= limit
            if capped and pruned + rows > limit:
                where, rows = _limited(store, step, limit - pruned)
            if step.assignments is None:
                store.delete(step.table, where, step.partition)
            else:
                store.update(step.table, step.assignments, where, step.partition)
            if step.table == "events" and COPY in live:
                recopy(store, step.partition)
            label = step.rule.label if step.rule is not None else "logs"
            report.rows[label] = report.rows.get(label, 0) + rows
            report.partitions += 1
            if step.rule is not None:
                pruned += rows
            report.limit_reached = report.limit_reached or bool(capped)
            if not capped or rows == step.rows:  # a partition cut short is not finished
                state.done.add(step.key)
            state.save()
    if not report.limit_reached:
        state.finish()
    return report
