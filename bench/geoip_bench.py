"""GeoIP and user-agent lookups per second, per reader, on synthetic databases of a real size.

    python bench/geoip_bench.py [--ranges 1000000] [--lookups 200000] [--out bench/results]

Builds an IP2Location-style DB11 table of `--ranges` IPv4 ranges (and a quarter as many IPv6
ones) with a few thousand distinct places, writes it as CSV, converts it into the imported store
and into a BIN file, and a smaller mmdb (the pure-Python mmdb writer is slow; a MaxMind lookup
walks the same tree depth whatever the size). Then it times `lookup` on random addresses for each
reader, one core, and writes bench/results/geoip-<date>.md. Not a test: numbers depend on the
machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "unit"))  # the BIN and mmdb writers of the tests

import IP2Location  # noqa: E402
from mmdb_writer import MMDBWriter  # noqa: E402
from netaddr import IPNetwork, IPSet  # noqa: E402
from test_geoip import Row, csv_text, write_bin  # noqa: E402

from tracker.normalise.agent import AgentParser  # noqa: E402
from tracker.normalise.geoip.bin import BinDatabase  # noqa: E402
from tracker.normalise.geoip.csv_zip import open_csv  # noqa: E402
from tracker.normalise.geoip.default import DefaultCountries  # noqa: E402
from tracker.normalise.geoip.importer import import_files  # noqa: E402
from tracker.normalise.geoip.mmdb import MmdbDatabase  # noqa: E402
from tracker.normalise.geoip.store import open_store  # noqa: E402

COUNTRIES = ("US", "GB", "DE", "FR", "JP", "BR", "IN", "AU", "CA", "ZA")


def places(rng: random.Random, count: int) -> list[tuple[str, ...]]:
    out = []
    for i in range(count):
        iso2 = COUNTRIES[i % len(COUNTRIES)]
        lat, lon = f"{rng.uniform(-60, 70):.6f}", f"{rng.uniform(-180, 180):.6f}"
        out.append((iso2, f"Country {iso2}", f"Region {i % 300}", f"City {i}", lat, lon, f"{i:05d}", "+01:00"))  # fmt: skip
    return out


def table(rng: random.Random, count: int, bits: int, where: list[tuple[str, ...]]) -> list[Row]:
    """`count` ranges spread over the space, a gap after some, each at one of `where`."""
    step = (2**bits) // (count + 1)
    rows: list[Row] = []
    for i in range(count):
        first = i * step
        last = first + step - 1 - (step // 4 if i % 7 == 0 else 0)
        rows.append((first, last, rng.choice(where)))
    return rows


def rate(lookup: Callable[[str], object], addresses: list[str]) -> float:
    start = time.perf_counter()
    for address in addresses:
        lookup(address)
    return len(addresses) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranges", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--mmdb-networks", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    rng = random.Random(7)
    where = places(rng, 5_000)
    v4, v6 = table(rng, args.ranges, 32, where), table(rng, args.ranges // 4, 128, where)
    v4_ips = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(args.lookups)]
    v6_ips = [f"{rng.randrange(2**16):x}:{rng.randrange(2**16):x}::{rng.randrange(2**16):x}" for _ in range(args.lookups // 4)]  # fmt: skip
    lines: list[str] = []

    def note(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        csv4, csv6 = folder / "DB11.CSV", folder / "DB11.IPV6.CSV"
        csv4.write_text(csv_text(v4))
        csv6.write_text(csv_text(v6))
        started = time.perf_counter()
        written = import_files([csv4, csv6], folder / "data")
        converted = time.perf_counter() - started
        started = time.perf_counter()
        store = open_store(written)
        mapped = time.perf_counter() - started
        in_memory = open_csv([(csv4, ""), (csv6, "")])
        bin_path = write_bin(folder / "DB11.BIN", v4, v6)
        writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City")
        for first, _last, fields in v4[: args.mmdb_networks]:
            network = IPNetwork(f"{first >> 24}.{(first >> 16) & 255}.{(first >> 8) & 255}.0/24")
            writer.insert_network(IPSet([network]), {"country": {"iso_code": fields[0]}})
        writer.to_db_file(str(folder / "x.mmdb"))

        note(f"# GeoIP and user-agent lookups, {date.today().isoformat()}")
        note("")
        note(f"Machine: {platform.machine()}, Python {platform.python_version()}, one thread.")
        note(f"Data: {len(v4):,} IPv4 + {len(v6):,} IPv6 ranges, {len(where):,} places;")
        note(f"CSV {csv4.stat().st_size / 1e6:.0f} MB + {csv6.stat().st_size / 1e6:.0f} MB.")
        note(f"`tracker geoip import` of both CSVs: {converted:.1f} s; store {written.stat().st_size / 1e6:.0f} MB, mapped at start-up in {mapped * 1000:.2f} ms.")  # fmt: skip
        note("")
        note("| reader | IPv4 lookups/s | IPv6 lookups/s |")
        note("| --- | ---: | ---: |")
        mmdb_name = f"mmdb via maxminddb C ext ({args.mmdb_networks:,} networks)"
        with IP2Location.IP2Location(str(bin_path), "SHARED_MEMORY") as official:
            readers: list[tuple[str, Callable[[str], object]]] = [
                ("imported store (mmap, bisect)", store.lookup),
                ("CSV read into memory (same structure)", in_memory.lookup),
                ("BIN, our reader (mmap)", BinDatabase(bin_path).lookup),
                ("BIN, official IP2Location 8.11 (SHARED_MEMORY)", official.get_all),
                (mmdb_name, MmdbDatabase(folder / "x.mmdb").lookup),
                ("built-in countries (iptocc)", DefaultCountries().lookup),
            ]
            for name, lookup in readers:
                note(f"| {name} | {rate(lookup, v4_ips):,.0f} | {rate(lookup, v6_ips):,.0f} |")

    agents = AgentParser()
    samples = [f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{i}.0.0.0 Safari/537.36" for i in range(5_000)]  # fmt: skip
    unseen = rate(agents.parse, samples)
    cached = rate(agents.parse, samples * 20)
    note("")
    note("| user agents | parses/s |")
    note("| --- | ---: |")
    note(f"| not seen before (ua-parser + Rust resolver + bot list) | {unseen:,.0f} |")
    note(f"| repeated (LRU cache) | {cached:,.0f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    report = args.out / f"geoip-{date.today().isoformat()}.md"
    report.write_text("\n".join(lines) + "\n")
    print(f"written {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
