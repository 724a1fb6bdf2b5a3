"""Schemathesis fuzzes a real server with its own `/openapi.json`: every answer must be one the
document describes (status, content type, headers, body schema) and none may be a 5xx.

Bounded: a few generated requests per operation, derandomized so CI sees the same requests on
every run, in one test so that one server serves them all (the suite runs in xdist workers).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.conftest import FAST_BATCHES, TrackerServer

EXAMPLES = 8  # generated requests per operation (the document has about 80 operations)


def not_an_internal_error(ctx: object, response: schemathesis.Response, case: object) -> None:
    """No 500: a documented 503 (GeoIP off, a full spool) is an answer, a 500 is a bug."""
    assert response.status_code != 500, f"500: {response.text[:500]}"


CHECKS = [
    not_an_internal_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    server = TrackerServer(tmp_path_factory.mktemp("fuzz") / "data", FAST_BATCHES).start()
    yield server
    server.stop()


def test_every_answer_is_one_the_openapi_document_describes(fuzzed: TrackerServer) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    schema.validate()
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_described(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS, timeout=30)

        try:
            answers_as_described()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a group
            failures.append(f"{operation.label}: {exc}")
    assert operations > 70, operations
    assert not failures, f"{len(failures)} operations answered off the document:\n\n" + (
        "\n\n".join(failures)
    )


def test_a_short_link_path_with_a_tab_is_a_404_not_a_store_error(fuzzed: TrackerServer) -> None:
    """Found by the fuzzing: query parameters reach chDB in ClickHouse's escaped form, and a path
    with a newline (which no route pattern takes) gets the JSON 404 too."""
    for path in ("/a%09b", "/back%5Cslash", "/new%0Aline"):
        answer = httpx.get(f"{fuzzed.url}{path}", timeout=10)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["error"].startswith("Nothing at ")  # the JSON error, not text
