"""The test ClickHouse HTTP interface answers as ClickHouse does: checked against chDB's own
answers and against clickhouse-connect, the driver the server sink uses, unmodified."""

from __future__ import annotations

import base64
import gzip
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import httpx
import lz4.frame
import orjson
import pytest
from backports import zstd
from clickhouse_connect.driver.exceptions import DatabaseError
from tests.support.clickhouse_process import ClickHouseProcess, chdb_answers

USERS = {"default": "", "tracker": "s3cret"}
ROWS = "SELECT number, toString(number) AS s, toDate('2024-01-02') + number AS d FROM numbers(5)"
FORMATS = ["TabSeparated", "JSONEachRow", "CSVWithNames", "Native", "RowBinaryWithNamesAndTypes", "Arrow"]  # fmt: skip


@pytest.fixture(scope="module")
def ch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseProcess]:
    server = ClickHouseProcess(tmp_path_factory.mktemp("ch") / "store", USERS).start()
    yield server
    server.kill()


def post(ch: ClickHouseProcess, sql: str | bytes, **kwargs: object) -> httpx.Response:
    headers = {"X-ClickHouse-User": "tracker", "X-ClickHouse-Key": "s3cret"}
    headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
    return httpx.post(ch.url, content=sql, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_answers_and_errors_are_chdbs_own(ch: ClickHouseProcess, tmp_path: Path) -> None:
    queries = [(ROWS, fmt) for fmt in FORMATS]
    queries += [("SELECT version(), timezone()", "TabSeparated")]
    queries += [("SELECT * FROM nope", "TabSeparated"), ("SELEC 1", "TabSeparated")]
    expected = chdb_answers(tmp_path / "reference", queries)
    for (sql, fmt), answer in zip(queries, expected, strict=True):
        response = post(ch, sql, params={"default_format": fmt})
        if isinstance(answer, bytes):
            assert (response.status_code, response.content) == (200, answer), fmt
            if sql == ROWS:
                assert response.headers["x-clickhouse-format"] == fmt
        else:  # the engine's message, with the code in a header and a status ClickHouse maps
            code = answer.split(".")[0].removeprefix("Code: ")
            assert response.headers["x-clickhouse-exception-code"] == code
            assert response.status_code == {"60": 404, "62": 400}[code]
            assert response.text.startswith(answer.strip())
            assert response.text.rstrip().endswith("(official build))")


def test_clickhouse_connect_runs_unmodified_against_it(ch: ClickHouseProcess) -> None:
    client = clickhouse_connect.get_client(dsn=ch.dsn("tracker"))  # Basic auth, compress=True
    assert client.server_version == client.command("SELECT version()")
    client.command(
        "CREATE TABLE IF NOT EXISTS t (x UInt32, s String) ENGINE = MergeTree ORDER BY x "
        "SETTINGS non_replicated_deduplication_window = 100"
    )
    client.insert("t", [[1, "a"], [2, "b"]], column_names=["x", "s"])  # Native, lz4 body
    assert client.query("SELECT x, s FROM t ORDER BY x").result_rows == [(1, "a"), (2, "b")]
    for _ in range(2):  # a replayed insert with the same token is stored once
        client.raw_insert(
            "t",
            insert_block=lz4.frame.compress(b'{"x": 3, "s": "c"}\n'),
            fmt="JSONEachRow",
            compression="lz4",
            settings={"insert_deduplication_token": "batch-1"},
        )
    assert client.raw_query("SELECT count() FROM t", fmt="TSV") == b"3\n"
    assert client.query_arrow("SELECT x FROM t ORDER BY x").column("x").to_pylist() == [1, 2, 3]
    assert client.query("SELECT {n:UInt32} + 1", parameters={"n": 41}).result_rows == [(42,)]
    with pytest.raises(DatabaseError) as refused:
        client.command("SELECT * FROM nope")
    assert refused.value.code == 60
    with pytest.raises(DatabaseError) as denied:
        clickhouse_connect.get_client(dsn=ch.dsn("tracker").replace("s3cret", "wrong"))
    assert denied.value.code == 516
    client.close()


def test_credentials_come_from_headers_basic_auth_or_parameters(ch: ClickHouseProcess) -> None:
    basic = "Basic " + base64.b64encode(b"tracker:s3cret").decode()
    assert post(ch, "SELECT 1").text == "1\n"
    assert post(ch, "SELECT 1", headers={"Authorization": basic}).text == "1\n"
    assert (
        httpx.post(
            ch.url, params={"user": "tracker", "password": "s3cret"}, content="SELECT 1"
        ).text
        == "1\n"
    )
    assert httpx.post(ch.url, content="SELECT 1").text == "1\n"  # `default`, no password
    wrong = httpx.post(ch.url, params={"user": "tracker", "password": "x"}, content="SELECT 1")
    assert wrong.status_code == 403
    assert wrong.headers["x-clickhouse-exception-code"] == "516"
    assert "tracker: Authentication failed" in wrong.text


def test_url_settings_hold_for_one_query_and_a_session_keeps_its_own(ch: ClickHouseProcess) -> None:
    setting = "SELECT getSetting('max_threads')"
    default = post(ch, setting).text
    assert post(ch, setting, params={"max_threads": "3"}).text == "3\n"
    assert post(ch, setting).text == default
    unknown = post(ch, "SELECT 1", params={"no_such_setting": "1"})
    assert (unknown.status_code, unknown.headers["x-clickhouse-exception-code"]) == (404, "115")
    assert post(ch, "SELECT currentDatabase()", params={"database": "system"}).text == "system\n"
    assert post(ch, "SELECT currentDatabase()").text == "default\n"
    assert post(ch, "SET max_threads = 5", params={"session_id": "s1"}).status_code == 200
    assert post(ch, setting, params={"session_id": "s1"}).text == "5\n"
    assert post(ch, setting, params={"session_id": "s1", "max_threads": "2"}).text == "2\n"
    assert post(ch, setting, params={"session_id": "s1"}).text == "5\n"
    assert post(ch, setting, params={"session_id": "s2"}).text == default
    assert post(ch, "SET max_threads = 7").status_code == 200  # no session: lasts no longer
    assert post(ch, setting).text == default
    missing = post(ch, "SELECT 1", params={"session_id": "s9", "session_check": "1"})
    assert missing.headers["x-clickhouse-exception-code"] == "372"


def test_a_session_in_use_is_locked(ch: ClickHouseProcess) -> None:
    answers: list[httpx.Response] = []
    busy = {"session_id": "busy"}
    slow = threading.Thread(target=lambda: answers.append(post(ch, "SELECT sleep(2)", params=busy)))
    slow.start()
    while slow.is_alive():  # whichever request comes second finds the session locked
        answers.append(post(ch, "SELECT 1", params=busy))
        time.sleep(0.05)
    slow.join()
    codes = [answer.headers.get("x-clickhouse-exception-code") for answer in answers]
    assert "373" in codes  # SESSION_IS_LOCKED
    assert None in codes  # and the one holding it was answered


def test_bodies_and_answers_are_compressed_as_clickhouse_does(ch: ClickHouseProcess) -> None:
    post(ch, "CREATE TABLE IF NOT EXISTS c (x UInt8) ENGINE = MergeTree ORDER BY x")
    for encoding, encode in (
        ("gzip", gzip.compress),
        ("zstd", zstd.compress),
        ("lz4", lz4.frame.compress),
    ):
        inserted = post(
            ch,
            encode(b'{"x": 1}\n'),
            params={"query": "INSERT INTO c FORMAT JSONEachRow"},
            headers={"Content-Encoding": encoding},
        )
        assert inserted.status_code == 200, inserted.text
    assert post(ch, "SELECT count() FROM c").text == "3\n"
    on = {"enable_http_compression": "1"}
    decode = {"zstd": zstd.decompress, "gzip": gzip.decompress, "lz4": lz4.frame.decompress}
    for accepted, chosen in (("gzip, zstd", "zstd"), ("gzip, deflate", "gzip"), ("lz4", "lz4")):
        with httpx.stream(
            "POST", ch.url, content="SELECT 1", params=on, headers={"Accept-Encoding": accepted}
        ) as response:
            assert response.headers["content-encoding"] == chosen
            assert decode[chosen](b"".join(response.iter_raw())) == b"1\n"
    plain = httpx.post(ch.url, content="SELECT 1", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers  # only with enable_http_compression
    bad = post(ch, b"x", headers={"Content-Encoding": "snappy"})
    assert bad.headers["x-clickhouse-exception-code"] == "36"


def test_get_is_read_only_and_ping_answers_ok(ch: ClickHouseProcess) -> None:
    assert httpx.get(f"{ch.url}/ping").text == "Ok.\n"
    assert httpx.get(ch.url, params={"query": "SELECT 1"}).text == "1\n"
    write = httpx.get(ch.url, params={"query": "CREATE TABLE g (x UInt8) ENGINE = Memory"})
    assert write.headers["x-clickhouse-exception-code"] == "164"
    assert httpx.get(f"{ch.url}/nope").status_code == 404
    summary = orjson.loads(
        post(ch, "SELECT number FROM numbers(10)").headers["x-clickhouse-summary"]
    )
    assert summary["read_rows"] == "10"
