"""The parts the OpenAPI document (`tracker.http.openapi`) is built from: the shapes of bodies
and answers, the cookies, and small constructors of operations, so the document stays a table."""

from __future__ import annotations

from typing import Any

from tracker.normalise.event import SCALAR_FIELDS

JSON = "application/json"
Spec = dict[str, Any]

# -- shapes ----------------------------------------------------------------------------------
SCALAR: Spec = {"type": ["string", "number", "boolean", "null"]}
ERROR: Spec = {
    "type": "object",
    "description": "Every error the tracker reports, whatever the route.",
    "required": ["ok", "error", "status"],
    "properties": {
        "ok": {"const": False},
        "error": {"type": "string", "description": "What is wrong, for a person to read."},
        "status": {"type": "integer", "description": "The HTTP status, again."},
    },
    "additionalProperties": False,
}
EVENT: Spec = {
    "type": "object",
    "description": (
        "One event's values. The named fields must be scalars; any other key is kept in "
        "`events.params` (a nested `params` object too). Missing ids are generated."
    ),
    "properties": dict.fromkeys(sorted(SCALAR_FIELDS), SCALAR),
    "additionalProperties": True,
}
EVENTS: Spec = {
    "oneOf": [
        {"$ref": "#/components/schemas/Event"},
        {"type": "array", "items": {"$ref": "#/components/schemas/Event"}, "minItems": 1},
    ],
    "description": "One event, or an array of events sharing the request's cookies and path.",
}
GEO: Spec = {
    "type": "object",
    "required": ["ips", "ipe", "iso2", "country", "region", "city", "lat", "lon", "zip", "tz"],
    "properties": {
        **{k: {"type": "string"} for k in ("ips", "ipe", "iso2", "country", "region", "city")},
        "lat": {"type": "number"},
        "lon": {"type": "number"},
        "zip": {"type": "string"},
        "tz": {"type": "string"},
    },
}
ROWS: Spec = {"type": "array", "items": {"type": "object"}}
METRICS: Spec = {
    "type": "object",
    "description": "The Go tracker's JSON shape plus `spool`, `dropped` and `process`.",
    "required": ["metrics", "batching", "calculated", "spool", "dropped", "process", "timestamp"],
    "properties": {
        "metrics": {"type": "object"},
        "batching": {"type": "object"},
        "calculated": {"type": "object"},
        "spool": {"type": "object"},
        "dropped": {"type": "object", "additionalProperties": {"type": "integer"}},
        "process": {"type": "object"},
        "timestamp": {"type": "string"},
    },
}
HEALTH: Spec = {
    "type": "object",
    "required": ["ok", "status", "storage", "queued_rows"],
    "properties": {
        "ok": {"type": "boolean"},
        "status": {"enum": ["healthy", "unhealthy"]},
        "storage": {"type": "string"},
        "queued_rows": {"type": "integer"},
    },
}
FORGOTTEN: Spec = {
    "type": "object",
    "required": ["ok", "vids", "uids", "removed", "total", "settled"],
    "properties": {
        "ok": {"const": True},
        "vids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        "uids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        "removed": {"type": "object", "additionalProperties": {"type": "integer"}},
        "total": {"type": "integer"},
        "settled": {"type": "boolean", "description": "False: rows accepted just before may land."},
    },
}
LINK_CHANGE: Spec = {
    "type": "object",
    "required": ["urlfrom", "urlto"],
    "properties": {"urlfrom": {"type": "string"}, "urlto": {"type": "string"}},
    "additionalProperties": True,
}

COOKIES = (
    "`vid` (the visitor, about 274 years) and `sid` (the session, no expiry), as "
    "`Set-Cookie` headers; `Secure; SameSite=None` over HTTPS"
)
SET_COOKIE: Spec = {"description": COOKIES, "schema": {"type": "string"}}
RETRY_AFTER: Spec = {"description": "Seconds to wait.", "schema": {"type": "integer"}}


# -- building blocks -------------------------------------------------------------------------
def ref(kind: str, name: str) -> Spec:
    return {"$ref": f"#/components/{kind}/{name}"}


def error(status: int) -> Spec:
    return ref("responses", f"Error{status}")


def ok(
    description: str, schema: Spec | None = None, media: str = JSON, headers: Spec | None = None
) -> Spec:
    """A response: its description, its body's schema (None: no body) and headers."""
    answer: Spec = {"description": description}
    if schema is not None:
        answer["content"] = {media: {"schema": schema}}
    if headers:
        answer["headers"] = headers
    return answer


def body(schema: Spec, required: bool = False) -> Spec:
    return {"requestBody": {"required": required, "content": {JSON: {"schema": schema}}}}


def op(summary: str, responses: dict[int, Spec], **extra: Any) -> Spec:
    return {"summary": summary, "responses": {str(k): v for k, v in responses.items()}, **extra}


def path_param(name: str, description: str) -> Spec:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        # One segment, without control characters (a path holding a newline matches no route).
        "schema": {"type": "string", "minLength": 1, "pattern": "^[^/?#\\x00-\\x1f\\x7f]+$"},
    }


def query(name: str, description: str) -> Spec:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


PREFLIGHT = op("CORS preflight", {200: ok("Allowed methods and headers for the Origin.")})
VISITOR = [
    {
        "name": "vid",
        "in": "cookie",
        "required": False,
        "schema": {"type": "string"},
        "description": "The visitor id a previous answer set.",
    },
    {
        "name": "sid",
        "in": "cookie",
        "required": False,
        "schema": {"type": "string"},
        "description": "The session id a previous answer set.",
    },
]
PAIRS = path_param("rest", "Path pairs `key/value/key/value…`, read as event values.")
BASIC: list[Spec] = [{"basic": []}]


def tracking(summary: str, answer: Spec, *, preflight: bool = True) -> Spec:
    """The operations of `/tr/`, `/img/` and `/str/` (with or without path pairs)."""
    recorded = {200: answer, 400: error(400), 413: error(413), 503: error(503)}
    item: Spec = {
        method: op(
            f"{summary} ({method.upper()})",
            recorded,
            parameters=VISITOR,
            **(body(EVENTS) if method != "get" else {}),
        )
        for method in ("get", "post", "put")
    }
    item["delete"] = op("Not a recording method", {200: answer, 405: error(405)})
    if preflight:
        item["options"] = PREFLIGHT
    return item


def api(
    methods: dict[str, Spec], *, preflight: bool = True, params: list[Spec] | None = None
) -> Spec:
    item: Spec = dict(methods)
    if preflight:
        item["options"] = PREFLIGHT
    if params:
        item["parameters"] = params
    return item


def errors_only(summary: str, *codes: int, params: list[Spec] | None = None) -> Spec:
    return api({"get": op(summary, {code: error(code) for code in codes})}, params=params)


ERRORS = {
    400: "Bad request: the body or a value cannot be used.",
    401: "Missing or wrong credentials.",
    403: "Forbidden (an Origin AllowOrigin does not allow, or a form from another site).",
    404: "Nothing here.",
    405: "Method not allowed (see `Allow`).",
    413: "The body is over MaxBodyBytes.",
    426: "This route takes a WebSocket.",
    429: "Too many requests: over ProxyDailyLimit for today, or too many failed logins.",
    502: "The upstream failed.",
    503: "Not now: the spool is full or failed, or GeoIP is off.",
    504: "The upstream timed out.",
}
