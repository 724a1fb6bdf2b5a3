"""Mistakes on the command line: one line `tracker: <what is wrong>`, exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import cli


def refused(*args: str) -> str:
    """Run `tracker *args`, check it failed as a user mistake, and return its one-line message."""
    result = cli(*args, check=False)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("tracker: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


def test_a_data_dir_that_is_a_file_or_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    under_a_file = a_file / "data"
    serve = ("serve", "--port", "0", "--host", "127.0.0.1")
    for args in (serve, ("schema", "load"), ("query", "SELECT 1")):
        message = refused(*args, "--data-dir", str(a_file))
        assert message == (
            f"tracker: The data directory {a_file} is a file: expected a directory "
            "(--data-dir or DataDir)."
        ), args
    assert refused(*serve, "--data-dir", str(under_a_file)) == (
        f"tracker: The data directory {under_a_file} cannot be created: Not a directory "
        f"({under_a_file})."
    )


def test_query_console_prune_and_forget_on_a_missing_data_dir_are_errors(tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    expected = (
        f"tracker: The data directory {typo} does not exist: expected the --data-dir (or DataDir)"
        " of a tracker. `tracker serve` and `tracker schema load` create one."
    )
    vid = "14fb0860-b4bf-11e9-8971-7b80435315ac"
    for args in (("query", "SELECT 1"), ("console",), ("prune",), ("forget", "--vid", vid)):
        assert refused(*args, "--data-dir", str(typo)) == expected, args
    assert not typo.exists()  # no empty store was made on the way


def test_a_mistyped_command_is_named_with_the_command_meant(tmp_path: Path) -> None:
    assert refused("serv") == (
        "tracker: 'serv' is neither a command nor a config file; did you mean `tracker serve`?"
    )
    assert refused("qurey").endswith("did you mean `tracker query`?")
    assert "the commands: serve, schema, query" in refused("frobnicate")
    # A config file is still the first argument, as `tracker config.json` in the Go tracker.
    missing = tmp_path / "config.json"
    assert refused(str(missing)) == f"tracker: Config file '{missing}' does not exist."


def test_a_closed_pipe_ends_the_output_quietly() -> None:
    """`tracker schema render | head -1`: the reader closed the pipe; no traceback."""
    read, write = os.pipe()
    os.close(read)  # closed before anything is written, so the first write meets EPIPE
    with subprocess.Popen(
        [sys.executable, "-m", "tracker", "schema", "render"],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        os.close(write)
        _, stderr = process.communicate(timeout=120)
    assert stderr == ""
    assert process.returncode == 141  # as a shell reports a program a closed pipe ended
