"""Reference tables of the Go tracker's core schema file that the tracker never touches: the
dictionaries that replaced Cassandra's user-defined types, countries, and the IP-range table.

They are created so that a Go user's reports and tools find them (docs/differences.md); this
tracker neither reads nor writes them (GeoIP comes from its own files, `tracker geoip import`).
Column order, types and defaults are the Go schema's.
"""

from __future__ import annotations

from tracker.schema.columns import DT, F64, I64, NEW_UUID, NOW, S, U
from tracker.schema.model import Column, Table


def dictionary(name: str, columns: tuple[Column, ...], order_by: str = "id") -> Table:
    """A ReplacingMergeTree(created_at) reference table ending with ``created_at``."""
    return Table(
        name=name,
        columns=(*columns, DT("created_at", NOW)),
        engine="ReplacingMergeTree",
        engine_args=("created_at",),
        order_by=order_by,
    )


GEO_POINTS_DICTIONARY = dictionary(
    "geo_points_dictionary", (U("id", NEW_UUID), F64("lat"), F64("lon"))
)
VIEWPORT_DICTIONARY = dictionary("viewport_dictionary", (U("id", NEW_UUID), I64("w"), I64("h")))
GEO_POLS = dictionary(
    "geo_pols",
    (
        U("id", NEW_UUID),
        S("country"),
        S("rcode"),
        S("region"),
        S("county"),
        S("city"),
        S("zip"),
    ),
)
COUNTRIES = dictionary("countries", (S("country"), S("name"), S("continent")), "country")

GEO_IP = Table(
    name="geo_ip",
    columns=(
        S("ipc"),
        S("ips"),
        S("ipe"),
        S("ipis"),
        S("ipie"),
        S("country"),
        S("region"),
        S("city"),
        F64("lat"),
        F64("lon"),
        S("tz"),
        S("zip"),
        DT("created_at", NOW),
    ),
    engine="ReplacingMergeTree",
    engine_args=("created_at",),
    partition_by="ipc",
    order_by="(ipc, ips, ipe)",
)

CORE_REFERENCE_TABLES = (
    GEO_POINTS_DICTIONARY,
    VIEWPORT_DICTIONARY,
    GEO_POLS,
    COUNTRIES,
    GEO_IP,
)

__all__ = ["CORE_REFERENCE_TABLES"]
