"""The dashboard's routes in the OpenAPI document (`tracker.http.openapi`), when it is on.

Its pages are HTML for people; a visitor without a session cookie is sent to the login page
(303). The panels answer JSON and CSV, and their errors are the tracker's one error shape.
"""

from __future__ import annotations

from tracker.http.openapi_parts import ERRORS, Spec, error, ok, op, path_param, query

HTML = "text/html"
SESSION = [
    {"name": "tracker_dashboard", "in": "cookie", "required": False,
     "schema": {"type": "string"}, "description": "The login session (HttpOnly)."},
]  # fmt: skip
LOCATION = {"Location": {"schema": {"type": "string"}}}
TO_LOGIN = ok("Not logged in: to the login page.", headers=LOCATION)
VIEW = [
    query("site", "The site (host of the events' url); empty means all."),
    query("range", "today, yesterday, 7d, 30d, month or custom."),
    query("from", "First day (YYYY-MM-DD) of a custom range."),
    query("to", "Last day (YYYY-MM-DD) of a custom range."),
    query("bots", "`1` counts bots too."),
]
PANEL = path_param("panel", "A panel's name (see docs/dashboard.md).")
TOKEN = path_param("token", "The token of a public read-only link.")


def shown(status: int) -> Spec:
    """An error as a page a person reads: the same status and message as the JSON error."""
    return ok(f"{ERRORS[status]} (an HTML page)", {"type": "string"}, HTML)


def page(summary: str, *, login: bool = True, params: list[Spec] | None = None) -> Spec:
    answers: dict[int, Spec] = {200: ok("The page.", {"type": "string"}, HTML)}
    if login:
        answers[303] = TO_LOGIN
    answers.update({code: shown(code) for code in (400, 404, 503)})
    return {"get": op(summary, answers, parameters=[*SESSION, *(params or [])])}


def panel(summary: str, media: str, schema: Spec) -> Spec:
    answers = {200: ok(summary, schema, media), 400: error(400), 401: error(401),
               404: error(404), 503: error(503)}  # fmt: skip
    return {"get": op(summary, answers, parameters=[*SESSION, *VIEW, query("limit", "Rows.")])}


def form(summary: str) -> Spec:
    answers = {303: ok("Done: back to the dashboard.", headers=LOCATION),
               **{code: shown(code) for code in (400, 401, 403, 413, 429)}}  # fmt: skip
    body = {"required": True, "content": {"application/x-www-form-urlencoded": {
        "schema": {"type": "object", "additionalProperties": {"type": "string"}}}}}  # fmt: skip
    return {"post": op(summary, answers, parameters=SESSION, requestBody=body)}


def dashboard_paths(prefix: str) -> Spec:
    """The dashboard's paths, keyed as `document` keys its own."""
    rows = {"type": "object", "required": ["panel", "view", "rows"], "properties": {
        "panel": {"type": "string"}, "view": {"type": "string"},
        "rows": {"type": "array", "items": {"type": "object"}}}}  # fmt: skip
    csv = {"type": "string"}
    to_base = {"get": op("To the dashboard", {302: ok("To /dashboard/.", headers=LOCATION)})}
    login = page("The login form", login=False, params=[query("next", "Where to go after.")])
    login["get"]["responses"]["303"] = ok("Already logged in: on to `next`.", headers=LOCATION)
    return {
        "/": to_base,
        "/dashboard": to_base,
        "/dashboard/": page("The dashboard of a site and period", params=VIEW),
        "/dashboard/api/{panel}": {**panel("A panel's rows", "application/json", rows),
                                   "parameters": [PANEL]},
        "/dashboard/export/{panel}.csv": {**panel("A panel's rows as CSV", "text/csv", csv),
                                          "parameters": [PANEL]},
        "/dashboard/s/{token}/": {**page("A public read-only dashboard", login=False,
                                         params=VIEW), "parameters": [TOKEN]},
        "/dashboard/s/{token}/api/{panel}": {**panel("A panel of a public link",
                                             "application/json", rows),
                                             "parameters": [TOKEN, PANEL]},
        "/dashboard/s/{token}/export/{panel}.csv": {**panel("A panel of a public link as CSV",
                                                    "text/csv", csv),
                                                    "parameters": [TOKEN, PANEL]},
        "/dashboard/login": {**login, **form("Log in (account id and password)")},
        "/dashboard/logout": form("Log out"),
        "/dashboard/share": form("Turn a site's public link on or off"),
        "/dashboard/links/track": page("Build a tracking URL"),
        "/dashboard/links/short": page("Make a short link"),
        "/dashboard/setup": page("How to add t.js to a site"),
        "/dashboard/docs": page("What each number means", login=False),
        "/dashboard/static/{path}": {"get": op("The dashboard's CSS and scripts", {
            200: ok("The file.", {}, "*/*"), 304: ok("Not modified."),
            404: ok("No such file.", {"type": "string"}, "text/plain")}),
            "parameters": [path_param("path", "The file.")]},
        f"{prefix}/t.js": {"get": op("The tracking script for web pages", {
            200: ok("JavaScript.", {"type": "string"}, "text/javascript"),
            304: ok("Not modified (If-None-Match).")})},
    }  # fmt: skip
