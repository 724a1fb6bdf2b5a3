"""Typed settings from the Go tracker's config.json, the environment and flags.

Precedence, lowest first: built-in defaults < config.json < environment < flags.

`load_settings(path, env, overrides)` returns `(Settings, warnings)` or raises `ConfigError`
whose message names the key, the bad value and what was expected. `SETTINGS_TABLE` is the one
list of settings (key, type, default, help): it drives validation, `render_markdown()` (checked in
as docs/configuration.md) and the CLI's `--help`.

    values.py   ConfigError, Secret, Where and the scalar value parsers
    model.py    Settings, Service and the nested entries (frozen dataclasses)
    types.py    the setting types: each one's parser, docs name and whether the environment sets it
    table.py    SettingSpec and SETTINGS_TABLE
    loader.py   load_settings: file, environment, flags, cross-key checks
    docs.py     render_markdown
"""

from tracker.config.docs import render_markdown
from tracker.config.loader import load_settings
from tracker.config.model import (
    DEFAULT_DATABASE,
    IMPLEMENTED_SERVICES,
    BatchPolicyConfig,
    FilterEntry,
    FilterQuery,
    PruneField,
    PruneRule,
    Service,
    Settings,
)
from tracker.config.table import SETTINGS_TABLE, SettingSpec
from tracker.config.values import ConfigError, Secret

__all__ = [
    "DEFAULT_DATABASE",
    "IMPLEMENTED_SERVICES",
    "SETTINGS_TABLE",
    "BatchPolicyConfig",
    "ConfigError",
    "FilterEntry",
    "FilterQuery",
    "PruneField",
    "PruneRule",
    "Secret",
    "Service",
    "SettingSpec",
    "Settings",
    "load_settings",
    "render_markdown",
]
