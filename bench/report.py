"""The outcome of one measured window, the machine description, and the markdown report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

TARGET_FLOOR_RATIO = 0.3
TARGET_P99_MS = 25.0
TARGET_BATCH_EVENTS = 40_000
TARGET_BATCH_P99_MS = 250.0


@dataclass
class Outcome:
    run: int
    target: str  # "floor" or the SpoolMode
    scenario: str
    per_request: int
    sent: int
    ok: int
    non200: int
    window_s: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    socket_errors: int
    cpu_percent: float
    peak_rss_mb: float
    expected_rows: int | None = None  # 200s x events, warm-up included (None: the floor)
    rows: int | None = None
    exit_code: int | None = None
    drain_s: float | None = None  # SIGTERM until the process exited (the spool written out)
    server_avg_latency_ms: float | None = None
    threads: dict[str, float] | None = None  # CPU seconds in the window per thread group

    def thread_us_per_request(self, group: str) -> float | None:
        """A thread group's CPU per answered request (µs); the groups add up to the total."""
        if not self.threads or not self.ok:
            return None
        return self.threads.get(group, 0.0) / self.ok * 1e6

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.window_s if self.window_s else 0.0

    @property
    def events_per_s(self) -> float:
        return self.requests_per_s * self.per_request

    @property
    def cpu_us_per_request(self) -> float | None:
        """Server CPU per answered request: what a request costs, whatever else runs on the core."""
        rate = self.requests_per_s
        return self.cpu_percent / 100 / rate * 1e6 if rate else None

    @property
    def landed_per_s(self) -> float | None:
        """Events of the window over the window plus the drain: a floor on chDB's intake rate."""
        if self.drain_s is None or not self.rows_match:
            return None
        return self.ok * self.per_request / (self.window_s + self.drain_s)

    @property
    def unanswered(self) -> int:
        """Requests sent and not answered when the load generator stopped (should be none)."""
        return self.sent - self.ok - self.non200

    @property
    def rows_match(self) -> bool:
        return self.rows == self.expected_rows and self.exit_code == 0 and self.unanswered == 0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    packages = ("uvicorn", "uvloop", "httptools", "chdb", "chdb-core", "orjson")
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kb / 2**20:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": ", ".join(f"{p} {version(p)}" for p in packages),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0].split(" Copyright")[0],
        "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "started": f"{datetime.now():%Y-%m-%d %H:%M}",
    }


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def _med(group: Sequence[Outcome], get: Callable[[Outcome], float | None]) -> float | None:
    values = [v for v in map(get, group) if v is not None]
    return median(values) if values else None


def _groups(outcomes: Sequence[Outcome]) -> dict[tuple[str, str], list[Outcome]]:
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.target, o.scenario), []).append(o)
    return groups


def ratios(outcomes: Sequence[Outcome], mode: str) -> list[float]:
    """Per run: the tracker's single-event POST req/s over the floor's, measured in that run."""
    floors = {o.run: o.requests_per_s for o in outcomes if o.target == "floor"}
    return [
        o.requests_per_s / floors[o.run]
        for o in outcomes
        if o.target == mode and o.scenario == "post" and floors.get(o.run)
    ]


def _rows_cell(group: Sequence[Outcome]) -> str:
    if group[0].expected_rows is None:
        return "n/a"
    good = sum(o.rows_match for o in group)
    return f"{'yes' if good == len(group) else 'NO'} ({good}/{len(group)} runs)"


def _median_table(outcomes: Sequence[Outcome]) -> list[str]:
    lines = [
        "| target | scenario | req/s | events/s | landed events/s | p50 ms | p90 ms | p99 ms "
        "| server CPU % | CPU µs / request | peak RSS MB | server avg latency ms "
        "| rows == 200s x events |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for (target, scenario), group in _groups(outcomes).items():
        cells = [
            _num(_med(group, lambda o: o.requests_per_s)),
            _num(_med(group, lambda o: o.events_per_s)),
            _num(_med(group, lambda o: o.landed_per_s)),
            _num(_med(group, lambda o: o.p50_ms), 2),
            _num(_med(group, lambda o: o.p90_ms), 2),
            _num(_med(group, lambda o: o.p99_ms), 2),
            _num(_med(group, lambda o: o.cpu_percent)),
            _num(_med(group, lambda o: o.cpu_us_per_request)),
            _num(_med(group, lambda o: o.peak_rss_mb)),
            _num(_med(group, lambda o: o.server_avg_latency_ms), 2),
            _rows_cell(group),
        ]
        lines.append(f"| {target} | {scenario} | " + " | ".join(cells) + " |")
    return lines


def _threads_tables(outcomes: Sequence[Outcome]) -> list[str]:
    """Per target: µs of CPU per request by thread group (rows) and scenario (columns)."""
    lines: list[str] = []
    for target in dict.fromkeys(o.target for o in outcomes):
        groups = {k: g for k, g in _groups(outcomes).items() if k[0] == target}
        names: dict[str, float] = {}
        for group in groups.values():
            for o in group:
                for name, cpu in (o.threads or {}).items():
                    names[name] = names.get(name, 0.0) + cpu
        if not names:
            continue
        scenarios = [scenario for _, scenario in groups]
        lines += [f"**{target}**, µs of CPU per request (medians over the runs):", ""]
        lines.append("| thread group | " + " | ".join(scenarios) + " |")
        lines.append("|---|" + "--:|" * len(scenarios))
        for name in sorted(names, key=lambda n: -names[n]):
            cells = [
                _num(_med(g, lambda o, n=name: o.thread_us_per_request(n)), 1)  # type: ignore[misc]
                for g in groups.values()
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        totals = [_num(_med(g, lambda o: o.cpu_us_per_request), 1) for g in groups.values()]
        lines += ["| **process total** | " + " | ".join(totals) + " |", ""]
    return lines


def _runs_table(outcomes: Sequence[Outcome]) -> list[str]:
    lines = [
        "| run | target | scenario | sent | 200s | non-200 | unanswered | socket errors | window s "
        "| req/s | p99 ms | rows landed | expected | exit | drain s |",
        "|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for o in outcomes:
        cells = [str(o.run), o.target, o.scenario, str(o.sent), str(o.ok), str(o.non200)]
        cells += [str(o.unanswered)]
        cells += [str(o.socket_errors), f"{o.window_s:.2f}", _num(o.requests_per_s)]
        cells += [_num(o.p99_ms, 2), _num(o.rows), _num(o.expected_rows)]
        cells += ["n/a" if o.exit_code is None else str(o.exit_code), _num(o.drain_s, 1)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _targets(outcomes: Sequence[Outcome]) -> list[str]:
    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    lines = []
    durable = [o for o in outcomes if o.target == "durable"]
    post = [o for o in durable if o.scenario == "post"]
    batch = [o for o in durable if o.scenario == "batch"]
    if post:
        ratio = median(ratios(outcomes, "durable"))
        p99 = _med(post, lambda o: o.p99_ms)
        lines.append(
            f"* single-event POST, durable, ≥ {TARGET_FLOOR_RATIO} x the floor's req/s: "
            f"{ratio:.2f} x — {verdict(ratio >= TARGET_FLOOR_RATIO)}"
        )
        lines.append(
            f"* p99 ≤ {TARGET_P99_MS:.0f} ms at the set connections (single-event POST, durable): "
            f"{_num(p99, 1)} ms — {verdict(p99 is not None and p99 <= TARGET_P99_MS)}"
        )
    if batch:
        landed = _med(batch, lambda o: o.landed_per_s) or 0.0
        p99 = _med(batch, lambda o: o.p99_ms)
        lines.append(
            f"* batched POST, durable, ≥ {TARGET_BATCH_EVENTS:,} events/s landed in chDB "
            f"(window events over window + drain): {landed:,.0f} — "
            f"{verdict(landed >= TARGET_BATCH_EVENTS)}"
        )
        lines.append(
            f"* batched POST, durable, p99 ≤ {TARGET_BATCH_P99_MS:.0f} ms: {_num(p99, 1)} ms — "
            f"{verdict(p99 is not None and p99 <= TARGET_BATCH_P99_MS)}"
        )
    checked = [o for o in outcomes if o.expected_rows is not None]
    good = sum(o.rows_match for o in checked)
    lines.append(
        f"* rows landed == 200s received in every run: {good}/{len(checked)} — "
        f"{verdict(good == len(checked))}"
    )
    return lines


def write_report(
    path: Path, host: dict[str, str], args: argparse.Namespace, outcomes: Sequence[Outcome]
) -> None:
    runs = max((o.run for o in outcomes), default=0)
    floor_ratio = [
        f"* single-event POST, {mode}: median {median(values):.2f} x the floor "
        f"(per run: {', '.join(f'{r:.2f}' for r in values)})"
        for mode in dict.fromkeys(o.target for o in outcomes if o.target != "floor")
        if (values := ratios(outcomes, mode))
    ]
    floor_cost = _med([o for o in outcomes if o.target == "floor"], lambda o: o.cpu_us_per_request)
    for mode in dict.fromkeys(o.target for o in outcomes if o.target != "floor"):
        post = [o for o in outcomes if o.target == mode and o.scenario == "post"]
        cost = _med(post, lambda o: o.cpu_us_per_request)
        if cost is not None and floor_cost:
            floor_ratio.append(
                f"* server CPU per single-event POST, {mode}: {cost:,.0f} µs, "
                f"{cost / floor_cost:.1f} x the floor's {floor_cost:,.0f} µs"
            )
    text = [
        f"# Ingestion benchmark, {host['started']}",
        "",
        "Written by `bench/run.py` (`make benchmark`). Numbers are medians over the runs.",
        "",
        "## Machine",
        "",
        f"* {host['nproc']} cores ({host['cpu']}), {host['ram']} RAM, Linux {host['kernel']}",
        f"* Python {host['python']}; {host['packages']}; {host['wrk']}",
        f"* load average (1, 5, 15 min) at start: {host['load_start']}; at end: {host['load_end']}",
        "",
        "## Method",
        "",
        f"* {runs} runs; in each, the floor and every scenario, each on a fresh server with its"
        f" own data directory: a {args.seconds:g} s measured window after a 1 s warm-up.",
        f"* {args.connections} connections; server pinned to core {args.server_core}, load"
        f" generator (wrk -t1, or the WebSocket client) to core {args.client_core}.",
        "* floor: `bench/floor_app.py`, a bare ASGI app that reads the body and answers 200, on"
        " uvicorn with uvloop and httptools, driven by the single-event POST script.",
        f"* scenarios: `get` URL-path GET event, `post` the seed's JSON event, `batch` a JSON"
        f" array of {args.batch_size} events, `ws` one event per LZ4 binary WebSocket frame;"
        " every event has a fresh vid and sid.",
        "* tracker config: `"
        + json.dumps({**args.base_config, "SpoolMode": "<mode>", **args.config})
        + "`"
        + ("" if "BatchPolicies" in args.config else " (default batch policies)")
        + ".",
        "* req/s counts 200s over the window; latency percentiles from wrk's histogram (none for"
        " WebSocket: the server sends no answer); server CPU is user + system time of all its"
        " threads over the window (100 % = one core), and per request (a cost that holds"
        " when other processes share the core); peak RSS is VmHWM.",
        '* rows: after SIGTERM (graceful), `tracker query "SELECT count() FROM events"` must'
        " equal the 200s received (warm-up included) x events per request. The scripts stop"
        " sending at the end of the window and wrk runs 5 s longer (15 s for batches), so no"
        " request is in flight when it stops; one still unanswered then is listed and fails the"
        " check.",
        "* landed events/s: the window's events over (window + drain time after SIGTERM).",
        "",
        "## Results",
        "",
        *_median_table(outcomes),
        "",
        "## CPU per request, by thread",
        "",
        "Every thread of the server over the window (`bench/threads.py`): the event loop (uvicorn"
        " and all of the request's Python), our supervised threads, chDB's threads by name. The"
        " rows add up to the process total; `ended/started between samples` is what threads that"
        " lived shorter than the 50 ms sampling interval used.",
        "",
        *_threads_tables(outcomes),
        "## Against the floor",
        "",
        *floor_ratio,
        "",
        "## Targets",
        "",
        *_targets(outcomes),
        "",
        "## Every run",
        "",
        *_runs_table(outcomes),
        "",
    ]
    path.write_text("\n".join(text))
