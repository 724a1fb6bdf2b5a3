"""The OpenAPI 3.1 description of every route, written as data (served at ``/openapi.json``).

`document(prefix, proxy)` is the whole description for a tracker whose routes live under
``prefix`` (``/tr/v1`` for ``ApiVersion`` 1), with ``/api/`` when ``ProxyUrl`` is set. It is not
generated from the code: `tests/unit/test_openapi.py` checks that its paths are exactly the
routes `TrackerApp` serves, and `tests/integration/test_openapi_fuzz.py` fuzzes a real server
with it (schemathesis), so answers must match what is written here. `docs/api.md` is rendered
from it (`tracker.http.openapi_markdown`).
"""

from __future__ import annotations

from tracker.http.openapi_dashboard import dashboard_paths
from tracker.http.openapi_parts import (
    BASIC,
    COOKIES,
    ERROR,
    ERRORS,
    EVENT,
    EVENTS,
    FORGOTTEN,
    GEO,
    HEALTH,
    JSON,
    LINK_CHANGE,
    METRICS,
    PAIRS,
    RETRY_AFTER,
    ROWS,
    SET_COOKIE,
    VISITOR,
    Spec,
    api,
    body,
    error,
    errors_only,
    ok,
    op,
    path_param,
    query,
    ref,
    tracking,
)


# -- the document ----------------------------------------------------------------------------
def document(prefix: str, proxy: bool = False, dashboard: bool = False) -> Spec:
    """The OpenAPI document of a tracker serving its tracking routes under ``prefix`` (with
    ``/api/`` when ``proxy``, and the dashboard's pages when ``dashboard``)."""
    p = prefix
    cookie_ok = ok("Recorded.", headers={"Set-Cookie": SET_COOKIE})
    pixel = ok("A 1x1 transparent GIF, sent to every method.", {"type": "string"}, "image/gif")
    event_id = {
        "oneOf": [
            {"type": "string", "format": "uuid"},
            {"type": "array", "items": {"type": "string", "format": "uuid"}},
        ]
    }
    redirect = {
        302: ok(
            "To the target, with the visitor cookies.",
            headers={"Set-Cookie": SET_COOKIE, "Location": {"schema": {"type": "string"}}},
        ),
        400: error(400),
        404: error(404),
    }
    url_param = query("url", "Where to go: a path here, or a URL on Domains/RedirectAllowHosts.")
    link_ops = {
        "get": op("Follow a short link", redirect),
        "post": op("Follow a short link (POST)", redirect),
    }
    ltv = {
        method: op(
            f"Record a payment ({method.upper()})",
            {200: ok("Recorded."), 400: error(400), 413: error(413), 503: error(503)},
            **(body(EVENT) if method != "get" else {}),
        )
        for method in ("get", "post", "put")
    }
    paths: Spec = {
        f"{p}/tr/": tracking("Track a client event", cookie_ok),
        f"{p}/tr/{{rest}}": {**tracking("Track a client event", cookie_ok), "parameters": [PAIRS]},
        f"{p}/img/": tracking("Track with a pixel", pixel, preflight=False),
        f"{p}/img/{{rest}}": {
            **tracking("Track with a pixel", pixel, preflight=False),
            "parameters": [PAIRS],
        },
        f"{p}/str/": tracking("Track a server event", ok("Its event id(s).", event_id)),
        f"{p}/str/{{rest}}": {
            **tracking("Track a server event", ok("Its id(s).", event_id)),
            "parameters": [PAIRS],
        },
        f"{p}/ws": api(
            {
                "get": op(
                    "A WebSocket of events (JSON text or LZ4 binary frames)",
                    {101: ok("Switching to the WebSocket."), 403: error(403), 426: error(426)},
                )
            }
        ),
        f"{p}/pub/{{path}}": api(
            {
                "get": op(
                    "A file of StaticDirectory, tracked as a client event",
                    {
                        200: ok("The file.", {}, "*/*", headers={"Set-Cookie": SET_COOKIE}),
                        304: ok("Not modified."),
                        404: error(404),
                    },
                ),
                "delete": op("Not a served method", {405: error(405)}),
            },
            preflight=False,
            params=[path_param("path", "The file's path.")],
        ),
        f"{p}/ltv": api(ltv),
        f"{p}/ltv/{{rest}}": api(ltv, params=[PAIRS]),
        f"{p}/ppi": errors_only("No action: 404", 404),
        f"{p}/ppi/{{rest}}": errors_only(
            "An unknown action: 400 (or 404 with more segments)",
            400,
            404,
            params=[path_param("rest", "The action.")],
        ),
        f"{p}/ppi/agree": api(
            {
                "post": op(
                    "Record consent",
                    {200: ok("Recorded."), 400: error(400), 413: error(413), 503: error(503)},
                    **body(EVENT, required=True),
                ),
                "get": op(
                    "The visitor's agreements",
                    {200: ok("Rows of `agreements`, without the IP.", ROWS), 400: error(400)},
                    parameters=[query("vid", "The visitor (else the vid cookie)."), VISITOR[0]],
                ),
            }
        ),
        f"{p}/ppi/jds": api({"get": op("Every jurisdiction", {200: ok("Rows.", ROWS)})}),
        f"{p}/ppi/geoip": api(
            {
                "get": op(
                    "GeoIP record of an address",
                    {
                        200: ok("The record.", GEO),
                        400: error(400),
                        404: error(404),
                        503: error(503),
                    },
                    parameters=[query("ip", "The address (else the client's).")],
                )
            }
        ),
        f"{p}/ppi/forget": api(
            {
                method: op(
                    f"Forget a person ({method.upper()})",
                    {
                        202: ok("What was removed, per table.", FORGOTTEN),
                        400: error(400),
                        401: error(401),
                        413: error(413),
                    },
                    security=BASIC,
                    parameters=[query("vid", "A visitor id."), query("uid", "A user id.")],
                    **body(
                        {
                            "type": "object",
                            "properties": {"vid": {"type": "string"}, "uid": {"type": "string"}},
                        }
                    ),
                )
                for method in ("post", "delete")
            }
        ),
        f"{p}/rdr": api(
            {"get": op("Tracked redirect (server event)", redirect, parameters=[url_param])},
            preflight=False,
        ),
        f"{p}/rdr/{{rest}}": api(
            {"get": op("Tracked redirect (server event)", redirect, parameters=[url_param])},
            preflight=False,
            params=[PAIRS],
        ),
        f"{p}/xrdr": api(
            {"get": op("Tracked redirect (client event)", redirect, parameters=[url_param])},
            preflight=False,
        ),
        f"{p}/xrdr/{{rest}}": api(
            {"get": op("Tracked redirect (client event)", redirect, parameters=[url_param])},
            preflight=False,
            params=[PAIRS],
        ),
        f"{p}/rpi": errors_only("Nothing here: 404", 404),
        f"{p}/rpi/{{rest}}": errors_only(
            "No such redirect API route: 404", 404, params=[path_param("rest", "Anything else.")]
        ),
    }
    change = {
        200: ok("Stored."),
        400: error(400),
        401: error(401),
        405: error(405),
        413: error(413),
        429: error(429),  # too many failed logins from the IP or to the account
        503: error(503),
    }
    history = {
        200: ok(
            "The host's link history.",
            {"type": "object", "required": ["results"], "properties": {"results": ROWS}},
        ),
        400: error(400),
        401: error(401),
        405: error(405),
        429: error(429),
    }
    who = [
        path_param("uid", "Account id (or `-`, with Basic auth)."),
        path_param("password", "Its password (or `-`, with Basic auth)."),
    ]
    host = path_param("host", "The short links' host.")
    paths[f"{p}/rpi/redirect"] = api(
        {
            "post": op(
                "Create or update a short link",
                change,
                security=BASIC,
                **body(LINK_CHANGE, required=True),
            )
        }
    )
    paths[f"{p}/rpi/redirect/{{uid}}/{{password}}"] = api(
        {"post": op("Create or update a short link", change, **body(LINK_CHANGE, required=True))},
        params=who,
    )
    paths[f"{p}/rpi/redirects/{{host}}"] = api(
        {"get": op("A host's short links", history, security=BASIC)}, params=[host]
    )
    paths[f"{p}/rpi/redirects/{{uid}}/{{password}}/{{host}}"] = api(
        {"get": op("A host's short links", history)}, params=[*who, host]
    )
    paths.update(
        {
            "/health": {
                "get": op(
                    "Store health",
                    {200: ok("Healthy.", HEALTH), 503: ok("The store does not answer.", HEALTH)},
                )
            },
            "/metrics": {
                "get": op(
                    "Counters: JSON, or Prometheus text (Accept: text/plain)",
                    {
                        200: {
                            "description": "The counters.",
                            "content": {
                                JSON: {"schema": METRICS},
                                "text/plain": {"schema": {"type": "string"}},
                            },
                        }
                    },
                    parameters=[query("format", "`prometheus` for the text format.")],
                )
            },
            "/ping": {"get": op("Liveness", {200: ok("`pong`.", {"const": "pong"}, "text/plain")})},
            "/status": {
                "get": op(
                    "The client's IP and the requests in flight",
                    {200: ok("Key/Value pairs.", {"type": "array"})},
                )
            },
            "/clear": {
                "get": op(
                    "Ask the browser to clear this site's data",
                    {
                        200: ok(
                            '`OK`, with `Clear-Site-Data: "*"`.', {"type": "string"}, "text/plain"
                        )
                    },
                )
            },
            "/openapi.json": {
                "get": op("This document", {200: ok("OpenAPI 3.1.", {"type": "object"})})
            },
            "/{rest}": api(
                link_ops, params=[path_param("rest", "The short link's path.")], preflight=False
            ),
        }
    )
    if dashboard:
        paths.update(dashboard_paths(p))
    if proxy:
        paths["/api/{path}"] = api(
            {
                method: op(
                    f"Reverse proxy to ProxyUrl ({method.upper()}), tracked",
                    {
                        200: ok("The upstream's answer.", {}, "*/*"),
                        429: error(429),
                        502: error(502),
                        504: error(504),
                    },
                )
                for method in ("get", "post")
            },
            params=[path_param("path", "Passed on to ProxyUrl.")],
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tracker",
            "version": "1",
            "description": (
                "Web and product event tracking into ClickHouse, compatible with the SF Product "
                f"Labs Go tracker. Every error is the `Error` object. Client events set {COOKIES}."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR, "Event": EVENT, "Events": EVENTS},
            "responses": {
                f"Error{code}": ok(
                    text,
                    ref("schemas", "Error"),
                    headers={"Retry-After": RETRY_AFTER} if code in (429, 503) else None,
                )
                for code, text in ERRORS.items()
            },
            "securitySchemes": {
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "An account of `tracker accounts add`.",
                }
            },
        },
    }
