"""A small asyncio HTTP/1.1 load generator for a fixed number of requests.

wrk runs for a duration; the end-to-end scenario needs exactly N messages, so it posts them with
this instead: `connections` concurrent loops, each sending its next request as soon as the last
answer arrived, over a new loopback connection each time (gunicorn's sync workers close the
connection after every response). Only the standard library: it runs in the bench's venv.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    bodies: list[bytes] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _one(host: str, port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = await reader.readexactly(length) if length else b""
        return status, body
    finally:
        writer.close()


def http_request(
    method: str, path: str, *, host: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def load_run(
    *,
    host: str,
    port: int,
    total: int,
    connections: int,
    make_request: Callable[[int], bytes],
    keep_bodies: bool = False,
) -> LoadResult:
    """Send `make_request(0)` … `make_request(total - 1)` over `connections` loops."""

    result = LoadResult(requests=0, seconds=0.0)
    next_index = 0

    async def loop() -> None:
        nonlocal next_index
        while next_index < total:
            index = next_index
            next_index += 1
            started = time.perf_counter()
            try:
                status, body = await _one(host, port, make_request(index))
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                result.connection_errors += 1
                continue
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.statuses[status] += 1
            if keep_bodies:
                result.bodies.append(body)

    async def main() -> None:
        await asyncio.gather(*(loop() for _ in range(connections)))

    # In a thread of its own: the caller's thread may already run an event loop.
    runner = threading.Thread(target=asyncio.run, args=(main(),))
    started = time.perf_counter()
    runner.start()
    runner.join()
    result.seconds = time.perf_counter() - started
    result.requests = sum(result.statuses.values()) + result.connection_errors
    return result
