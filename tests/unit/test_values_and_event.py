"""The value map V (every value of one event) and `normalise()`, the trust boundary of an event.

Requests are represented by the same pieces the hot path hands over: the `User` header, the
cookies, the path pairs, the query pairs and the parsed body (`http.request.parse_events`), so the
GET, JSON and form transports are compared through the code that really reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

import orjson
import pytest

from tracker.errors import InvalidEvent
from tracker.normalise import values
from tracker.normalise.event import Event, NormaliseContext, Origin, normalise
from tracker.normalise.hashing import account_check, private_hash
from tracker.normalise.ids import ZERO_UUID
from tracker.normalise.request import parse_events
from tracker.normalise.urls import UrlFilter

VID = "14fb0860-b4bf-11e9-8971-7b80435315ac"
SID = "6f1b2c3a-7d1e-11f0-9b8a-0242ac120002"
NOW = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)


def origin(**changes: Any) -> Origin:
    fields: dict[str, Any] = {
        "ip": "203.0.113.7",
        "host": "tr.example.com",
        "user_agent": "Mozilla/5.0 Test",
        "culture": "en-gb",
        "request_uri": "/tr/v1/tr/",
        "ja4h": "po11nn030000_000000000000_000000000000_000000000000",
        "now": NOW,
    }
    fields.update(changes)
    return Origin(**fields)


CTX = NormaliseContext(url_filter=UrlFilter(None), ip_secret=b"test-secret")


def build(
    *,
    user: str | None = None,
    cookies: dict[str, str] | None = None,
    path: str = "/tr/v1/tr/",
    query: str = "",
    body: dict[str, Any] | None = None,
    ignore_key: str = "",
) -> values.Values:
    return values.build(
        user_header=user,
        cookies=cookies or {},
        path_values=values.from_path(path, 3),
        query_values=values.from_query(parse_qsl(query, keep_blank_values=True), ignore_key),
        body=body,
    )


def event(
    v: values.Values, *, ctx: NormaliseContext = CTX, is_server: bool = False, **where: Any
) -> Event:
    return normalise(v, origin(**where), ctx, is_server=is_server)


# --- the value map ---------------------------------------------------------------------------


def test_each_source_overrides_the_ones_before_it() -> None:
    sources = ("user", "cookie", "path", "query", "body")
    for index, winner in enumerate(sources):
        present = sources[: index + 1]  # the winner and every weaker source carry a vid
        v = build(
            user=orjson.dumps({"vid": "user"}).decode() if "user" in present else None,
            cookies={"vid": "cookie"} if "cookie" in present else None,
            path="/tr/v1/tr/vid/path" if "path" in present else "/tr/v1/tr/",
            query="vid=query" if "query" in present else "",
            body={"vid": "body"} if "body" in present else None,
        )
        assert v["vid"] == winner


def test_keys_are_lowercased_and_lose_a_leading_utm_prefix_in_every_source() -> None:
    v = build(
        user='{"UTM_Term": "t"}',
        path="/tr/v1/tr/UTM_Medium/m",
        query="Utm_Source=s&x_utm_y=1",
        body={"ENAME": "e", "utm_campaign": "c"},
    )
    assert v == {
        "term": "t",
        "medium": "m",
        "source": "s",
        "x_utm_y": "1",
        "ename": "e",
        "campaign": "c",
    }


def test_values_keep_their_case_in_the_value_map() -> None:
    v = build(
        path="/tr/v1/tr/ename/Page_View", query="term=Big%20Sale", body={"subject": "Hello World"}
    )
    assert v == {"ename": "Page_View", "term": "Big Sale", "subject": "Hello World"}


def test_json_nulls_are_skipped_so_they_do_not_erase_weaker_sources() -> None:
    v = build(cookies={"vid": VID}, body={"vid": None, "ename": None, "etyp": "view"})
    assert v == {"vid": VID, "etyp": "view"}


def test_a_user_header_of_null_or_not_an_object_is_ignored() -> None:
    for header in ("null", "[1,2]", '"text"', "{broken", "5"):
        assert build(user=header, body={"ename": "e"}) == {"ename": "e"}
    assert build(user='{"uid": "u1", "ename": "from_header"}') == {
        "uid": "u1",
        "ename": "from_header",
    }


def test_cookies_give_vid_sid_ehash_and_consent_flags() -> None:
    v = build(
        cookies={"vid": VID, "sid": SID, "ehash": "AbC=", "CookieConsent": "1024", "other": "x"}
    )
    assert v == {"vid": VID, "sid": SID, "ehash": "AbC=", "cflags": 1024}


def test_a_consent_cookie_that_is_not_an_integer_is_ignored() -> None:
    assert build(cookies={"CookieConsent": "yes"}) == {}


def test_path_pairs_start_after_the_route_and_drop_an_odd_trailing_key() -> None:
    assert build(path="/tr/v1/tr/vid/X/ename/page_view/etyp/view/extra") == {
        "vid": "X",
        "ename": "page_view",
        "etyp": "view",
    }


def test_an_empty_path_value_keeps_the_following_pairs_aligned() -> None:
    assert build(path="/tr/v1/tr/ename//etyp/view/") == {"ename": "", "etyp": "view"}


def test_the_first_value_of_a_repeated_query_key_wins() -> None:
    assert build(query="ename=first&ename=second") == {"ename": "first"}


def test_a_repeated_form_key_keeps_its_first_value_like_a_query_string() -> None:
    form = parse_events(b"ename=first&ename=second", "Application/X-WWW-Form-Urlencoded")
    assert form is not None
    assert build(body=form[0]) == build(query="ename=first&ename=second") == {"ename": "first"}


def test_the_ignore_query_params_key_drops_the_whole_query_string() -> None:
    v = build(path="/tr/v1/tr/ename/kept", query="etyp=view&IGQP=1&term=x", ignore_key="igqp")
    assert v == {"ename": "kept"}
    assert build(query="etyp=view", ignore_key="igqp") == {"etyp": "view"}


def test_nested_objects_from_two_sources_merge_one_level_deep() -> None:
    v = build(user='{"params": {"a": 1, "b": 1}}', body={"params": {"b": 2}})
    assert v["params"] == {"a": 1, "b": 2}


# --- normalise: ids --------------------------------------------------------------------------


def test_a_new_visitor_gets_a_generated_vid_and_the_same_sid() -> None:
    e = event(build(body={"ename": "e"}))
    assert e.new_visitor
    assert UUID(e.vid).version == 7
    assert e.sid == e.vid
    assert (e.values["vid"], e.values["sid"]) == (str(e.vid), str(e.sid))


def test_a_known_visitor_without_a_session_gets_a_fresh_sid() -> None:
    e = event(build(cookies={"vid": VID}))
    assert not e.new_visitor
    assert e.vid == VID
    assert e.sid not in (e.vid, ZERO_UUID)


def test_an_invalid_sid_is_replaced_even_for_a_new_visitor() -> None:
    e = event(build(body={"vid": "not-a-uuid", "sid": "session-123"}))
    assert e.new_visitor
    assert e.sid != e.vid


def test_ids_in_any_uuid_form_are_stored_canonical() -> None:
    dashless = VID.replace("-", "").upper()
    e = event(build(body={"vid": dashless, "sid": "{" + SID + "}", "eid": "urn:uuid:" + SID}))
    assert (e.vid, e.sid, e.eid) == (VID, SID, SID)
    assert e.values["vid"] == VID


def test_an_eid_that_is_not_a_uuid_is_replaced_by_a_generated_one() -> None:
    e = event(build(body={"eid": "test-1"}))
    assert UUID(e.eid).version == 7


# --- normalise: identifier fields -----------------------------------------------------------

IDENTIFIERS = {"ename": "  Page_View ", "etyp": "VIEW", "app": " MyApp", "source": "News "}


@pytest.mark.parametrize("transport", ["path", "query", "json", "form", "user_header"])
def test_identifier_fields_are_trimmed_and_lowercased_on_every_transport(transport: str) -> None:
    if transport == "path":
        v = build(path="/tr/v1/tr/" + "/".join(f"{k}/{val}" for k, val in IDENTIFIERS.items()))
    elif transport == "query":
        v = build(query=urlencode(IDENTIFIERS))
    elif transport == "json":
        v = build(body=(parse_events(orjson.dumps(IDENTIFIERS), "application/json") or [{}])[0])
    elif transport == "form":
        form = urlencode(IDENTIFIERS).encode()
        v = build(body=(parse_events(form, "application/x-www-form-urlencoded") or [{}])[0])
    else:
        v = build(user=orjson.dumps(IDENTIFIERS).decode())
    e = event(v)
    assert {key: e.values[key] for key in IDENTIFIERS} == {
        "ename": "page_view",
        "etyp": "view",
        "app": "myapp",
        "source": "news",
    }


def test_numbers_and_booleans_in_identifier_fields_become_text() -> None:
    e = event(build(body={"app": 2, "rel": 1.0, "split": True, "ver": 3}))
    assert (e.values["app"], e.values["rel"], e.values["split"]) == ("2", "1", "true")


def test_free_text_keeps_its_case() -> None:
    e = event(build(body={"subject": "Hello World", "msg": "Mixed Case"}))
    assert (e.values["subject"], e.values["msg"]) == ("Hello World", "Mixed Case")


def test_content_names_the_event_when_ename_is_absent() -> None:
    e = event(build(query="utm_content=Signup_Click"))
    assert e.values["ename"] == "signup_click"
    assert "content" not in e.values


def test_content_stays_content_when_ename_is_given() -> None:
    e = event(build(body={"ename": "click", "content": "Hero"}))
    assert (e.values["ename"], e.values["content"]) == ("click", "hero")


def test_content_as_a_tag_list_is_not_taken_as_the_event_name() -> None:
    e = event(build(body={"content": ["a", "b"]}))
    assert "ename" not in e.values
    assert e.values["content"] == ["a", "b"]


# --- normalise: personal identifiers --------------------------------------------------------


def test_email_becomes_ehash_and_the_clear_value_is_dropped() -> None:
    e = event(build(body={"email": " A@B.com ", "cell": "+1 555", "uname": "Jo"}))
    assert e.ehash == "ECKww6HZpkCa4N0jZP3P5B9jriI="
    assert e.chash == private_hash("+1 555", "")
    assert e.uhash == private_hash("jo", "")
    assert not {"email", "cell", "uname"} & set(e.values)
    assert "a@b.com" not in orjson.dumps(e.values).decode().lower()
    assert "a@b.com" not in orjson.dumps(e.params).decode().lower()


def test_a_given_ehash_wins_over_the_email_and_keeps_its_case() -> None:
    e = event(build(cookies={"ehash": "FromCookie="}, body={"email": "a@b.com"}))
    assert e.ehash == "FromCookie="
    assert "email" not in e.values


def test_the_private_hash_prefix_is_mixed_in() -> None:
    ctx = NormaliseContext(url_filter=UrlFilter(None), ip_secret=b"k", prefix_private_hash="salt")
    e = event(build(body={"email": "a@b.com"}), ctx=ctx)
    assert e.ehash == private_hash("a@b.com", "salt")
    assert e.ehash != "ECKww6HZpkCa4N0jZP3P5B9jriI="


# --- normalise: params --------------------------------------------------------------------------

LOGICAL_EVENT = {
    "ename": "Purchase",
    "vid": VID,
    "color": "Red",
    "qty": "3",
    "price": "9.5",
    "gift": "true",
    "when": "2024-01-02T03:04:05Z",
    "email": "a@b.com",
}


def _params_of(v: values.Values) -> dict[str, Any]:
    return event(v).params


def test_params_are_identical_for_get_json_post_and_form_post() -> None:
    get = build(query=urlencode(LOGICAL_EVENT))
    json_body = parse_events(orjson.dumps(LOGICAL_EVENT), "application/json")
    form_body = parse_events(urlencode(LOGICAL_EVENT).encode(), "application/x-www-form-urlencoded")
    assert json_body is not None
    assert form_body is not None
    expected = {"color": "Red", "qty": 3, "price": 9.5, "gift": True, "when": 1704164645000}
    assert _params_of(get) == expected
    assert _params_of(build(body=json_body[0])) == expected
    assert _params_of(build(body=form_body[0])) == expected


def test_typed_json_values_give_the_same_params_as_their_text_forms() -> None:
    typed = {"ename": "e", "qty": 3, "price": 9.5, "gift": True}
    text = {"ename": "e", "qty": "3", "price": "9.5", "gift": "true"}
    assert _params_of(build(body=typed)) == _params_of(build(query=urlencode(text)))


def test_a_nested_params_object_is_merged_and_wins_over_top_level_keys() -> None:
    p = _params_of(
        build(body={"ename": "e", "color": "red", "params": {"color": "blue", "n": "1"}})
    )
    assert p == {"color": "blue", "n": 1}


def test_a_params_query_value_of_null_is_treated_as_absent() -> None:
    assert _params_of(build(query="ename=e&params=null&k=v")) == {"k": "v"}


# --- normalise: location, consent, urls --------------------------------------------------------


def test_the_time_zone_gives_the_country_in_any_case() -> None:
    assert event(build(query="tz=america%2Flos_angeles")).country == "US"
    assert event(build(body={"tz": "Europe/Berlin"})).country == "DE"
    assert event(build(body={"tz": "Mars/Olympus"})).country == ""


def test_an_explicit_country_wins_over_the_time_zone_and_is_uppercased() -> None:
    e = event(
        build(body={"tz": "Europe/Berlin", "country": "fr ", "region": " IDF", "city": "Paris"})
    )
    assert (e.country, e.region, e.city) == ("FR", "idf", "paris")


def test_lat_lon_and_zip_accept_numbers_or_text() -> None:
    e = event(build(body={"lat": "37.5", "lon": -122, "zip": 94107}))
    assert (e.lat, e.lon, e.zip) == (37.5, -122.0, "94107")


def test_consent_flags_come_from_the_body_or_the_cookie() -> None:
    assert event(build(cookies={"CookieConsent": "4096"})).cflags == 4096
    assert event(build(cookies={"CookieConsent": "1"}, body={"cflags": 1024})).cflags == 1024
    assert event(build(body={"cflags": "lots"})).cflags == 0


def test_the_url_of_a_tracker_route_is_not_recorded_as_a_page() -> None:
    assert event(build(), request_uri="/tr/v1/tr/?ename=x").url is None
    e = event(build(body={"url": "HTTPS://Shop.example.com/Cart?item=1", "last": "http://a.b/"}))
    assert (e.url, e.last) == ("//shop.example.com/cart", "//a.b/")


def test_the_request_supplies_the_derived_columns() -> None:
    e = event(build())
    assert e.created_at == NOW
    assert e.ip == "203.0.113.7"
    assert len(e.iphash) == 32
    assert e.hhash
    assert e.bhash
    assert e.browser == "mozilla/5.0 test"
    assert e.host == "tr.example.com"


def test_remove_ip_blanks_the_ip_but_keeps_its_hash() -> None:
    ctx = NormaliseContext(url_filter=UrlFilter(None), ip_secret=b"k", remove_ip=True)
    e = event(build(), ctx=ctx)
    assert e.ip == ""
    assert len(e.iphash) == 32


# --- normalise: rejections -------------------------------------------------------------------


def test_the_account_check_accepts_the_right_acct_and_rejects_others() -> None:
    ctx = NormaliseContext(url_filter=UrlFilter(None), ip_secret=b"k", account_hash_mixer="mix")
    good = account_check("tr.example.com", "mix")
    assert event(build(body={"acct": good}), ctx=ctx).values["acct"] == good
    for bad in ({"acct": "nope"}, {}, {"acct": 5}):
        with pytest.raises(InvalidEvent, match="acct"):
            event(build(body=bad), ctx=ctx)


@pytest.mark.parametrize(
    "field", ["ename", "etyp", "vid", "url", "score", "country", "email", "browser"]
)
@pytest.mark.parametrize("bad", [{"a": 1}, [1, 2]])
def test_an_object_or_array_in_a_scalar_field_is_rejected(field: str, bad: object) -> None:
    with pytest.raises(InvalidEvent, match=f"'{field}'"):
        event(build(body={field: bad}))


def test_an_object_in_content_is_rejected() -> None:
    with pytest.raises(InvalidEvent, match="'content'"):
        event(build(body={"ename": "e", "content": {"a": 1}}))


def test_objects_are_fine_where_objects_belong() -> None:
    e = event(build(body={"ename": "e", "targets": {"t": 1}, "params": {"p": {"q": 1}}}))
    assert e.targets == {"t": 1}
    assert e.params == {"p": {"q": 1}}


def test_targets_that_are_not_an_object_become_empty() -> None:
    for targets in ([1, 2], "text", 5, '{"ok": 1}'):
        assert event(build(body={"targets": targets})).targets == (
            {"ok": 1} if targets == '{"ok": 1}' else {}
        )
