"""The configuration reference, generated from `SETTINGS_TABLE` (docs/configuration.md is its output).

A test compares docs/configuration.md with `render_markdown()`, so the docs cannot drift from the
code. Regenerate with:
`python -c "from tracker.config import render_markdown; print(render_markdown(), end='')" > docs/configuration.md`
"""

from __future__ import annotations

import json
from pathlib import Path

from tracker.config.model import Service
from tracker.config.table import SAME, SETTINGS_TABLE, SettingSpec
from tracker.config.types import ALIAS, IGNORED, NoValue
from tracker.config.values import Secret

_INTRO = """\
# Configuration reference

<!-- Generated from tracker.config.SETTINGS_TABLE by tracker.config.render_markdown(); do not edit.
     A test fails when this file and the table differ. -->

The tracker reads the Go tracker's `config.json` as it is: the same PascalCase keys, the same
`Notify`/`Consume` service entries, and the same meanings, except where this page says otherwise.
Run `tracker [config.json]`; with no config file at all the built-in defaults apply (embedded
ClickHouse under `data/clickhouse`, HTTP on port 8080, no TLS).

## Where settings come from

Precedence, lowest first: **built-in defaults < config.json < environment < flags**.

* **Built-in defaults** are in the Default column. A key absent from a config file takes the
  first value; a few keys have another value when there is no config file at all (noted there).
* **config.json**: keys match regardless of case, as the Go decoder matched them (with a warning);
  `null` counts as absent. Unknown keys are reported as warnings and ignored, as are the keys the
  Go tracker's README used but nothing ever read. A value of the wrong type stops startup with a
  message naming the key, the value and what was expected, for example
  `Config key 'MaxBatchSize' has value 'ten': expected a whole number.`
  Booleans must be JSON `true`/`false`, whole numbers must be JSON numbers without a fraction,
  ports are written as Go writes them (`":8443"`), and regular expressions must compile.
* **Environment**: each key with a variable in the Environment column can be set there
  (`TRACKER_` and the key in upper snake case, e.g. `TRACKER_MAXIMUM_CONNECTIONS=5000`).
  Booleans are `true` or `false`, lists are comma-separated, and an empty variable counts as unset.
* **Flags** (see `tracker --help`) override everything else. The one exception comes from the Go
  tracker: `FB_PIXEL` and `FB_TOKEN` win over `--fb-pixel` and `--fb-token`.

Secrets (`Password`, `Key`, `IPHashSecret`, `DashboardSecret`, `S3SecretAccessKey`, `FbToken`) are never shown in
logs or in the settings' `repr`.

## Differences from the Go tracker

* `MaximumConnections: 0` (or absent) means **unlimited**. In the Go tracker it meant that every
  request was answered 503.
* With no config file at all, `ApiVersion` is 1, `Domains` is `["localhost"]` and `Notify` holds
  one ClickHouse service (database `sfpla`); the Go tracker used zero values.
* Wrong types are errors instead of being skipped silently.
* Keys the Go tracker's README promised but the Go tracker ignored are honoured where their meaning
  is clear (batching, `DataRetentionDays`, `GeoIPDatabase` and four aliases) and warned about
  otherwise.
* ClickHouse is written through `ClickHouseUrl` (HTTP) or the embedded chDB; a ClickHouse entry's
  native `Hosts` are not dialled, and a warning says so when they are set without `ClickHouseUrl`.
"""

_TOP_SECTIONS = (
    ("go", "Keys of the Go tracker"),
    ("readme", "Keys the Go tracker's README used (ignored by Go, honoured here)"),
    ("ours", "Keys of this tracker"),
)

_NESTED_SECTIONS = (
    (
        "service",
        "Service entries (`Notify` and `Consume`)",
        "Each element of `Notify` and `Consume`.",
    ),
    ("filter", "`Filter[]`", "Elements of a service's `Filter`."),
    ("query", "`Filter[].Queries[]`", "Elements of a filter's `Queries`, kept from old configs."),
    ("prune", "`Prune[]`", "Elements of a service's `Prune` (`tracker prune`)."),
    ("field", "`Fields[]`", "Elements of a prune rule's (or a query's) `Fields`."),
)


def render_markdown() -> str:
    """The configuration reference as markdown, one table row per entry of `SETTINGS_TABLE`."""
    for spec in SETTINGS_TABLE:
        if not spec.help.strip():
            raise ValueError(f"Setting '{spec.key}' ({spec.scope}) has no help text")
    parts = [_INTRO, "## Top-level keys\n"]
    for origin, title in _TOP_SECTIONS:
        rows = [s for s in SETTINGS_TABLE if s.scope == "top" and s.origin == origin]
        parts.append(f"### {title}\n\n{_table(rows, with_env=True)}")
    cli = [s for s in SETTINGS_TABLE if s.scope == "cli"]
    parts.append(
        "### Environment and flags only\n\n"
        "Not read from config.json.\n\n" + _table(cli, with_env=True)
    )
    for scope, title, intro in _NESTED_SECTIONS:
        rows = [s for s in SETTINGS_TABLE if s.scope == scope]
        level = "##" if scope == "service" else "###"
        parts.append(f"{level} {title}\n\n{intro}\n\n{_table(rows, with_env=False)}")
    return "\n".join(parts)


def _table(rows: list[SettingSpec], with_env: bool) -> str:
    head = ["Key", "Type", "Default"] + (["Environment / flag"] if with_env else []) + ["Meaning"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for spec in rows:
        cells = [f"`{spec.key}`", _type(spec), _default(spec)]
        if with_env:
            names = [f"`{name}`" for name in (spec.env, spec.flag) if name]
            cells.append(", ".join(names) or "—")
        cells.append(_help(spec))
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _type(spec: SettingSpec) -> str:
    if spec.type is ALIAS:
        return f"alias of `{spec.alias_of}`"
    text = spec.type.name
    if spec.minimum is not None and spec.maximum is not None and spec.maximum < 2**32:
        text += f" ({spec.minimum} to {spec.maximum})"
    elif spec.minimum is not None and spec.minimum > 0:
        text += f" (≥ {spec.minimum})"
    return text


def _default(spec: SettingSpec) -> str:
    if isinstance(spec.type, NoValue):
        return "—"
    text = _value(spec.default)
    if spec.no_file_default is not SAME:
        text += f"; {_value(spec.no_file_default)} with no config file"
    return text


def _help(spec: SettingSpec) -> str:
    if spec.type is IGNORED:
        return "Ignored, with a warning: " + spec.help
    return spec.help


def _value(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Secret):
        value = value.value
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple) and value and all(isinstance(v, Service) for v in value):
        value = [{"Service": v.service, "Context": v.context} for v in value]
    if isinstance(value, tuple):
        value = list(value)
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
