"""Open-loop API load: N connections held open, a steady request rate shared between them.

wrk2 (constant-rate wrk) is not packaged in Debian, so this driver is Python asyncio on raw
keep-alive sockets (HTTP/1.1 written by hand: far less CPU per request than an HTTP client
library, which matters when the generator shares two cores with the server). Request i is
scheduled at start + i / rate on connection i mod N and its latency is measured from that
scheduled time, so a slow server cannot hide its queue (no coordinated omission). Each
connection sends its requests in order; a request whose connection is still busy waits, and
that wait counts in its latency.
"""

from __future__ import annotations

import asyncio
import random
import resource
import time
from pathlib import Path


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status, length


async def _open_loop(
    host: str,
    port: int,
    paths: list[str],
    token: str | None,
    connections: int,
    rate: float,
    duration: int,
    timeout_s: float,
) -> dict:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode("latin-1") for p in paths
    ]
    streams = [await asyncio.open_connection(host, port) for _ in range(connections)]
    total = int(rate * duration)
    queues: list[list[int]] = [[] for _ in range(connections)]
    for i in range(total):
        queues[i % connections].append(i)
    latencies: list[float] = []
    errors = {"status": 0, "exception": 0, "timeout": 0}
    refused: dict[int, int] = {}  # status >= 400 -> how many: says why, not only how many
    nbytes = 0
    start = time.perf_counter() + 0.5

    async def user(k: int) -> None:
        nonlocal nbytes
        reader, writer = streams[k]
        for i in queues[k]:
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                writer.write(requests[i % len(requests)])
                await writer.drain()
                status, size = await asyncio.wait_for(_read_response(reader), timeout_s)
            except TimeoutError:
                errors["timeout"] += 1
                return  # the connection is out of step with its responses: stop this user
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors["exception"] += 1
                return
            latencies.append(time.perf_counter() - scheduled)
            nbytes += size
            if status >= 400:
                errors["status"] += 1
                refused[status] = refused.get(status, 0) + 1

    await asyncio.gather(*(user(k) for k in range(connections)))
    seconds = time.perf_counter() - start
    for _, writer in streams:
        writer.close()
    latencies.sort()

    return {
        "generator": "python-asyncio-open-loop",
        "connections": connections,
        "target_rps": rate,
        "duration_s": round(seconds, 2),
        "requests": len(latencies),
        "scheduled": total,
        "rps": round(len(latencies) / seconds, 1),
        "mb_per_s": round(nbytes / seconds / 2**20, 2),
        "latency_ms": latency_ms(latencies),
        # Unanswered (timed out, failed, or never sent after its connection failed) + >= 400.
        "errors": total - len(latencies) + errors["status"],
        "errors_by_kind": errors,
        "errors_by_status": refused,
    }


def latency_ms(latencies: list[float]) -> dict[str, float]:
    """Sorted latencies (seconds) as every load scenario reports them: milliseconds, mean and
    percentiles (nan when nothing was answered)."""

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 2)

    return {
        "min": pct(0),
        "mean": round(sum(latencies) / max(1, len(latencies)) * 1000, 2),
        "max": pct(100),
        "p50": pct(50),
        "p90": pct(90),
        "p95": pct(95),
        "p99": pct(99),
        "p999": pct(99.9),
    }


def mixed_paths(
    bi_refresh: Path, analyst: Path, share_bi: float = 0.8, seed: int = 11
) -> list[str]:
    """A request list with `share_bi` BI-refresh paths and the rest analyst paths, shuffled."""
    rng = random.Random(seed)
    bi, ad_hoc = bi_refresh.read_text().split(), analyst.read_text().split()
    mixed = [
        rng.choice(bi) if rng.random() < share_bi else rng.choice(ad_hoc) for _ in range(20000)
    ]
    return mixed


def run_open_loop(
    url: str,
    paths: list[str],
    token: str | None,
    connections: int = 1000,
    rate: float = 300.0,
    duration: int = 20,
    timeout_s: float = 30.0,
) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < connections + 256:  # one descriptor per held connection
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, connections + 1024), hard))
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return asyncio.run(
        _open_loop(host, int(port), paths, token, connections, rate, duration, timeout_s)
    )
