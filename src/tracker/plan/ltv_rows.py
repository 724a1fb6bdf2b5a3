"""LTV: one ``payments`` row per line item and the ``ltv`` totals.

Money is parsed and summed as ``decimal.Decimal`` and turned into the schema's Float64 only when a
row is written, so ``50 + 25.10`` is stored as ``75.1``, not ``75.10000000000001``. A JSON number
is read through its shortest text form (``99.99`` stays ``99.99``). Amounts that are not numbers,
NaN, infinite or beyond 10^15 (where Float64 stops holding cents exactly) are refused with 400,
naming the field; so are unknown currencies and times that do not parse. The Go tracker stored
such values as 0, ``now`` or a lowercased currency.

Differences from the Go tracker, all deliberate:

* times (``starts``, ``ends``, ``invoiced_at``, ``paid_at``) are read case-insensitively, so a
  lowercased ``2024-01-02t03:04:05z`` is that time, not "now" (Go lowercased the text, then
  could not parse it);
* the currency is an ISO 4217 code, uppercased (``usd`` → ``USD``); in batch mode a line item
  without one takes the request's top-level ``currency`` (Go: always ``USD``);
* one request carries one currency: the ``ltv`` total of mixed currencies would mean nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tracker.errors import InvalidEvent
from tracker.normalise.ids import new_id, parse_uuid
from tracker.plan.coerce import parse_time
from tracker.plan.rows import record
from tracker.spool.records import Record

__all__ = ["CURRENCIES", "parse_amount", "parse_currency", "plan_ltv"]

# ISO 4217 alphabetic codes in use (list of 2025), plus a few recently withdrawn ones that old
# invoices still carry (HRK, MRO, STD, VEF, BYR). XXX (no currency) and XTS (tests) are left out.
_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK
    MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG
    XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
    HRK MRO STD VEF BYR
"""
CURRENCIES = frozenset(_CODES.split())
DEFAULT_CURRENCY = "USD"
AMOUNT_LIMIT = Decimal(10) ** 15

# Ids shared by every line item of a request (invalid ones are left out, as in Go).
SHARED_IDS = ("uid", "oid", "tid", "invid", "vid", "sid", "updater", "owner")
AMOUNTS = (
    "qty", "price", "discount", "revenue", "margin", "cost", "tax", "tax_rate",
    "commission", "referral", "fees", "subtotal", "total", "payment",
)  # fmt: skip
# Text and the Int64 duration: coerced per column type like every row (never refused).
OTHERS = (
    "product",
    "pcat",
    "man",
    "model",
    "duration",
    "country",
    "rcode",
    "region",
    "campaign_id",
)
TIMES = ("starts", "ends", "invoiced_at", "paid_at")


def parse_amount(field: str, value: object) -> Decimal:
    if isinstance(value, bool):
        raise InvalidEvent(f"Field '{field}' is a boolean: expected a number.")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))  # the shortest text that reads back as this float
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidEvent(
                f"Field '{field}' has value {value[:40]!r}: expected a number."
            ) from None
    else:
        raise InvalidEvent(f"Field '{field}' must be a number or a numeric string.")
    if not amount.is_finite():
        raise InvalidEvent(f"Field '{field}' is {value!r}: expected a finite number.")
    if abs(amount) >= AMOUNT_LIMIT:
        raise InvalidEvent(f"Field '{field}' is {value!r}: expected less than 10^15 in size.")
    return amount


def parse_currency(field: str, value: object) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in CURRENCIES:
        raise InvalidEvent(
            f"Field '{field}' has value {str(value)[:20]!r}: expected an ISO 4217 currency code "
            "such as 'USD' or 'EUR'."
        )
    return code


def _line_items(v: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(field prefix, item) pairs: each object of ``payments``, or V itself in single mode."""
    if "payments" not in v:
        return [("", v)]
    items = v["payments"]
    if not isinstance(items, list) or not items:
        raise InvalidEvent("Field 'payments' must be a non-empty array of payment objects.")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidEvent(f"Element {index} of 'payments' is not a JSON object.")
    return [(f"payments[{index}].", item) for index, item in enumerate(items)]


def _payment_row(
    prefix: str, item: Mapping[str, Any], default_currency: object, now: datetime
) -> tuple[dict[str, Any], Decimal, str]:
    amounts: dict[str, Decimal] = {}
    for name in AMOUNTS:
        if item.get(name) is not None:
            amounts[name] = parse_amount(prefix + name, item[name])
    if "revenue" not in amounts and item.get("amt") is not None:
        amounts["revenue"] = parse_amount(prefix + "amt", item["amt"])
    own = item.get("currency")
    currency = (
        parse_currency(prefix + "currency", own)
        if own is not None
        else parse_currency("currency", default_currency)
    )
    row: dict[str, Any] = {name: item.get(name) for name in OTHERS}
    for name in TIMES:
        value = item.get(name)
        moment = parse_time(value) if value is not None else now
        if moment is None:
            raise InvalidEvent(
                f"Field '{prefix}{name}' has value {str(value)[:40]!r}: expected an RFC 3339 "
                "time such as '2024-05-01T12:00:00Z'."
            )
        row[name] = moment
    row.update(
        {name: float(amount) for name, amount in amounts.items()},
        id=new_id(),
        orid=item.get("orid"),
        product_id=item.get("product_id"),
        currency=currency,
        created_at=now,
        updated_at=now,
    )
    return row, amounts.get("revenue", Decimal(0)), currency


def plan_ltv(v: Mapping[str, Any], hhash: str, now: datetime) -> list[Record]:
    """The rows of one LTV request; raise InvalidEvent (400) when anything in it is wrong."""
    shared: dict[str, Any] = {}
    for name in SHARED_IDS:
        parsed = parse_uuid(v.get(name))
        if parsed is not None:
            shared[name] = parsed
    shared["org"] = v.get("org")
    items = _line_items(v)
    default_currency = v.get("currency", DEFAULT_CURRENCY)  # batch items without their own
    records: list[Record] = []
    total = Decimal(0)
    currencies: set[str] = set()
    for prefix, item in items:
        row, revenue, currency = _payment_row(prefix, item, default_currency, now)
        records.append(record("payments", {**shared, **row}))
        total += revenue
        currencies.add(currency)
    if len(currencies) > 1:
        raise InvalidEvent(
            f"One LTV request must use one currency; it has {', '.join(sorted(currencies))}."
        )
    if total > 0:  # as in Go: refunds (a negative total) add no ltv rows
        for id_type, key in (("uid", "uid"), ("vid", "vid"), ("orid", "invid")):
            if key in shared:
                records.append(
                    record(
                        "ltv",
                        {
                            "hhash": hhash,
                            "id": shared[key],
                            "id_type": id_type,
                            "paid": float(total),
                            "oid": shared.get("oid"),
                            "org": shared["org"],
                            "updater": shared.get("updater"),
                            "owner": shared.get("owner"),
                            "created_at": now,
                            "updated_at": now,
                        },
                    )
                )
    return records
