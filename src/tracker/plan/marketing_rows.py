"""The ``fb_events`` record: one Conversions API event, planned only for the Facebook sink.

It is planned when a Facebook `Notify` entry is configured and the event passed the consent gate
in `normalise` (``Event.marketing`` is set). The record is the API's event object, ready to send:
hashes only, no clear email or phone. ``_fbx`` and ``_test_event_code`` are for the sink (which
events an entry sends, and how a request groups them) and are removed before sending.

ClickHouse has no ``fb_events`` table and its writer skips these records; they stay in the spool
until the Facebook sink has sent them (docs/facebook.md).
"""

from __future__ import annotations

from typing import Any

import orjson

from tracker.normalise import marketing
from tracker.normalise.event import Event
from tracker.spool.records import Record

TABLE = "fb_events"

# Meta's standard events, by the lowercased name this tracker stores (`ename` is lowercased).
STANDARD_EVENTS = {
    name.lower(): name
    for name in (
        "AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact",
        "CustomizeProduct", "Donate", "FindLocation", "InitiateCheckout", "Lead", "PageView",
        "Purchase", "Schedule", "Search", "StartTrial", "SubmitApplication", "Subscribe",
        "ViewContent",
    )
}  # fmt: skip
STANDARD_EVENTS["page_view"] = "PageView"

ACTION_SOURCES = frozenset(
    {"email", "website", "app", "phone_call", "chat", "physical_store", "system_generated",
     "business_messaging", "other"}
)  # fmt: skip
_NUMBERS = ("value", "predicted_ltv", "num_items")
_TEXTS = ("order_id", "content_category", "content_name", "content_type", "search_string", "status")


def _given(event: Event, key: str) -> Any:
    value = event.values.get(key)
    return event.params.get(key) if value is None else value


def event_name(event: Event) -> str:
    """A string ``params.ename`` wins over ``ename`` (as in Go); standard events in Meta's case."""
    nested = event.params.get("ename")
    name = nested if isinstance(nested, str) and nested.strip() else event.values.get("ename")
    name = name.strip() if isinstance(name, str) else ""
    return STANDARD_EVENTS.get(name.lower(), name)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def custom_data(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in _NUMBERS:
        number = _number(_given(event, key))
        if number is not None:
            data[key] = int(number) if key == "num_items" else number
    for key in _TEXTS:
        value = _given(event, key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            data[key] = str(value).strip()
    currency = _given(event, "currency")
    if isinstance(currency, str) and len(currency.strip()) == 3 and currency.strip().isalpha():
        data["currency"] = currency.strip().upper()
    ids = _given(event, "content_ids")
    if isinstance(ids, list):
        data["content_ids"] = [str(i) for i in ids if isinstance(i, str | int)]
    return data


def user_data(event: Event, given: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = dict(given)  # em, ph, client_user_agent, client_ip_address
    for key, value in (
        ("ct", marketing.city(event.city)),
        ("st", marketing.state(event.region)),
        ("zp", marketing.zip_code(event.zip, event.country)),
        ("country", marketing.country(event.country)),
        ("external_id", marketing.external_id(event.uid or event.vid)),
    ):
        if value:
            data[key] = value
    for key in ("fbp", "fbc"):  # browser cookie ids: sent as they are
        value = event.values.get(key)
        if isinstance(value, str) and value.strip():
            data[key] = value.strip()
    return data


def conversions_event(event: Event) -> dict[str, Any] | None:
    """The Conversions API event of ``event``, or None when it is not to be sent."""
    given = event.marketing
    name = event_name(event)
    if given is None or not name:
        return None
    source = event.values.get("action_source")
    if not (isinstance(source, str) and source in ACTION_SOURCES):
        source = "website" if given.get("client_user_agent") else "other"
    body: dict[str, Any] = {
        "event_name": name,
        "event_time": int(event.created_at.timestamp()),
        "event_id": event.eid,
        "action_source": source,
        "user_data": user_data(event, given),
    }
    url = event.values.get("url")
    if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
        body["event_source_url"] = url
    data = custom_data(event)
    if data:
        body["custom_data"] = data
    body["_fbx"] = event.values.get("fbx") is not None
    code = event.values.get("test_event_code")
    if isinstance(code, str) and code.strip():
        body["_test_event_code"] = code.strip().upper()
    return body


def plan_marketing(event: Event, attempt_all: bool = False) -> list[Record]:
    """The event's ``fb_events`` record; without ``fbx`` only when an entry has ``AttemptAll``."""
    body = conversions_event(event)
    if body is None or not (body["_fbx"] or attempt_all):
        return []
    return [(TABLE, orjson.dumps(body))]
