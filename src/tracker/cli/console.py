"""`tracker console [config.json] [--data-dir D] [--format F]`: SQL on the store, typed or piped.

At a terminal it is a prompt (prompt_toolkit): a statement may span lines and runs when a line
ends with `;`; Up and Down walk the history, kept in ``$XDG_STATE_HOME/tracker/console_history``
(``~/.local/state/...``); a failed statement prints its error and the prompt goes on.

Through a pipe (``make db-console < report.sql``) it runs every statement of its input in order,
the last one with or without its `;`, and stops at the first that fails: exit 2 with the error,
as a script expects. Statements are split by sqlparse, so a `;` inside quotes or a comment does
not end one.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import sqlparse

from tracker.cli.common import (
    FORMATS,
    Commands,
    add_common,
    output_format,
    run_query,
    settings_from,
)
from tracker.config import Settings
from tracker.datadir import DataDir
from tracker.errors import TrackerError

NAMES = ("console",)
PROMPT = "tracker> "
CONTINUATION = "      -> "
QUIT = frozenset({"quit", "exit", "\\q"})


def add_parsers(commands: Commands) -> None:
    console = commands.add_parser(
        "console",
        help="an SQL prompt on the store (also while serving); reads a script from a pipe",
    )
    add_common(console)
    console.add_argument(
        "--format", default="pretty", help=f"{', '.join(FORMATS)} or any ClickHouse output format"
    )


def statements(text: str) -> Iterator[str]:
    """The statements of ``text`` without their `;`; comments alone are no statement."""
    for piece in sqlparse.split(text):
        if sqlparse.format(piece, strip_comments=True).strip().strip(";").strip():
            yield piece.strip().rstrip(";").rstrip()


def complete(text: str) -> bool:
    """Whether Enter runs ``text``: it ends with `;` (outside quotes), is empty, or quits."""
    stripped = text.strip()
    if not stripped or stripped.lower() in QUIT:
        return True
    pieces = sqlparse.split(stripped)
    return bool(pieces) and pieces[-1].endswith(";")


def history_file() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "tracker" / "console_history"


def run_script(settings: Settings, text: str, fmt: str) -> int:
    for sql in statements(text):
        output = run_query(settings, sql, fmt)  # a TrackerError ends the script: exit 2
        sys.stdout.buffer.write(output)
        sys.stdout.flush()
    return 0


def run_prompt(settings: Settings, fmt: str) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

    bindings = KeyBindings()

    @bindings.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if complete(buffer.text):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    path = history_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    session: PromptSession[str] = PromptSession(
        PROMPT,
        multiline=True,
        key_bindings=bindings,
        history=FileHistory(str(path)),
        prompt_continuation=lambda width, line, wrapped: CONTINUATION,
    )
    print(
        f"tracker console on {settings.data_dir} (database {settings.database}); "
        "end statements with ';', quit with Ctrl-D"
    )
    while True:
        try:
            text = session.prompt()
        except KeyboardInterrupt:
            continue  # Ctrl-C drops the statement being typed, as in a shell
        except EOFError:
            return 0
        if text.strip().lower() in QUIT:
            return 0
        for sql in statements(text):
            try:
                output = run_query(settings, sql, fmt)
            except TrackerError as exc:
                print(f"error: {exc}")
                break
            sys.stdout.buffer.write(output)
            sys.stdout.flush()


def cmd_console(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not settings.clickhouse_url:
        DataDir(settings.data_dir).require_store()  # a typo in --data-dir, before any prompt
    fmt = output_format(args.format)
    if sys.stdin.isatty() and sys.stdout.isatty():
        return run_prompt(settings, fmt)
    return run_script(settings, sys.stdin.read(), fmt)


def run(args: argparse.Namespace) -> int:
    return cmd_console(args)
