"""Load for the WebSocket route: LZ4 binary frames on many connections (http-api.md §1.8.2).

Each connection sends frames for ``--seconds``: a 4-byte little-endian uncompressed length, then one
raw LZ4 block holding the seed's JSON event (``--per-frame`` > 1 sends a JSON array), each event
with a fresh vid and sid. The server sends nothing back, so the client counts what it sent and
closes every connection with a close handshake; the run script then compares that count with the
rows that landed. Prints one JSON line: ``{"sent": frames, "per_frame": n, "window_s": s}``.

    python bench/ws_client.py ws://127.0.0.1:8080/tr/v1/ws --seconds 10 --connections 64
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import time

import lz4.block
from websockets.asyncio.client import connect

EVENT = (
    '{"vid":"%s","sid":"%s","ename":"page_view","etyp":"view",'
    '"url":"https://example.com/page","tz":"America/Los_Angeles","device":"Desktop","os":"macOS"}'
)
PREFIX = os.urandom(4).hex()
COUNTER = itertools.count(1)


def next_uuid() -> str:
    n = next(COUNTER)
    return f"{PREFIX}-{os.getpid() % 0x10000:04x}-4{n % 0x1000:03x}-8{n // 0x1000 % 0x1000:03x}-{n:012x}"


def frame(per_frame: int) -> bytes:
    events = [EVENT % (next_uuid(), next_uuid()) for _ in range(per_frame)]
    text = events[0] if per_frame == 1 else "[" + ",".join(events) + "]"
    data: bytes = lz4.block.compress(text.encode(), store_size=True)  # the 4-byte LE length
    return data


async def connection(url: str, stop_at: float, per_frame: int, sent: list[int]) -> None:
    async with connect(url, compression=None, max_queue=None) as ws:
        while time.monotonic() < stop_at:
            await ws.send(frame(per_frame))
            sent[0] += 1


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--per-frame", type=int, default=1)
    args = parser.parse_args()
    sent = [0]
    started = time.monotonic()
    stop_at = started + args.seconds
    await asyncio.gather(
        *(connection(args.url, stop_at, args.per_frame, sent) for _ in range(args.connections))
    )
    window = time.monotonic() - started
    print(json.dumps({"sent": sent[0], "per_frame": args.per_frame, "window_s": window}))


if __name__ == "__main__":
    asyncio.run(main())
