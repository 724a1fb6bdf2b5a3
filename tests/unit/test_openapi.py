"""The OpenAPI document against the routes the app really serves, and docs/api.md against it."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis

from tracker.config import load_settings
from tracker.http.app import TrackerApp
from tracker.http.openapi import document
from tracker.http.openapi_markdown import render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# Answers that are not the error shape on purpose (besides the dashboard's HTML pages, whose
# errors are pages too): the health body, and Starlette's static files.
PAGES = {("/health", "503"), ("/dashboard/static/{path}", "404")}


@pytest.mark.parametrize(
    ("version", "proxy", "dashboard"), [(1, "", "true"), (3, "http://127.0.0.1:9", "false")]
)
def test_every_route_the_app_serves_is_in_the_document_and_nothing_else(
    tmp_path: Path, version: int, proxy: str, dashboard: str
) -> None:
    overrides = {"DataDir": str(tmp_path / "data")}
    settings, _ = load_settings(None, env={"TRACKER_API_VERSION": str(version),
                                           "TRACKER_PROXY_URL": proxy, "TRACKER_DASHBOARD": dashboard}, overrides=overrides)  # fmt: skip
    app = TrackerApp(settings)  # takes the data directory; the store is not opened
    try:
        served = app.route_templates()
        paths = document(app.site.prefix, proxy=bool(proxy), dashboard=settings.dashboard)["paths"]
        described = set(paths)
    finally:
        app.rt.spool.close()
        app.rt.lock.release()
    assert served - described == set(), "served but not described"
    assert described - served == set(), "described but not served"
    assert f"/tr/v{version}/tr/{{rest}}" in served
    assert ("/api/{path}" in served) is bool(proxy)
    assert ("/dashboard/" in served) is (dashboard == "true")


def test_the_document_is_valid_openapi_3_1() -> None:
    spec = document("/tr/v1", proxy=True, dashboard=True)
    assert spec["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(spec).validate()  # raises on a schema the meta-schema refuses


def test_every_operation_documents_its_errors_in_the_one_error_shape() -> None:
    spec = document("/tr/v1", proxy=True, dashboard=True)
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["ok", "error", "status"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, answer in operation["responses"].items():
                html = "text/html" in answer.get("content", {})  # a page, for people
                if int(status) >= 400 and (path, status) not in PAGES and not html:
                    assert answer == {"$ref": f"#/components/responses/Error{status}"}, (
                        path,
                        method,
                        status,
                    )


def test_docs_api_md_is_rendered_from_the_document() -> None:
    assert DOCS.read_text() == render(), (
        "docs/api.md is stale: regenerate it with the command in "
        "src/tracker/http/openapi_markdown.py"
    )
