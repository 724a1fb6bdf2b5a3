"""`tracker console` (`make db-console`): at a terminal, and with a script through a pipe."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import WAIT

from tracker.sinks.chdb import ChdbSink


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("console") / "data"
    sink = ChdbSink(data / "clickhouse")
    sink.open()
    sink.close()
    return data


def console(store: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracker", "console", "--data-dir", str(store), "--format", "TSV"],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_piped_script_runs_every_statement_the_last_one_without_its_semicolon(
    store: Path,
) -> None:
    script = "SELECT 1 AS a;\n-- a comment; not a statement\nSELECT ';' AS b;\n\nSELECT 2 AS c\n"
    result = console(store, script)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "a\n1\nb\n;\nc\n2\n"


def test_a_failed_statement_in_a_piped_script_stops_it_with_exit_2(store: Path) -> None:
    result = console(store, "SELECT 1 AS a;\nSELEC 2;\nSELECT 3 AS never;\n")
    assert result.returncode == 2
    assert result.stdout == "a\n1\n"
    assert result.stderr.startswith("tracker: ")
    assert "Syntax error" in result.stderr
    assert "Traceback" not in result.stderr


class Terminal:
    """`tracker console` on a pseudo-terminal, as a person at a keyboard runs it."""

    ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[>=]|\r")

    def __init__(self, store: Path, state: Path) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "XDG_STATE_HOME": str(state), "TERM": "xterm"}
        env["PROMPT_TOOLKIT_NO_CPR"] = "1"  # no cursor-position query to answer
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "console", "--data-dir", str(store)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.seen = b""

    def expect(self, pattern: str) -> None:
        """Wait until the console prints ``pattern`` after what earlier calls matched."""
        deadline = time.monotonic() + WAIT
        while not (found := re.search(pattern.encode(), self.ANSI.sub(b"", self.seen))):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"console never printed {pattern!r}: {self.seen[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:  # the console exited
                    raise AssertionError(
                        f"console ended before {pattern!r}: {self.seen!r}"
                    ) from None
        self.seen = self.ANSI.sub(b"", self.seen)[found.end() :]

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> int:
        self.type("\x04")  # Ctrl-D
        deadline = time.monotonic() + WAIT
        while self.process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:  # read on, so that a full terminal buffer cannot block the console
                try:
                    os.read(self.master, 65536)
                except OSError:
                    break
        code = self.process.wait(WAIT)
        os.close(self.master)
        return code


@pytest.fixture
def terminal(store: Path, tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(store, tmp_path / "state")
    yield term
    if term.process.poll() is None:
        term.process.kill()
        term.process.wait()


def test_at_a_terminal_a_statement_spans_lines_and_history_survives_a_restart(
    store: Path, tmp_path: Path, terminal: Terminal
) -> None:
    terminal.expect("tracker>")
    terminal.type("SELECT\r")  # no `;` yet: Enter continues the statement
    terminal.expect(r"\s+->")
    terminal.type("40 + 2 AS answer;\r")
    terminal.expect(r"\b42\b")
    terminal.type("SELEC 1;\r")  # a failed statement is reported and the prompt goes on
    terminal.expect("error: .*Syntax error")
    terminal.expect("tracker>")  # the next prompt: Ctrl-D now reaches it
    assert terminal.close() == 0
    history = (tmp_path / "state" / "tracker" / "console_history").read_text()
    assert "+SELECT\n+40 + 2 AS answer;\n" in history

    again = Terminal(store, tmp_path / "state")  # a new console recalls the statements
    try:
        again.expect("tracker>")
        again.type("\x1b[A\x1b[A\r")  # Up twice: back past `SELEC 1;` to the answer
        again.expect(r"\b42\b")
        again.expect("tracker>")
        assert again.close() == 0
    finally:
        if again.process.poll() is None:
            again.process.kill()
