"""What governance costs per request: key lookup + rate counter + audit entry.

    .venv/bin/python bench/gate_overhead.py [--requests 2000] [--threads 8] [--seconds 10]

Starts `uvicorn api.main:app` (one worker) on a fresh home in bench/work/gate (SQLite app
database, synchronous=FULL), then measures over loopback with a keep-alive client:

- `/health` (public, no database) against `/api/v1/me` (the whole gate: the key and its rate
  window from the worker's memory once the key has been read, then one share of a group
  commit counting the request and appending its audit entry), sequentially: latency per
  request;
- `/api/v1/me` from several threads: requests per second the audit chain sustains;
- in-process: `gate.admit` (the read that a key not cached, or a write, costs) and
  `audit.record` alone, and `audit.verify` over the entries made.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from moatmetrics.settings import get_settings  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _latencies(url: str, path: str, headers: dict, count: int) -> list[float]:
    with httpx.Client(base_url=url, headers=headers) as http:
        for _ in range(50):
            http.get(path)
        times = []
        for _ in range(count):
            start = time.perf_counter()
            assert http.get(path).status_code == 200
            times.append(time.perf_counter() - start)
    return times


def _throughput(url: str, headers: dict, threads: int, seconds: float) -> float:
    done = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        with httpx.Client(base_url=url, headers=headers) as http:
            while time.monotonic() < stop:
                assert http.get("/api/v1/me").status_code == 200
                done[index] += 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done) / seconds


def _summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return (
        f"{name:<28} mean {statistics.mean(times) * 1000:6.2f} ms  p50"
        f" {statistics.median(times) * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    home = REPO / "bench" / "work" / "gate"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ["MOATMETRICS_HOME"] = str(home)
    os.environ["MOATMETRICS_RATE_LIMIT_PER_MINUTE"] = "0"
    settings = get_settings()

    from moatmetrics.appdb import audit, keys
    from moatmetrics.appdb.db import session_scope

    with session_scope(settings, write=True) as session:
        secret = keys.create_key(session, audit.Actor("bench"), "bench", "viewer")[1]
    headers = {"Authorization": f"Bearer {secret}"}

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=REPO, env={**os.environ, "DO_NOT_TRACK": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url + "/health")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        print(_summary("/health (no gate)", _latencies(url, "/health", {}, args.requests)))
        print(
            _summary(
                "/api/v1/me (full gate)", _latencies(url, "/api/v1/me", headers, args.requests)
            )
        )
        rate = _throughput(url, headers, args.threads, args.seconds)
        print(f"/api/v1/me, {args.threads} threads: {rate:.0f} requests/s (each one audited)")
    finally:
        server.terminate()
        server.wait(timeout=10)

    from api.request_gate import admit
    from api.security import Authorize

    rule = Authorize("viewer", "bench")
    start = time.perf_counter()
    for _ in range(1000):
        admit(settings, secret, rule)
    print(f"gate.admit (key + rate window read): {(time.perf_counter() - start):.3f} ms per call")
    start = time.perf_counter()
    for _ in range(1000):
        audit.record(settings, audit.Actor("bench", "viewer"), "bench", "ok", "t", 200, {"q": 1})
    print(f"audit.record: {(time.perf_counter() - start):.3f} ms per entry")
    start = time.perf_counter()
    report = audit.verify(settings)
    seconds = time.perf_counter() - start
    print(
        f"audit.verify: {report.entries_checked} entries in {seconds:.2f} s"
        f" ({report.entries_checked / seconds:,.0f} entries/s), valid={report.valid}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
