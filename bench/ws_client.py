"""Load for the WebSocket route: LZ4 binary frames on many connections.

Each connection sends frames for ``--seconds``: a 4-byte little-endian uncompressed length, then one
raw LZ4 block holding the seed's JSON event (``--per-frame`` > 1 sends a JSON array), each event
with a fresh vid and sid. The server sends nothing back, so the client counts what it sent and
closes every connection with a close handshake; the run script then compares that count with the
rows that landed. Every 16 frames a connection waits for a pong, so little is ever queued, and the
window runs until the last close handshake ends: sent / window is the rate the server processed. Prints one JSON line: ``{"sent": frames, "per_frame": n, "window_s": s}``.

    python bench/ws_client.py ws://127.0.0.1:8080/tr/v1/ws --seconds 10 --connections 64
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import time
from urllib.parse import urlsplit

import lz4.block
from websockets.asyncio.client import ClientConnection, connect

EVENT = (
    '{"vid":"%s","sid":"%s","ename":"page_view","etyp":"view",'
    '"url":"https://example.com/page","tz":"America/Los_Angeles","device":"Desktop","os":"macOS"}'
)
PREFIX = os.urandom(4).hex()
SEND_BUFFER_BYTES = 4096
FRAMES_PER_PING = 16
CLOSE_TIMEOUT_SECONDS = 300.0
COUNTER = itertools.count(1)


def next_uuid() -> str:
    n = next(COUNTER)
    return f"{PREFIX}-{os.getpid() % 0x10000:04x}-4{n % 0x1000:03x}-8{n // 0x1000 % 0x1000:03x}-{n:012x}"


def frame(per_frame: int) -> bytes:
    events = [EVENT % (next_uuid(), next_uuid()) for _ in range(per_frame)]
    text = events[0] if per_frame == 1 else "[" + ",".join(events) + "]"
    data: bytes = lz4.block.compress(text.encode(), store_size=True)  # the 4-byte LE length
    return data


def small_buffer_socket(url: str) -> socket.socket:
    """A connected socket with a small send buffer, so the client cannot queue much more than the
    server takes: what the server has not read when the client closes must be waited for."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    sock.setblocking(False)
    return sock


async def open_connection(url: str) -> ClientConnection:
    # No keepalive pings from this side (the sending loop pings for flow control instead).
    return await connect(
        url,
        sock=small_buffer_socket(url),
        compression=None,
        max_queue=None,
        ping_interval=None,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
        write_limit=SEND_BUFFER_BYTES,
    )


async def send_until(ws: ClientConnection, stop_at: float, per_frame: int, sent: list[int]) -> None:
    """Send frames until ``stop_at``, then close. Closing waits for the server's close frame,
    which it sends only after reading every message before it: when every connection is closed,
    every frame sent has reached the tracker's spool."""
    while time.monotonic() < stop_at:
        for _ in range(FRAMES_PER_PING):
            await ws.send(frame(per_frame))
            sent[0] += 1
        # The server reads a connection's frames in order and the next one only once the tracker
        # took the last: its pong says it has taken every frame before the ping. Waiting for it
        # bounds what is queued (no acknowledgements otherwise: the server sends no data).
        await (await ws.ping())
    await ws.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--per-frame", type=int, default=1)
    args = parser.parse_args()
    # Every connection is open before any sends: handshakes do not queue behind a backlog.
    connections = await asyncio.gather(
        *(open_connection(args.url) for _ in range(args.connections))
    )
    sent = [0]
    started = time.monotonic()
    stop_at = started + args.seconds
    await asyncio.gather(*(send_until(ws, stop_at, args.per_frame, sent) for ws in connections))
    window = time.monotonic() - started
    print(json.dumps({"sent": sent[0], "per_frame": args.per_frame, "window_s": window}))


if __name__ == "__main__":
    asyncio.run(main())
