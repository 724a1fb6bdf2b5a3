"""The command line as a user runs it: `python -m tracker ...` in a subprocess, on real data."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import FAST_BATCHES, TrackerServer, cli

from tracker import __version__

EXPECTED = [{"ename": "cli_a", "etyp": "first"}, {"ename": "cli_b", "etyp": "second"}]
FORMATS = ("pretty", "JSONEachRow", "CSV", "TSV")


def query(data_dir: Path, sql: str, fmt: str = "JSONEachRow", *extra: str) -> str:
    return cli("query", *extra, "--data-dir", str(data_dir), "--format", fmt, sql).stdout


def table_count(data_dir: Path) -> int:
    sql = "SELECT count() AS n FROM system.tables WHERE database = 'sfpla'"
    return int(orjson.loads(query(data_dir, sql))["n"])


def test_schema_load_twice_is_harmless(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = cli("schema", "load", "--data-dir", str(data_dir))
    assert "schema loaded" in first.stdout
    tables = table_count(data_dir)
    assert tables > 30
    query(data_dir, "INSERT INTO events (ename) VALUES ('kept')")
    second = cli("schema", "load", "--data-dir", str(data_dir))
    assert (first.returncode, second.returncode) == (0, 0)
    assert table_count(data_dir) == tables
    assert query(data_dir, "SELECT ename FROM events") == '{"ename":"kept"}\n'


def outputs(server: TrackerServer) -> dict[tuple[str, str], str]:
    """Every format for `events`, and JSONEachRow for the database-qualified `sfpla.events`."""
    assert server.config_path is not None
    results = {}
    for table, formats in (("events", FORMATS), ("sfpla.events", ("JSONEachRow",))):
        sql = f"SELECT ename, etyp FROM {table} WHERE ename LIKE 'cli_%' ORDER BY ename"
        for fmt in formats:  # the config file goes first, as `tracker query [config.json] SQL`
            results[(table, fmt)] = query(server.data_dir, sql, fmt, str(server.config_path))
    return results


def test_query_works_through_the_running_server_and_after_it_stops(make_server: Any) -> None:
    server: TrackerServer = make_server(config=FAST_BATCHES)
    for row in EXPECTED:
        assert httpx.post(f"{server.url}/tr/v1/str/", json=row, timeout=10).status_code == 200
    server.wait_for("SELECT eid FROM events WHERE ename LIKE 'cli_%'", 2)
    assert (server.data_dir / "tracker.sock").exists()  # running: answered over the socket
    running = outputs(server)
    assert server.stop() == 0
    assert not (server.data_dir / "tracker.sock").exists()  # stopped: the CLI opens the store
    assert outputs(server) == running
    for table in ("events", "sfpla.events"):
        rows = [orjson.loads(line) for line in running[(table, "JSONEachRow")].splitlines()]
        assert rows == EXPECTED
    assert running[("events", "CSV")] == '"ename","etyp"\n"cli_a","first"\n"cli_b","second"\n'
    assert running[("events", "TSV")] == "ename\tetyp\ncli_a\tfirst\ncli_b\tsecond\n"
    pretty = running[("events", "pretty")]
    assert re.search(r"ename.*etyp", pretty)
    assert re.search(r"cli_a\s.*first", pretty)
    assert re.search(r"cli_b\s.*second", pretty)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    server = TrackerServer(tmp_path_factory.mktemp("cli") / "data", FAST_BATCHES).start()
    yield server
    server.stop()


def test_a_second_serve_on_the_same_data_dir_is_refused(running: TrackerServer) -> None:
    assert running.process is not None
    second = cli(
        "serve", "--port", "0", "--host", "127.0.0.1", "--data-dir", str(running.data_dir),
        check=False,
    )  # fmt: skip
    assert second.returncode == 2
    assert f"in use by tracker PID {running.process.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    assert httpx.get(f"{running.url}/ping", timeout=10).status_code == 200  # the first one is fine


def test_a_long_query_goes_through_the_running_server(running: TrackerServer) -> None:
    text = "x" * 100_000  # over asyncio's default 64 KiB line limit of the control socket
    assert query(running.data_dir, f"SELECT length('{text}') AS n", "TSV") == "n\n100000\n"


def test_a_failing_query_exits_2_with_the_database_error(running: TrackerServer) -> None:
    result = cli("query", "--data-dir", str(running.data_dir), "SELEC 1", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("tracker: ")
    assert "Syntax error" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_config_value_exits_2_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"MaxBodyBytes": "ten"}))
    message = "tracker: Config key 'MaxBodyBytes' has value 'ten': expected a whole number.\n"
    data = ("--data-dir", str(tmp_path / "data"))
    for args in (
        ("serve", str(config), *data),
        ("query", str(config), "SELECT 1", *data),
        ("schema", "load", str(config), *data),
    ):
        result = cli(*args, check=False)
        assert (result.returncode, result.stderr) == (2, message), args
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_python_m_tracker_prints_its_version() -> None:
    result = cli("--version")
    assert result.stdout == f"tracker {__version__}\n"
