"""Password schemes and credentials of the redirect API (`tracker.accounts`)."""

from __future__ import annotations

import base64
import hashlib
import uuid

import orjson
import pytest

from tracker.accounts import (
    Credentials,
    Unauthorized,
    add_account_sql,
    credentials,
    hash_password,
    new_account,
    verify_password,
)
from tracker.errors import BadRequest
from tracker.normalise.ids import parse_uuid

DEMO_UID = "14fb0860-b4bf-11e9-8971-7b80435315ac"
DEMO_SHA1 = "W6ph5Mm5Pz8GgiULbPgzG37mj9g="  # the Go Makefile's demo admin: password "password"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def test_the_go_trackers_unsalted_sha1_form_is_accepted() -> None:
    assert verify_password("password", DEMO_SHA1)
    assert not verify_password("Password", DEMO_SHA1)
    assert not verify_password("", DEMO_SHA1)


def test_new_passwords_are_salted_scrypt_with_their_parameters_in_the_stored_value() -> None:
    stored = hash_password("s3cret")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert salt
    assert digest
    assert "=" not in stored
    assert verify_password("s3cret", stored)
    assert not verify_password("s3cret ", stored)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same") != hash_password("same")


def test_the_stored_parameters_are_used_so_they_can_be_raised_later() -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"pw", salt=salt, n=2**12, r=8, p=2, dklen=32)
    encode = base64.urlsafe_b64encode
    stored = (
        f"scrypt$4096$8$2${encode(salt).decode().rstrip('=')}${encode(digest).decode().rstrip('=')}"
    )
    assert verify_password("pw", stored)
    assert not verify_password("pw2", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "scrypt$",
        "scrypt$x$8$1$c2FsdA$aGFzaA",
        "scrypt$16384$8$1$!!$??",
        "scrypt$2$8$1$$",
        "plain",
    ],
)
def test_a_malformed_stored_password_never_matches(stored: str) -> None:
    assert not verify_password("plain", stored)


def test_a_basic_authorization_header_wins_over_the_path_segments() -> None:
    creds = credentials(basic(DEMO_UID, "pw:with:colons"), "-", "-")
    assert creds == Credentials(DEMO_UID, "pw:with:colons")


def test_without_a_header_the_path_segments_are_the_credentials() -> None:
    assert credentials({}, DEMO_UID, "password") == Credentials(DEMO_UID, "password")


def test_another_authorization_scheme_is_not_read_as_credentials() -> None:
    creds = credentials({"authorization": "Bearer abc.def"}, DEMO_UID, "password")
    assert creds.password == "password"
    with pytest.raises(Unauthorized):
        credentials({"authorization": "Bearer abc.def"}, None, None)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Basic !!!"},
        {"authorization": "Basic " + base64.b64encode(b"nocolon").decode()},
    ],
)
def test_missing_or_malformed_credentials_are_401(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized) as info:
        credentials(headers, None, None)
    assert info.value.status == 401


def test_an_account_id_that_is_not_a_uuid_is_a_400_that_does_not_echo_it() -> None:
    # A client that swapped the two fields sends its password as the id.
    with pytest.raises(BadRequest, match="not a UUID") as info:
        credentials({}, "s3cret-passw0rd", "0b9d1c3e")
    assert "s3cret" not in info.value.message


def test_an_added_account_is_inserted_as_json_data_with_a_scrypt_password() -> None:
    uid = parse_uuid(DEMO_UID)
    assert uid is not None
    sql = add_account_sql(uid, 'it\'s "quoted"')
    prefix = "INSERT INTO accounts FORMAT JSONEachRow "
    assert sql.startswith(prefix)
    row = orjson.loads(sql[len(prefix) :])
    assert row["uid"] == DEMO_UID
    assert verify_password('it\'s "quoted"', row["pwd"])


def test_new_account_generates_an_id_when_none_is_given_and_refuses_a_bad_one() -> None:
    uid, sql = new_account(None, "pw")
    assert uuid.UUID(uid).version == 4
    assert str(uid) in sql
    with pytest.raises(BadRequest, match="not a UUID"):
        new_account("nope", "pw")
    with pytest.raises(BadRequest, match="must not be empty"):
        new_account(DEMO_UID, "")
