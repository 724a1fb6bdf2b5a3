"""GeoIP readers: IP2Location CSV (plain and zipped), BIN, MaxMind mmdb, the imported store and
the built-in countries, all built here from one small table of places.

The BIN file is written from the documented layout by `write_bin` and read back by the official
`IP2Location` package too, so the writer (and with it our reader) follows the real format.
"""

from __future__ import annotations

import ipaddress
import struct
import zipfile
from bisect import bisect_right
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import IP2Location
import maxminddb
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from tracker.config import Settings
from tracker.normalise.event import Event, NormaliseContext, Origin, normalise
from tracker.normalise.geoip import GeoIP, GeoRecord, parse_ip
from tracker.normalise.geoip.bin import BinDatabase, BinError
from tracker.normalise.geoip.csv_zip import open_csv
from tracker.normalise.geoip.default import DefaultCountries
from tracker.normalise.geoip.importer import import_files
from tracker.normalise.geoip.mmdb import MmdbDatabase
from tracker.normalise.geoip.service import GeoService, NeedsConversion, open_configured
from tracker.normalise.geoip.store import RangeStore, StoreBuilder, StoreError, open_store
from tracker.normalise.urls import UrlFilter

MAX4 = 2**32 - 1
MAX6 = 2**128 - 1
MAPPED = 0xFFFF << 32
Row = tuple[
    int, int, tuple[str, ...]
]  # first, last, (iso2, country, region, city, lat, lon, zip, tz)

# CIDR-aligned, so an mmdb (which stores networks) holds exactly the same ranges.
PLACES: dict[str, tuple[str, ...]] = {
    "8.8.8.0/24": ("US", "United States of America", "California", "Mountain View", "37.5", "-122.25", "94043", "-07:00"),
    "81.2.69.0/24": ("GB", "United Kingdom", "England", "London", "51.5", "-0.125", "EC1A", "+01:00"),
    "196.49.0.0/16": ("UG", "Uganda", "-", "-", "0", "32.5", "-", "+03:00"),
    "2001:4860::/32": ("US", "United States of America", "California", "Mountain View", "37.5", "-122.25", "94043", "-07:00"),
    "2a00:1450::/32": ("IE", "Ireland", "Dublin", "Dublin", "53.25", "-6.25", "D02", "+01:00"),
}  # fmt: skip


def rows(version: int) -> list[Row]:
    out = []
    for cidr, fields in PLACES.items():
        net = ipaddress.ip_network(cidr)
        if net.version == version:
            out.append((int(net.network_address), int(net.broadcast_address), fields))
    return sorted(out)


def ipv6_file_rows() -> list[Row]:
    """As IP2Location's IPv6 file: its own ranges plus the IPv4 ones under ::ffff:0:0/96."""
    return sorted(rows(6) + [(MAPPED + a, MAPPED + b, f) for a, b, f in rows(4)])


def csv_text(table: list[Row]) -> str:
    lines = [",".join(f'"{v}"' for v in (first, last, *fields)) for first, last, fields in table]
    return "\n".join(lines) + "\n"


def write_csvs(folder: Path) -> tuple[Path, Path]:
    v4 = folder / "IP2LOCATION-LITE-DB11.CSV"
    v6 = folder / "IP2LOCATION-LITE-DB11.IPV6.CSV"
    junk = '"1","2","XX"\n"-","-","A","B","C","D","0","0","-","-"\n'
    v4.write_text(junk + csv_text(rows(4)))
    v6.write_text(csv_text(ipv6_file_rows()))
    return v4, v6


def zip_of(csv_path: Path) -> Path:
    archive = csv_path.with_suffix(".ZIP")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.write(csv_path, csv_path.name)
        out.writestr("LICENSE_LITE.TXT", "attribution text")
    return archive


# --- an IP2Location BIN (DB11) writer, from the documented layout ---------------------------


def _filled(table: list[Row], top: int) -> list[tuple[int, tuple[str, ...] | None]]:
    """Contiguous rows from 0 to `top`: BIN files cover the whole space, "-" where unknown."""
    out: list[tuple[int, tuple[str, ...] | None]] = []
    position = 0
    for first, last, fields in table:
        if first > position:
            out.append((position, None))
        out.append((first, fields))
        position = last + 1
    if position <= top:
        out.append((position, None))
    return out


def write_bin(
    path: Path, v4_rows: list[Row] | None = None, v6_rows: list[Row] | None = None
) -> Path:
    """A DB11 BIN of `PLACES` (or of the sorted rows given, as bench/geoip_bench.py does)."""
    columns, header_size, index_size = 8, 64, 65536 * 8
    v4 = _filled(rows(4) if v4_rows is None else v4_rows, MAX4)
    v6 = _filled(rows(6) if v6_rows is None else v6_rows, MAX6)
    index4 = header_size
    index6 = index4 + index_size
    data4 = index6 + index_size
    width4, width6 = columns * 4, columns * 4 + 12
    data6 = data4 + (len(v4) + 1) * width4
    pool_at = data6 + (len(v6) + 1) * width6
    pool = bytearray()
    pointers: dict[tuple[str, str], int] = {}

    def text(value: str, long: str | None = None) -> int:
        key = (value, long or "")
        if key not in pointers:
            pointers[key] = pool_at + len(pool)
            raw = value.encode()
            pool.extend(bytes([len(raw)]) + raw.ljust(2, b"\0"))
            if long is not None:
                raw_long = long.encode()
                pool.extend(bytes([len(raw_long)]) + raw_long)
        return pointers[key]

    def cells(fields: tuple[str, ...] | None) -> bytes:
        iso2, country, region, city, lat, lon, zip_code, tz = fields or ("-",) * 8
        return struct.pack(
            "<3I2f2I",
            text(iso2, country),
            text(region),
            text(city),
            float(lat) if lat != "-" else 0.0,
            float(lon) if lon != "-" else 0.0,
            text(zip_code),
            text(tz),
        )

    body4 = b"".join(struct.pack("<I", start) + cells(f) for start, f in v4)
    body4 += struct.pack("<I", MAX4) + cells(None)  # the closing row
    body6 = b"".join(start.to_bytes(16, "little") + cells(f) for start, f in v6)
    body6 += MAX6.to_bytes(16, "little") + cells(None)

    def index(table: list[tuple[int, Any]], shift: int) -> bytes:
        starts = [start for start, _ in table]
        out = bytearray()
        for top in range(65536):
            low = bisect_right(starts, top << shift) - 1
            high = bisect_right(starts, ((top + 1) << shift) - 1) - 1
            out += struct.pack("<II", low, high)
        return bytes(out)

    header = struct.pack(
        "<5B6I3B", 11, columns, 26, 10, 1,
        len(v4), data4 + 1, len(v6), data6 + 1, index4 + 1, index6 + 1, 1, 1, 0,
    )  # fmt: skip
    with open(path, "wb") as out:
        out.write(header.ljust(header_size, b"\0"))
        out.write(index(v4, 16))
        out.write(index(v6, 112))
        out.write(body4)
        out.write(body6)
        out.write(pool)
    return path


# --- a MaxMind DB in the GeoIP2-City shape, through mmdb-writer ------------------------------


def write_mmdb(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City")
    for cidr, (iso2, country, region, city, lat, lon, zip_code, tz) in PLACES.items():
        record: dict[str, Any] = {
            "country": {"iso_code": iso2, "names": {"en": country}},
            "location": {"latitude": float(lat), "longitude": float(lon), "time_zone": tz},
        }
        if region != "-":
            record["subdivisions"] = [{"names": {"en": region}}]
        if city != "-":
            record["city"] = {"names": {"en": city}}
        if zip_code != "-":
            record["postal"] = {"code": zip_code}
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("geoip")
    v4, v6 = write_csvs(folder)
    return {
        "v4": v4,
        "v6": v6,
        "v4zip": zip_of(v4),
        "v6zip": zip_of(v6),
        "bin": write_bin(folder / "IP2LOCATION-LITE-DB11.BIN"),
        "mmdb": write_mmdb(folder / "GeoLite2-City.mmdb"),
    }


@pytest.fixture(scope="module")
def readers(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, GeoIP]:
    data = tmp_path_factory.mktemp("data")
    import_files([files["v4zip"], files["v6zip"]], data)
    return {
        "csv": open_csv([(files["v4"], ""), (files["v6"], "")]),
        "zip": open_csv([(files["v4zip"], ""), (files["v6zip"], "")]),
        "bin": BinDatabase(files["bin"]),
        "mmdb": MmdbDatabase(files["mmdb"]),
        "store": open_store(data / "geoip" / "geoip.store"),
    }


READERS = ("csv", "zip", "bin", "mmdb", "store")

US_V4 = {
    "ips": "134744064",
    "ipe": "134744319",
    "iso2": "US",
    "country": "United States of America",
    "region": "California",
    "city": "Mountain View",
    "lat": 37.5,
    "lon": -122.25,
    "zip": "94043",
    "tz": "-07:00",
}


@pytest.mark.parametrize("reader", READERS)
def test_a_record_renders_the_go_json_shape_with_its_keys_in_order(
    readers: dict[str, GeoIP], reader: str
) -> None:
    record = readers[reader].lookup("8.8.8.8")

    assert record is not None
    assert list(record.as_json().items()) == list(US_V4.items())


@pytest.mark.parametrize(
    "ip",
    [
        "8.8.8.0", "8.8.8.255", "8.8.7.255", "8.8.9.0", "::ffff:8.8.8.8", "81.2.69.160",
        "196.49.255.255", "2001:4860:4860::8888", "2001:4860::", "2001:4860:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:4861::", "2a00:1450::1", "127.0.0.1", "0.0.0.0", "255.255.255.255", "::", "::1",
    ],
)  # fmt: skip
def test_the_csv_zip_bin_mmdb_and_imported_readers_agree(
    readers: dict[str, GeoIP], ip: str
) -> None:
    answers = {name: readers[name].lookup(ip) for name in READERS}

    assert len(set(answers.values())) == 1, answers


@pytest.mark.parametrize("reader", READERS)
def test_the_ends_of_a_range_are_in_it_and_their_neighbours_are_not(
    readers: dict[str, GeoIP], reader: str
) -> None:
    db = readers[reader]
    first, last = db.lookup("81.2.69.0"), db.lookup("81.2.69.255")

    assert first is not None
    assert first == last
    assert first.city == "London"
    assert (first.ip_from, first.ip_to) == (1359103232, 1359103487)
    assert db.lookup("81.2.68.255") is None
    assert db.lookup("81.2.70.0") is None


@pytest.mark.parametrize("reader", READERS)
def test_an_ipv4_mapped_ipv6_address_is_looked_up_as_its_ipv4_address(
    readers: dict[str, GeoIP], reader: str
) -> None:
    assert readers[reader].lookup("::ffff:8.8.8.8") == readers[reader].lookup("8.8.8.8")
    assert readers[reader].lookup("::FFFF:81.2.69.1") == readers[reader].lookup("81.2.69.1")


@pytest.mark.parametrize("reader", READERS)
def test_ipv6_ranges_have_128_bit_decimal_ends(readers: dict[str, GeoIP], reader: str) -> None:
    record = readers[reader].lookup("2a00:1450:4009::200e")

    assert record is not None
    assert record.as_json()["ips"] == str(int(ipaddress.IPv6Address("2a00:1450::")))
    assert record.as_json()["ipe"] == str(int(ipaddress.IPv6Address("2a00:1450::")) | (2**96 - 1))
    assert (record.iso2, record.city, record.lat, record.lon) == ("IE", "Dublin", 53.25, -6.25)


@pytest.mark.parametrize("reader", READERS)
def test_a_range_without_region_or_city_has_empty_strings_and_a_zero_latitude(
    readers: dict[str, GeoIP], reader: str
) -> None:
    record = readers[reader].lookup("196.49.1.2")

    assert record is not None
    assert (record.iso2, record.region, record.city, record.zip) == ("UG", "", "", "")
    assert (record.lat, record.lon) == (0.0, 32.5)


@pytest.mark.parametrize(
    "text", ["", "junk", "1.2.3", "1.2.3.4.5", "256.1.1.1", "8.8.8.8\x00", "ü"]
)
def test_an_address_that_does_not_parse_is_refused_and_not_found(
    readers: dict[str, GeoIP], text: str
) -> None:
    assert parse_ip(text) is None
    assert all(readers[name].lookup(text) is None for name in READERS)


def test_addresses_parse_to_their_family_and_number() -> None:
    assert parse_ip(" 8.8.8.8 ") == (4, 134744072)
    assert parse_ip("::ffff:8.8.8.8") == (4, 134744072)
    assert parse_ip("[2001:db8::1]") == (6, int(ipaddress.IPv6Address("2001:db8::1")))


def test_an_ipv6_csv_alone_answers_ipv4_through_its_mapped_ranges(files: dict[str, Path]) -> None:
    db = open_csv([(files["v6"], "")])
    record = db.lookup("8.8.8.8")

    assert record is not None
    assert record.city == "Mountain View"
    assert record.ip_from == MAPPED + 134744064


def test_csv_rows_that_are_short_or_have_no_range_are_skipped(files: dict[str, Path]) -> None:
    db = open_csv([(files["v4"], "")])

    assert db.meta["ranges"] == len(rows(4)) == 3
    assert db.counts == (3, 0)


def test_a_zip_member_can_be_named_and_a_missing_one_is_an_error(files: dict[str, Path]) -> None:
    named = open_csv([(files["v4zip"], "IP2LOCATION-LITE-DB11.CSV")])
    assert named.lookup("8.8.8.8") is not None

    with pytest.raises(ValueError, match=r"no file named 'other\.csv'"):
        open_csv([(files["v4zip"], "other.csv")])


def test_the_official_ip2location_reader_agrees_with_ours_on_the_bin_file(
    files: dict[str, Path], readers: dict[str, GeoIP]
) -> None:
    with IP2Location.IP2Location(str(files["bin"])) as official:
        pairs = [
            (official.get_all(ip), readers["bin"].lookup(ip))
            for ip in (
                "8.8.8.8",
                "81.2.69.7",
                "196.49.0.1",
                "2001:4860::1",
                "2a00:1450::2",
                "9.9.9.9",
            )
        ]
    for theirs, ours in pairs:
        if ours is None:
            assert theirs.country_short == "-"
            continue
        assert (theirs.country_short, theirs.country_long) == (ours.iso2, ours.country)
        assert (theirs.region, theirs.city) == (ours.region or "-", ours.city or "-")
        assert (float(theirs.latitude), float(theirs.longitude)) == (ours.lat, ours.lon)
        assert (theirs.zipcode, theirs.timezone) == (ours.zip or "-", ours.tz)


def test_a_file_that_is_not_a_bin_database_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.BIN"
    fake.write_bytes(b"\xff" * 100)

    with pytest.raises(BinError, match="not an IP2Location BIN database"):
        BinDatabase(fake)


def test_a_file_that_is_not_an_mmdb_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mmdb"
    fake.write_bytes(b"not a database" * 10)

    with pytest.raises(ValueError, match="not a MaxMind DB file"):
        MmdbDatabase(fake)


def test_a_store_with_another_magic_or_cut_short_is_refused(tmp_path: Path) -> None:
    builder = StoreBuilder()
    builder.add(1, 2, ("US", "", "", "", "0", "0", "", ""), v6=False)
    data = builder.render()

    assert RangeStore(data).lookup("0.0.0.1") is not None
    with pytest.raises(StoreError, match="not a tracker GeoIP store"):
        RangeStore(b"X" + data[1:])
    with pytest.raises(StoreError, match="truncated"):
        RangeStore(data[:40])


def test_the_default_database_answers_well_known_allocations_offline() -> None:
    db = DefaultCountries()

    google = db.lookup("8.8.8.8")
    assert google == GeoRecord(134744072, 134744072, "US", "United States")
    assert db.lookup("::ffff:8.8.8.8") == google
    v6 = db.lookup("2001:4860:4860::8888")
    assert v6 is not None
    assert v6.iso2 == "US"
    assert db.lookup("127.0.0.1") is None
    assert db.lookup("not an ip") is None


# --- choosing, converting and importing ------------------------------------------------------


def settings_for(data: Path, **changes: Any) -> Settings:
    return Settings(data_dir=data, **changes)


def test_a_configured_csv_is_converted_once_and_reused_while_unchanged(
    files: dict[str, Path], tmp_path: Path
) -> None:
    source = tmp_path / files["v4zip"].name
    source.write_bytes(files["v4zip"].read_bytes())
    settings = settings_for(tmp_path / "data", geoip_database=str(source))
    store = tmp_path / "data" / "geoip" / "geoip.store"

    opened = open_configured(settings, persist=True)
    assert opened is not None
    assert store.exists()
    written = store.stat().st_mtime_ns
    again = open_configured(settings, persist=True, convert=False)
    assert again is not None
    assert again[0].lookup("8.8.8.8") == opened[0].lookup("8.8.8.8")
    assert store.stat().st_mtime_ns == written

    newer = settings_for(tmp_path / "data", geoip_database=str(source), geoip_version=2)
    with pytest.raises(NeedsConversion):
        open_configured(newer, persist=True, convert=False)
    with zipfile.ZipFile(source, "a") as archive:
        archive.writestr("README.TXT", "changed")
    with pytest.raises(NeedsConversion):
        open_configured(settings, persist=True, convert=False)


def test_the_go_zip_keys_name_the_csv_files_when_geoip_is_on(
    files: dict[str, Path], tmp_path: Path
) -> None:
    settings = settings_for(
        tmp_path / "data",
        use_geoip=True,
        ipv4_geoip_zip=str(files["v4zip"]),
        ipv4_geoip_csv_dest="IP2LOCATION-LITE-DB11.CSV",
        ipv6_geoip_zip=str(files["v6zip"]),
    )

    opened = open_configured(settings, persist=False)

    assert opened is not None
    assert opened[0].lookup("2a00:1450::1") is not None
    assert opened[0].lookup("8.8.8.8") == GeoRecord(134744064, 134744319, *PLACES["8.8.8.0/24"][:4], 37.5, -122.25, "94043", "-07:00")  # fmt: skip


def test_importing_a_bin_file_gives_the_answers_of_the_bin_itself(
    files: dict[str, Path], readers: dict[str, GeoIP], tmp_path: Path
) -> None:
    written = import_files([files["bin"]], tmp_path)
    store = open_store(written)

    for ip in ("8.8.8.8", "196.49.0.9", "2a00:1450::9", "2001:4860::", "1.1.1.1"):
        assert store.lookup(ip) == readers["bin"].lookup(ip)
    assert store.meta["kind"] == "ip2location-bin 2026-10-01"


def test_importing_an_mmdb_copies_it_and_replaces_the_previous_import(
    files: dict[str, Path], tmp_path: Path
) -> None:
    import_files([files["v4"]], tmp_path)
    written = import_files([files["mmdb"]], tmp_path)

    assert written.name == "geoip.mmdb"
    assert not (tmp_path / "geoip" / "geoip.store").exists()
    opened = open_configured(settings_for(tmp_path), persist=False)
    assert opened is not None
    assert opened[1] == "imported MaxMind DB"
    with maxminddb.open_database(str(written)) as reader:
        assert reader.metadata().database_type == "GeoIP2-City"
    with pytest.raises(ValueError, match="on its own"):
        import_files([files["mmdb"], files["v4"]], tmp_path)


def test_the_service_answers_from_the_default_until_the_csv_is_converted(
    files: dict[str, Path], tmp_path: Path
) -> None:
    service = GeoService(settings_for(tmp_path, geoip_database=str(files["v4zip"])))
    before = service.lookup("8.8.8.8")
    assert before is not None
    assert before.city == ""
    assert before.iso2 == "US"

    service.start()
    service.wait(60)

    assert not service.loading
    assert service.lookup("8.8.8.8") == readers_csv_answer(files)
    assert service.source.startswith("IP2Location CSV")


def readers_csv_answer(files: dict[str, Path]) -> GeoRecord | None:
    return open_csv([(files["v4zip"], "")]).lookup("8.8.8.8")


def test_a_missing_database_file_leaves_the_default_or_nothing(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.BIN")
    service = GeoService(settings_for(tmp_path, geoip_database=missing))
    service.start()
    assert service.available
    assert service.lookup("8.8.8.8") is not None

    bare = GeoService(settings_for(tmp_path, geoip_database=missing, geoip_default=False))
    bare.start()
    assert not bare.available
    assert bare.lookup("8.8.8.8") is None


# --- how normalise() uses GeoIP ------------------------------------------------------------

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def located(db: GeoIP | None, ip: str, regions: bool = True, **fields: Any) -> Event:
    ctx = NormaliseContext(
        url_filter=UrlFilter(None), ip_secret=b"k", geoip=db, use_region_descriptions=regions
    )
    origin = Origin(ip, "example.com", "", "en", "/tr/v1/tr/", "", NOW)
    return normalise({"ename": "view", **fields}, origin, ctx, is_server=False)


def place(e: Event) -> tuple[object, ...]:
    return (e.country, e.region, e.city, e.zip, e.lat, e.lon)


def test_geoip_fills_the_location_the_client_did_not_send(readers: dict[str, GeoIP]) -> None:
    e = located(readers["bin"], "8.8.8.8")

    assert place(e) == ("US", "california", "mountain view", "94043", 37.5, -122.25)


def test_the_clients_own_location_values_win_field_by_field(readers: dict[str, GeoIP]) -> None:
    e = located(readers["csv"], "8.8.8.8", city=" Palo Alto ", zip="94301", lat=37.44, lon=0)

    assert place(e) == ("US", "california", "palo alto", "94301", 37.44, 0.0)


def test_a_geoip_latitude_of_exactly_zero_is_a_real_position(readers: dict[str, GeoIP]) -> None:
    e = located(readers["mmdb"], "196.49.7.7")

    assert (e.country, e.lat, e.lon) == ("UG", 0.0, 32.5)


def test_without_region_descriptions_geoip_gives_no_region_or_city_but_the_client_may(
    readers: dict[str, GeoIP],
) -> None:
    e = located(readers["csv"], "81.2.69.1", regions=False)
    assert place(e) == ("GB", "", "", "EC1A", 51.5, -0.125)

    own = located(readers["csv"], "81.2.69.1", regions=False, region="Kent", city="Dover")
    assert (own.region, own.city) == ("kent", "dover")


def test_geoip_does_not_contradict_the_country_the_client_gave(readers: dict[str, GeoIP]) -> None:
    sent = located(readers["csv"], "8.8.8.8", country="fr")
    from_tz = located(readers["csv"], "8.8.8.8", tz="Europe/Paris")

    assert place(sent) == ("FR", "", "", "", 0.0, 0.0)
    assert place(from_tz) == ("FR", "", "", "", 0.0, 0.0)


def test_geoip_completes_a_country_it_agrees_with(readers: dict[str, GeoIP]) -> None:
    e = located(readers["csv"], "8.8.8.8", tz="America/Los_Angeles")

    assert place(e) == ("US", "california", "mountain view", "94043", 37.5, -122.25)


def test_an_address_geoip_does_not_know_leaves_the_location_empty(
    readers: dict[str, GeoIP],
) -> None:
    assert place(located(readers["store"], "10.1.2.3")) == ("", "", "", "", 0.0, 0.0)
    assert place(located(None, "8.8.8.8")) == ("", "", "", "", 0.0, 0.0)


def test_a_file_without_ip2location_rows_is_refused_on_import_and_at_start_up(
    tmp_path: Path,
) -> None:
    wrong = tmp_path / "notes.csv"
    wrong.write_text("name,colour\nanne,red\n")

    with pytest.raises(ValueError, match="holds no IP2Location ranges"):
        import_files([wrong], tmp_path / "data")
    assert not (tmp_path / "data" / "geoip" / "geoip.store").exists()
    service = GeoService(settings_for(tmp_path / "data", geoip_database=str(wrong)))
    service.start()
    service.wait(30)
    assert service.source == "built-in countries (iptocc)"
