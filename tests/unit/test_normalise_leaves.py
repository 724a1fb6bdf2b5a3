"""The leaf normalisation functions: hashes, ids, client IP/host, URLs, params, tz, consent, JA4H.

Each is pure, so these tests call them directly. Expected values are the Go tracker's (with the
fixes docs/differences.md lists) or are derived by hand in the test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import itertools
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.normalise import tz_countries
from tracker.normalise.client import (
    TrustedProxies,
    clean_ip,
    client_ip,
    cookie_domain,
    request_host,
)
from tracker.normalise.consent import has_all, has_any, parse_cflags
from tracker.normalise.geo import country_for_tz, render_tz_countries, zoneinfo_dir
from tracker.normalise.hashing import (
    account_check,
    b36,
    bhash,
    fnv1a32,
    hhash,
    iphash,
    legacy_iphash,
    password_sha1,
    private_hash,
)
from tracker.normalise.ids import ZERO_UUID, new_id, parse_uuid
from tracker.normalise.ja4h import ja4h
from tracker.normalise.params import EXCLUDED_KEYS, build_params, convert_value
from tracker.normalise.request import parse_cookies
from tracker.normalise.urls import UrlFilter, is_internal_route


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Epoch ms of a UTC date-time, computed independently with datetime."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()) * 1000


# --- hashing ---------------------------------------------------------------------------------


def test_hashes_match_the_spec_test_vectors() -> None:
    assert hhash("localhost") == "d4md6"
    assert hhash("localhost:8443") == "ixzovd"
    assert legacy_iphash("127.0.0.1") == "2eauxqsti0h26dc3qe1mfglks"
    assert legacy_iphash("8.8.8.8") == "b4c84prdbt401t5oxss1cy8xcx"
    assert bhash("curl/8.5.0") == "12trsf"
    assert private_hash("a@b.com", "") == "ECKww6HZpkCa4N0jZP3P5B9jriI="
    assert password_sha1("password") == "W6ph5Mm5Pz8GgiULbPgzG37mj9g="


def test_fnv1a32_matches_the_published_fnv_test_vectors() -> None:
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968


def test_b36_renders_unsigned_ints_in_lowercase_base36() -> None:
    assert b36(0) == "0"
    assert b36(35) == "z"
    assert b36(36) == "10"
    assert b36(0xFFFFFFFF) == "1z141z3"
    with pytest.raises(ValueError, match="unsigned"):
        b36(-1)


def test_empty_inputs_give_empty_hashes() -> None:
    assert hhash("") == ""
    assert bhash("   ") == ""
    assert legacy_iphash("") == ""
    assert iphash("", b"secret") == ""


def test_bhash_trims_and_lowercases_the_user_agent() -> None:
    assert bhash("  CURL/8.5.0 \t") == bhash("curl/8.5.0")


def test_iphash_is_a_keyed_hmac_that_changes_with_the_secret() -> None:
    expected = hmac.new(b"k1", b"8.8.8.8", hashlib.sha256).hexdigest()[:32]
    assert iphash("8.8.8.8", b"k1") == expected
    assert len(expected) == 32
    assert iphash("8.8.8.8", b"k2") != expected


def test_private_hash_trims_lowercases_and_prefixes() -> None:
    assert private_hash("  A@B.com ", "") == "ECKww6HZpkCa4N0jZP3P5B9jriI="
    salted = private_hash("a@b.com", "pepper")
    digest = hashlib.sha1(b"peppera@b.com").digest()
    assert salted == base64.urlsafe_b64encode(digest).decode()
    assert len(salted) == 28
    assert salted.endswith("=")


def test_account_check_hashes_host_and_mixer_together() -> None:
    assert account_check("localhost", "") == hhash("localhost")
    assert account_check("localhost", "mix") == b36(fnv1a32("localhostmix"))


# --- ids -------------------------------------------------------------------------------------

_CANONICAL = "0f8fad5b-d9cb-469f-a165-70867728950e"


_GO_FORMS = [
    _CANONICAL,
    _CANONICAL.upper(),
    "0f8fad5bd9cb469fa16570867728950e",
    "{0f8fad5b-d9cb-469f-a165-70867728950e}",
    "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
    "URN:UUID:0F8FAD5B-D9CB-469F-A165-70867728950E",
    "  \t0f8fad5b-d9cb-469f-a165-70867728950e\n",
]


@pytest.mark.parametrize("text", _GO_FORMS)
def test_parse_uuid_gives_the_canonical_text_of_each_go_form(text: str) -> None:
    assert parse_uuid(text) == _CANONICAL


@pytest.mark.parametrize(
    "value",
    [
        "",
        "test-1",
        "0f8fad5b-d9cb-469f-a165-70867728950",  # 35 chars
        "0f8fad5bd9cb-469f-a165-70867728950e",  # dash missing
        "0f8fad5b-d9cb-469f-a165-70867728950g",  # not hex
        "0f8fad5b-d9cb-469fa-165-70867728950e",  # dash misplaced
        "{0f8fad5b-d9cb-469f-a165-70867728950e",  # unbalanced brace
        "(0f8fad5b-d9cb-469f-a165-70867728950e)",
        "uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
        "+f8fad5bd9cb469fa16570867728950e",  # int() would take the sign
        "0x8fad5bd9cb469fa16570867728950e",  # int() would take the prefix
        "0f8fad5b_d9cb469fa16570867728950e",  # int() would take the underscore
        "0f8fad5b-d9cb-469f-a165-70867728950e-",
        None,
        123,
        uuid.UUID(_CANONICAL),
        b"0f8fad5bd9cb469fa16570867728950e",
    ],
)
def test_parse_uuid_rejects_everything_else(value: object) -> None:
    assert parse_uuid(value) is None


def test_new_ids_are_the_canonical_text_of_real_uuids() -> None:
    made = new_id()
    assert made == str(uuid.UUID(made))
    assert parse_uuid(made) == made


def test_zero_uuid_is_all_zero_bits() -> None:
    assert uuid.UUID(ZERO_UUID).int == 0


def test_new_ids_are_version_7_and_strictly_increasing_over_100k_calls() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [uuid.UUID(made) for made in (new_id() for _ in range(100_000))]
    after_ms = time.time_ns() // 1_000_000
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    ints = [i.int for i in ids]
    assert all(a < b for a, b in itertools.pairwise(ints))
    # Timestamps are wall-clock ms (the counter can carry a few ms ahead only on overflow).
    assert before_ms <= ints[0] >> 80 <= ints[-1] >> 80 <= after_ms + 1


def test_new_ids_from_many_threads_are_unique() -> None:
    results: list[list[uuid.UUID]] = [[] for _ in range(8)]

    def work(out: list[uuid.UUID]) -> None:
        out.extend(uuid.UUID(new_id()) for _ in range(5_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [i for out in results for i in out]
    assert len(set(everything)) == len(everything) == 40_000
    for out in results:  # each thread sees its own ids in increasing order
        assert all(a.int < b.int for a, b in itertools.pairwise(out))


# --- client IP and host ----------------------------------------------------------------------

_PROXY = TrustedProxies(["10.0.0.0/8", "fd00::/8", "192.0.2.7"])


def test_clean_ip_takes_the_last_parseable_entry_in_canonical_form() -> None:
    assert clean_ip("1.1.1.1, garbage, 2.2.2.2 ") == "2.2.2.2"
    assert clean_ip("1.1.1.1, garbage") == "1.1.1.1"
    assert clean_ip("2001:DB8:0:0:0:0:0:1") == "2001:db8::1"
    assert clean_ip("::ffff:203.0.113.9") == "203.0.113.9"
    assert clean_ip("garbage, ,") == ""
    assert clean_ip("") == ""


@pytest.mark.parametrize(
    "text", ["01.2.3.4", "1.2.3", "256.1.1.1", "0x1.2.3.4", "fe80::1%eth0", "1.2.3.4:80"]
)
def test_clean_ip_rejects_what_go_rejects(text: str) -> None:
    assert clean_ip(text) == ""


def test_clean_ip_formats_ipv6_like_go_and_ipaddress() -> None:
    rng = random.Random(7)
    samples = ["::", "::1", "1::", "1:0:2:3:4:5:6:7", "1:0:0:2:0:0:0:3", "::102:304", "a:0:0:b::"]
    for _ in range(2000):
        groups = [rng.choice([0, 0, 0, 1, 0xFFFF, rng.randrange(65536)]) for _ in range(8)]
        samples.append(":".join(format(g, "x") for g in groups))
    for text in samples:
        addr = ipaddress.IPv6Address(text)
        expected = str(addr.ipv4_mapped) if addr.ipv4_mapped else str(addr)
        assert clean_ip(text) == expected, text


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-real-ip", "203.0.113.9"),
        ("x-forwarded-for", "203.0.113.9, 10.1.1.1"),
        ("x-client-ip", "203.0.113.9"),
        ("cf-connecting-ip", "203.0.113.9"),
        ("x-forwarded", "for=203.0.113.9"),
        ("forwarded", 'for="203.0.113.9:4711";proto=https'),
    ],
)
def test_forwarding_headers_are_believed_only_from_trusted_proxies(header: str, value: str) -> None:
    assert client_ip("10.0.0.5", {header: value}, _PROXY) == "203.0.113.9"
    assert client_ip("198.51.100.1", {header: value}, _PROXY) == "198.51.100.1"
    assert client_ip("10.0.0.5", {header: value}, TrustedProxies()) == "10.0.0.5"


def test_forwarding_headers_follow_the_go_order() -> None:
    headers = {
        "x-real-ip": "203.0.113.1",
        "x-forwarded-for": "203.0.113.2",
        "x-client-ip": "203.0.113.3",
        "cf-connecting-ip": "203.0.113.4",
        "x-forwarded": "for=203.0.113.5",
        "forwarded": "for=203.0.113.6",
    }
    names = list(headers)
    for i, name in enumerate(names):
        remaining = {n: headers[n] for n in names[i:]}
        assert client_ip("10.0.0.5", remaining, _PROXY) == headers[name].removeprefix("for=")


def test_garbage_forwarding_headers_fall_through_to_the_next_rule() -> None:
    headers = {"x-real-ip": "not-an-ip", "x-forwarded-for": "bogus, 203.0.113.2"}
    assert client_ip("10.0.0.5", headers, _PROXY) == "10.0.0.5"
    headers = {"x-real-ip": "not-an-ip", "x-forwarded-for": " , 1.1.1.1", "x-client-ip": "2.2.2.2"}
    assert client_ip("10.0.0.5", headers, _PROXY) == "2.2.2.2"
    assert client_ip("10.0.0.5", {"x-real-ip": "garbage"}, _PROXY) == "10.0.0.5"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
        ('for="[2001:db8:cafe::17]"', "2001:db8:cafe::17"),
        ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
        ("for=unknown, for=198.51.100.17", "198.51.100.17"),
        ('for="_hidden", for=198.51.100.17:8080', "198.51.100.17"),
        ("proto=https;For=198.51.100.17", "198.51.100.17"),
        ("for=", "10.0.0.5"),
    ],
)
def test_forwarded_for_values_are_parsed_per_rfc_7239(value: str, expected: str) -> None:
    assert client_ip("10.0.0.5", {"forwarded": value}, _PROXY) == expected
    assert client_ip("10.0.0.5", {"x-forwarded": value}, _PROXY) == expected


def test_a_port_on_the_first_forwarded_for_entry_is_ignored() -> None:
    headers = {"x-forwarded-for": "203.0.113.9:5555, 10.0.0.9"}
    assert client_ip("10.0.0.5", headers, _PROXY) == "203.0.113.9"
    headers = {"x-forwarded-for": "[2001:db8::7]:5555"}
    assert client_ip("10.0.0.5", headers, _PROXY) == "2001:db8::7"


def test_the_peer_address_is_used_without_its_port() -> None:
    assert client_ip("203.0.113.9:5555", {}, _PROXY) == "203.0.113.9"
    assert client_ip("[2001:db8::1]:5555", {}, _PROXY) == "2001:db8::1"
    assert client_ip("::ffff:10.0.0.5", {"x-real-ip": "203.0.113.9"}, _PROXY) == "203.0.113.9"
    assert client_ip("testclient", {"x-real-ip": "203.0.113.9"}, _PROXY) == ""


def test_trusted_proxies_match_networks_and_single_addresses() -> None:
    assert _PROXY.contains("10.255.0.1")
    assert _PROXY.contains("192.0.2.7")
    assert _PROXY.contains("fd12::1")
    assert _PROXY.contains("[fd12::1]:443")
    assert not _PROXY.contains("192.0.2.8")
    assert not _PROXY.contains("")
    assert not _PROXY.contains("nonsense")
    assert not TrustedProxies().contains("10.0.0.1")
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not an IP address or CIDR"):
        TrustedProxies(["10.0.0.0/33"])


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost:8443", "localhost"),
        ("  TR.SFPL.IO:443 ", "tr.sfpl.io"),
        ("tr.sfpl.io", "tr.sfpl.io"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("[::1]:8080", "::1"),
        ("[::1]", "::1"),
        ("", ""),
    ],
)
def test_request_host_is_lowercased_with_the_port_stripped(host: str, expected: str) -> None:
    assert request_host(host, {}, peer_trusted=False) == expected


def test_host_override_headers_count_only_from_trusted_proxies() -> None:
    headers = {"x-forwarded-host": "Shop.Example.com:443, proxy.internal", "x-host": "other.test"}
    assert request_host("lb.internal", headers, peer_trusted=True) == "shop.example.com"
    assert request_host("lb.internal", headers, peer_trusted=False) == "lb.internal"
    headers["x-original-host"] = "first.example.com"
    assert request_host("lb.internal", headers, peer_trusted=True) == "first.example.com"
    assert request_host("lb.internal", {"x-host": "X.test"}, peer_trusted=True) == "x.test"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("tr.sfpl.io", "sfpl.io"),
        ("a.b.example.com", "example.com"),
        ("example.com", "example.com"),
        ("example.com.", "example.com"),
        ("localhost", None),
        ("127.0.0.1", None),
        ("::1", None),
        ("[::1]", None),
        ("localhost:8443", None),
        ("", None),
    ],
)
def test_cookie_domain_is_the_last_two_labels_of_a_dns_name(
    host: str, expected: str | None
) -> None:
    assert cookie_domain(host) == expected


# --- URLs ------------------------------------------------------------------------------------

# The Go tracker's shipped `UrlFilter`, in the Go config's own style, with its domains.
_SHIPPED_FILTER = (
    r"http(s|)://(api|tr|dev|spark|superset|jupyter|msgxc)(\.staging\.|\.|)"
    r"(valid9\.com|sfpl\.io|localhost)(:[0-9]*|)(/[^\?#]*)(\?|#|)"
)


def test_the_shipped_filter_keeps_only_the_path_of_our_own_urls() -> None:
    f = UrlFilter(_SHIPPED_FILTER, 6)
    assert f.apply("https://tr.sfpl.io/maps?x=1") == "/maps"
    assert f.apply("https://api.staging.valid9.com:8443/A/B#frag") == "/a/b"
    assert f.apply("http://dev.localhost/x") == "/x"


def test_the_shipped_filter_turns_foreign_urls_into_protocol_relative_ones() -> None:
    f = UrlFilter(_SHIPPED_FILTER, 6)
    assert f.apply("https://Example.com/Page?utm_source=x") == "//example.com/page"
    assert f.apply("http://example.com/a#top") == "//example.com/a#top"


def test_url_without_a_filter_gets_the_prefix_rule_then_the_query_cut() -> None:
    f = UrlFilter(None, 0)
    assert f.apply("HTTPS://A.com/X?q=1#f") == "//a.com/x"
    assert f.apply("http://a.com/x#frag") == "//a.com/x#frag"
    assert f.apply("/relative/Path?q") == "/relative/path"
    assert f.apply("see https://a.com/x") == "//a.com/x"


def test_url_filter_group_zero_means_the_last_group() -> None:
    assert UrlFilter(r"(a+)(b+)", 0).apply("xaabbq") == "bb"
    assert UrlFilter(r"a+b+", 0).apply("xaabbq") == "aabb"  # no groups: the whole match
    assert UrlFilter(r"(a+)(b+)", 1).apply("xaabbq") == "aa"


def test_url_filter_falls_back_to_the_query_cut_when_the_group_is_out_of_range() -> None:
    assert UrlFilter(r"(a+)", 2).apply("https://aa.com/?x") == "//aa.com/"
    assert UrlFilter(r"(a+)", -1).apply("https://aa.com/?x") == "//aa.com/"


def test_url_filter_group_that_did_not_participate_gives_an_empty_string() -> None:
    assert UrlFilter(r"(x)?(a)", 1).apply("a") == ""


def test_an_invalid_url_filter_names_the_config_key() -> None:
    with pytest.raises(ValueError, match="Config key 'UrlFilter' has value '\\(unclosed'"):
        UrlFilter("(unclosed", 1)


@pytest.mark.parametrize(
    ("uri", "internal"),
    [
        ("/tr/v1/tr/", True),
        ("/tr/v1/img/?x=1", True),
        ("/tr/v1/ws", True),
        ("/tr/v12/rpi/x", True),
        ("/x/xrdr/v2/a", True),
        ("/a/pub/v9", True),
        ("/tr/vx/", False),
        ("/slug", False),
        ("/api/v1/things", False),
        ("/tr/", False),
    ],
)
def test_internal_routes_are_the_versioned_tracker_routes(uri: str, internal: bool) -> None:
    assert is_internal_route(uri) is internal


# --- params ----------------------------------------------------------------------------------


def test_excluded_keys_are_the_spec_list() -> None:
    assert len(EXCLUDED_KEYS) == 69
    assert {"email", "ehash", "params", "v1", "auth_id", "targets", "ip"} <= EXCLUDED_KEYS
    assert not {"oid", "org", "tid", "auth", "uhash", "outcome", "invoice_id"} & EXCLUDED_KEYS


def test_params_merge_custom_top_level_keys_with_nested_params() -> None:
    top = {"ename": "view", "email": "a@b.com", "gu": "7", "plan": "pro", "params": "ignored"}
    nested = {"plan": "team", "vid": "x", "cart": {"vid": "kept", "n": "2"}}
    assert build_params(top, nested) == {"gu": 7, "plan": "team", "cart": {"vid": "kept", "n": 2}}


def test_params_exclusion_ignores_key_case() -> None:
    assert build_params({"Email": "a@b.com", "Plan": "x"}, {"URL": "u"}) == {"Plan": "x"}


@pytest.mark.parametrize(
    "nested",
    ['{"a": "1"}', b'{"a": "1"}', ' {"a": "1"} ', {"a": "1"}],
)
def test_nested_params_may_be_an_object_or_a_json_object_string(nested: object) -> None:
    assert build_params({}, nested) == {"a": 1}


@pytest.mark.parametrize("nested", ["null", "[1, 2]", "not json", "42", 42, None, ["a"]])
def test_nested_params_that_are_not_an_object_are_ignored(nested: object) -> None:
    assert build_params({"k": "v"}, nested) == {"k": "v"}


def test_params_with_nothing_left_are_an_empty_object() -> None:
    assert build_params({"vid": "x", "ename": "y"}, None) == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        (2.5, 2.5),
        (True, True),
        ("  padded  ", "padded"),
        ("", ""),
        ("   ", ""),
        ("TRUE", True),
        ("false", False),
        ("42", 42),
        ("-7", -7),
        ("+5", 5),
        ("1700000000", 1_700_000_000),  # not multiplied by 1000
        ("9223372036854775808", "9223372036854775808"),  # beyond int64: kept
        ("3.25", 3.25),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("1e400", "1e400"),
        ("1_000", "1_000"),
        ("nan", "nan"),
        ("NaN", "NaN"),
        ("-Infinity", "-Infinity"),
        ("inf", "inf"),
        ("+INF", "+INF"),
        ("1.2.3", "1.2.3"),
        ("12abc", "12abc"),
        ("hello", "hello"),
    ],
)
def test_convert_value_types_scalars(value: object, expected: object) -> None:
    result = convert_value(value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02T03:04:05Z", _ms(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02t03:04:05z", _ms(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05.678Z", _ms(2024, 1, 2, 3, 4, 5) + 678),
        ("2024-01-02T03:04:05.6789999Z", _ms(2024, 1, 2, 3, 4, 5) + 678),
        ("2024-01-02T08:04:05+05:00", _ms(2024, 1, 2, 3, 4, 5)),
        ("2024-01-01T22:04:05-05:00", _ms(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02 03:04:05", _ms(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05", _ms(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02 03:04:05.250", _ms(2024, 1, 2, 3, 4, 5) + 250),
        ("2024-01-02", _ms(2024, 1, 2)),
        ("01/02/2024", _ms(2024, 1, 2)),  # MM/DD/YYYY wins when both could apply
        ("12/25/2024", _ms(2024, 12, 25)),
        ("25/12/2024", _ms(2024, 12, 25)),  # DD/MM/YYYY only when the day is > 12
        ("1969-12-31T23:59:59.500Z", -500),
    ],
)
def test_convert_value_turns_dates_into_epoch_ms_utc(value: str, expected: int) -> None:
    assert convert_value(value) == expected


def test_date_conversion_agrees_with_datetime_across_the_calendar() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        day = datetime.fromordinal(rng.randrange(1, 3_652_059))  # 0001-01-01 .. 9999-12-31
        hour, minute, second = rng.randrange(24), rng.randrange(60), rng.randrange(60)
        text = f"{day.year:04d}-{day.month:02d}-{day.day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"
        expected = _ms(day.year, day.month, day.day, hour, minute, second)
        assert convert_value(text) == expected, text
    assert convert_value("2024-02-29") == _ms(2024, 2, 29)
    assert convert_value("2000-02-29") == _ms(2000, 2, 29)
    assert convert_value("1900-02-29") == "1900-02-29"


@pytest.mark.parametrize(
    "value",
    [
        "2024-02-30",
        "2024-13-01",
        "13/13/2024",
        "2024-01-02T24:00:00Z",
        "2024-01-02T03:04:60Z",
        "2024-01-02T03:04:05+24:00",
        "2024-1-2",
        "1/2/2024",
        "2024-01-02 03:04",
        "0000-01-01",
    ],
)
def test_convert_value_keeps_strings_that_are_not_valid_dates(value: str) -> None:
    assert convert_value(value) == value


def test_convert_value_parses_json_strings_and_converts_them_recursively() -> None:
    assert convert_value('{"a": "1", "b": null, "c": {"d": "true"}}') == {"a": 1, "c": {"d": True}}
    assert convert_value(' ["1", "x", null, "2.5"] ') == [1, "x", None, 2.5]
    assert convert_value("{not json}") == "{not json}"
    assert convert_value("[1, 2") == "[1, 2"
    assert convert_value("{]") == "{]"


def test_convert_value_keeps_arrays_as_arrays_and_drops_nulls_from_objects() -> None:
    assert convert_value(["a", "2", ["3"]]) == ["a", 2, [3]]
    assert convert_value({"a": None, "b": "", "c": {"d": None, "e": "no"}}) == {
        "b": "",
        "c": {"e": "no"},
    }
    assert convert_value(None) is None


def test_convert_value_drops_absurdly_deep_nesting() -> None:
    deep: object = "leaf"
    for _ in range(200):
        deep = {"k": deep}
    out = convert_value(deep)
    depth = 0
    while isinstance(out, dict) and "k" in out:
        out = out["k"]
        depth += 1
    assert 50 < depth < 100


# --- geo -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "country"),
    [
        ("America/Los_Angeles", "US"),
        ("america/los_angeles", "US"),
        (" Europe/Berlin ", "DE"),  # zone1970.tab lists DE first
        ("America/Blanc-Sablon", "CA"),  # one of Go's three mixed-case keys
        ("Europe/Oslo", "NO"),  # zone.tab only
        ("Asia/Calcutta", "IN"),  # old link name still reported by browsers
        ("America/Buenos_Aires", "AR"),
        ("Pacific/Truk", "FM"),  # a link that crosses a border
        ("Etc/UTC", None),
        ("Mars/Olympus_Mons", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_country_for_tz(tz: object, country: str | None) -> None:
    assert country_for_tz(tz) == country


def test_tz_data_module_has_only_lowercase_keys_and_alpha2_values() -> None:
    table = tz_countries.TZ_COUNTRIES
    assert len(table) > 400
    assert all(k == k.lower() and k.strip() == k for k in table)
    assert all(len(v) == 2 and v.isupper() for v in table.values())


def test_tz_data_module_matches_the_pinned_tzdata_it_was_generated_from() -> None:
    root = zoneinfo_dir()
    zi = (root / "tzdata.zi").read_text(encoding="utf-8")
    assert f"# version {tz_countries.TZDATA_VERSION}\n" in zi, "regenerate: see tz_countries.py"
    rendered = render_tz_countries(
        (root / "zone1970.tab").read_text(encoding="utf-8"),
        (root / "zone.tab").read_text(encoding="utf-8"),
        zi,
        tz_countries.TZDATA_VERSION,
    )
    assert rendered == Path(tz_countries.__file__).read_text(encoding="utf-8")


# --- consent ---------------------------------------------------------------------------------


def test_consent_flags_are_tested_bit_by_bit() -> None:
    marketing = 1 << 12
    assert has_all(marketing | 1, marketing)
    assert not has_all(8194, marketing)  # Go passed it (8194 >= 4096), but bit 12 is clear
    assert has_all(0b1011, 0b0011)
    assert not has_all(0b1001, 0b0011)
    assert has_any(0b1001, 0b0011)
    assert not has_any(0b1000, 0b0011)


def test_consent_edge_cases() -> None:
    assert has_all(None, 0)
    assert has_all(0, 0)
    assert not has_all(None, 1)
    assert not has_any(None, 1)
    assert not has_any(0xFF, 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1024, 1024),
        (4096.0, 4096),
        ("1024", 1024),
        (" -3 ", -3),
        ("+7", 7),
        (True, None),
        (False, None),
        (1.5, None),
        (float("nan"), None),
        ("1.0", None),
        ("0x10", None),
        ("", None),
        ("١٢", None),
        (1 << 63, None),
        (None, None),
        ([1], None),
    ],
)
def test_parse_cflags(value: object, expected: int | None) -> None:
    assert parse_cflags(value) == expected


# --- JA4H ------------------------------------------------------------------------------------


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def test_ja4h_of_a_typical_browser_request() -> None:
    """Worked by hand.

    GET over HTTP/1.1 with headers host, user-agent, accept, accept-language, cookie, referer and
    cookies vid and sid:

    * A: `ge` (GET) + `11` + `c` (cookies) + `r` (Referer) + `03` (Accept, Accept-Language,
      Cookie, Referer, User-Agent = 5 names; Host never counts; minus Cookie and Referer) +
      `enus` (`en-US,en;q=0.9` → `enUS` → `enus`).
    * B: SHA-256 of `AcceptAccept-LanguageCookieRefererUser-Agent` (sorted canonical names),
      first 12 hex: `e07be5ae709f`.
    * C = D: SHA-256 of `sidvid` (sorted cookie names): `6eb0d6e602bc`.
    """
    headers = [
        ("host", "tr.sfpl.io"),
        ("user-agent", "Mozilla/5.0"),
        ("accept", "*/*"),
        ("accept-language", "en-US,en;q=0.9"),
        ("cookie", "vid=1; sid=2"),
        ("referer", "https://a.example/"),
    ]
    assert _sha12("AcceptAccept-LanguageCookieRefererUser-Agent") == "e07be5ae709f"
    assert _sha12("sidvid") == "6eb0d6e602bc"
    assert (
        ja4h("GET", "1.1", headers, ["vid", "sid"])
        == "ge11cr03enus_e07be5ae709f_6eb0d6e602bc_6eb0d6e602bc"
    )


@pytest.mark.parametrize(
    ("method", "headers", "cookies", "expected"),
    [
        ("GET", [], [], "ge11nn000000_e3b0c44298fc_000000000000_000000000000"),
        (
            "GET",
            [("accept-language", "en-us")],
            [],
            "ge11nn01enus_6ec18c3c2e22_000000000000_000000000000",
        ),
        (
            "POST",
            [("accept-language", "en-us"), ("cookie", "admin=true")],
            ["admin"],
            "po11cn01enus_fab33050c907_8c6976e5b541_8c6976e5b541",
        ),
        (
            "POST",
            [
                ("accept", "application/json"),
                ("accept-language", "en"),
                ("cookie", "admin=true"),
                ("referer", "https://example.com"),
            ],
            ["admin"],
            "po11cr02en00_e5fdf4927470_8c6976e5b541_8c6976e5b541",
        ),
    ],
)
def test_ja4h_matches_the_go_ja4h_library_test_vectors(
    method: str, headers: list[tuple[str, str]], cookies: list[str], expected: str
) -> None:
    assert ja4h(method, "HTTP/1.1", headers, cookies) == expected


def test_ja4h_version_dedup_and_ignored_headers() -> None:
    base = [("accept", "a"), ("accept", "b"), ("user-agent", "x")]
    plain = ja4h("GET", "2", base, [])
    assert plain.startswith("ge20nn02")
    noisy = [(":path", "/"), ("host", "h"), ("transfer-encoding", "chunked"), *base]
    assert ja4h("GET", "HTTP/2.0", noisy, []) == plain
    assert ja4h("GET", "3", base, []).startswith("ge11")
    assert ja4h("GET", "1.1", [("referer", "")], []).startswith("ge11nn01")
    assert ja4h("GET", "1.1", [("accept-language", "de;q=0.8")], []).split("_")[0].endswith("de;q")


def test_cookie_names_parse_like_go_and_values_leniently_in_one_pass() -> None:
    values, names = parse_cookies('vid=1; sid="2"; vid=3; ; bad name=1; ok=; x=a\\b; y=%C3%A9')
    assert names == ["vid", "sid", "vid", "ok", "y"]
    assert values == {"vid": "1", "sid": "2", "bad name": "1", "ok": "", "x": "a\\b", "y": "é"}


def test_huge_digit_strings_stay_strings_instead_of_crashing() -> None:
    from tracker.normalise.consent import parse_cflags
    from tracker.normalise.params import convert_value

    assert convert_value("9" * 5000) == "9" * 5000  # int() refuses > 4300 digits
    assert convert_value("1" + "0" * 500 + ".5") == "1" + "0" * 500 + ".5"
    assert parse_cflags("9" * 5000) is None
