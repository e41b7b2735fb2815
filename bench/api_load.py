"""API load: `moatmetrics serve` on loopback under a closed-loop load generator.

For each server configuration (uvicorn workers) and each scenario, N connections send
requests back to back for a fixed time; we report requests per second, latency percentiles
and errors (connect/read/write errors, timeouts and HTTP statuses >= 400).

Scenarios (paths cycle through a list built from the published snapshot), each closed-loop at
every connection count:

- ``health``: ``/health`` (no key, no audit): the framework's own ceiling in the same run;
- ``bi_refresh``: the same 20 filtered ``client_profitability`` queries again and again
  (what a dashboard refresh asks: page-cache hits);
- ``analyst``: 5,000 distinct filtered queries (client, month, sort, page size: misses);
- ``export_csv`` / ``export_parquet``: the whole ``license_utilization`` mart in pages of
  10,000 rows, as CSV and as Parquet.

Before the scenarios, on each fresh server (nothing cached), one client fetches that whole
mart page after page as CSV and then as Parquet: seconds and bytes of each (`full_export`).

Then one open-loop run (`open_loop.py`): 1000 connections held open, a steady 300 requests a
second between them, 80 % BI refresh and 20 % analyst, latency from each request's scheduled
time (no coordinated omission).

The generator is wrk (Debian's package) when installed, else a bounded asyncio + httpx client
(it needs more CPU per request, so on this 2-core machine it lowers the server's share).
Traffic goes to 127.0.0.1 only. The generator shares the machine's two cores with the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import httpx
from measure import busy_cpu_seconds, tree_rss, wait_for_quiet
from open_loop import latency_ms, mixed_paths, run_open_loop

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def build_paths(snapshot: Path, out_dir: Path, seed: int = 7) -> dict[str, Path]:
    rng = random.Random(seed)
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        clients = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT client_id FROM marts.client_profitability ORDER BY 1"
            ).fetchall()
        ]
        months = [
            r[0].strftime("%Y-%m")
            for r in con.execute(
                "SELECT DISTINCT month FROM marts.client_profitability ORDER BY 1"
            ).fetchall()
        ]
        license_rows = con.execute("SELECT count(*) FROM marts.license_utilization").fetchone()[0]
    finally:
        con.close()
    months_from = months[: max(1, len(months) - 1)]
    # BI refresh: the same 20 dashboard queries again and again (page cache and ETag hits).
    bi_refresh = [
        f"/api/v1/marts/client_profitability?client_id={rng.choice(clients)}"
        f"&month_from={rng.choice(months_from)}"
        for _ in range(20)
    ]
    # Analyst: 5,000 distinct filtered queries (cache misses: a query per request).
    sorts = ["", "&sort=-revenue", "&sort=-gross_profit", "&sort=month", "&limit=50"]
    analyst: list[str] = []
    seen: set[str] = set()
    for _ in range(50 * 5000):  # bounded: a small snapshot has fewer distinct queries
        if len(analyst) == 5000:
            break
        path = (
            f"/api/v1/marts/client_profitability?client_id={rng.choice(clients)}"
            f"&month_from={rng.choice(months_from)}{rng.choice(sorts)}"
        )
        if path not in seen:
            seen.add(path)
            analyst.append(path)
    # Export: the whole license_utilization mart, page by page (10,000 rows, the API's cap).
    pages = max(1, -(-license_rows // 10_000))
    offsets = list(range(pages))
    rng.shuffle(offsets)
    export = "/api/v1/marts/license_utilization?limit=10000&offset={}&format={}"
    scenarios = {
        "health": ["/health"],
        "bi_refresh": bi_refresh,
        "analyst": analyst,
        "export_csv": [export.format(k * 10_000, "csv") for k in offsets],
        "export_parquet": [export.format(k * 10_000, "parquet") for k in offsets],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, paths in scenarios.items():
        files[name] = out_dir / f"paths-{name}.txt"
        files[name].write_text("\n".join(paths) + "\n")
    return files


_LIBRARY_KEY = """
import sys
from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import create_key
with session_scope(write=True) as session:
    info, secret = create_key(session, Actor("bench"), sys.argv[1], "viewer")
print(secret)
"""


def api_key(env: dict[str, str]) -> tuple[str | None, str]:
    """A viewer key: `moatmetrics keys create` when the command exists, else none.

    Until the `keys` command lands, a key is made with the app database's own function
    (moatmetrics.appdb.keys.create_key) when that exists, so an API that already requires keys
    can still be measured.
    """
    cli = str(BIN / "moatmetrics")
    help_text = subprocess.run(
        [cli, "--help"], env=env, capture_output=True, text=True, check=False
    ).stdout
    commands = re.search(r"\{([^}]*)\}", help_text)
    name = f"bench-{int(time.time())}"
    if commands and "keys" in commands.group(1).split(","):
        done = subprocess.run(
            [cli, "keys", "create", "--name", name, "--role", "viewer"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return None, f"`keys create` failed: {(done.stderr or done.stdout).strip()[:200]}"
        tokens = [t.strip("'\"`.,") for t in done.stdout.split()]
        key = next((t for t in tokens if t.startswith("mmk_")), None) or max(tokens, key=len)
        return key, f"bearer key '{name}' (role viewer) from `moatmetrics keys create`"
    done = subprocess.run(
        [sys.executable, "-c", _LIBRARY_KEY, name],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0 and done.stdout.strip():
        return done.stdout.split()[-1], (
            f"bearer key '{name}' (role viewer) from moatmetrics.appdb.keys.create_key"
            " (no `keys` command yet)"
        )
    return None, "none (no `keys` command and no app database keys: no authentication)"


class Server:
    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = open(log, "w")  # noqa: SIM115
        argv = [str(BIN / "moatmetrics"), "serve", "--host", HOST, "--port", str(self.port)]
        argv += ["--workers", str(workers)]  # explicit: the default is the machine's cores
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.peak_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, tree_rss(self.proc.pid)[0])
            self._stop.wait(0.25)

    def wait_ready(self, headers: dict[str, str], timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}; see {self.log.name}"
                )
            try:
                if httpx.get(self.url + "/health", headers=headers, timeout=2).status_code < 500:
                    self._sampler.start()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout_s:.0f} s; see {self.log.name}")

    def stop(self) -> None:
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def warm_up(url: str, paths_file: Path, headers: dict[str, str]) -> dict:
    paths = paths_file.read_text().split()
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for path in paths[:30]:
            status = client.get(path).status_code
            statuses[status] = statuses.get(status, 0) + 1
    return statuses


def full_export(url: str, paths_file: Path, headers: dict[str, str]) -> dict:
    """One client fetching a whole mart page after page, as a BI tool's export does: seconds
    and bytes. Run right after the server starts, before any scenario: no page is cached."""

    def offset(path: str) -> int:
        return int(path.split("offset=")[1].split("&")[0])

    paths = sorted(paths_file.read_text().split(), key=offset)
    started = time.perf_counter()
    received = 0
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=120.0) as client:
        for path in paths:
            response = client.get(path)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            received += len(response.content)
    return {
        "pages": len(paths),
        "seconds": round(time.perf_counter() - started, 3),
        "bytes": received,
        "statuses": {str(k): v for k, v in statuses.items()},
    }


def run_wrk(
    url: str,
    paths_file: Path,
    token: str | None,
    connections: int,
    duration: int,
    threads: int = 2,
    timeout_s: int = 30,
) -> dict:
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(HERE / "wrk_paths.lua"),
        url,
        "--",
        str(paths_file),
        token or "",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    raw = json.loads(line[len("WRKJSON ") :])
    seconds = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    errors = sum(raw["errors"].values())
    return {
        "generator": "wrk",
        "connections": connections,
        "duration_s": round(seconds, 2),
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1),
        "mb_per_s": round(raw["bytes"] / seconds / 2**20, 2),
        "latency_ms": {k: round(v / 1000, 2) for k, v in lat.items()},
        "errors": errors,
        "errors_by_kind": raw["errors"],
    }


async def _python_load(
    url: str,
    paths: list[str],
    headers: dict[str, str],
    connections: int,
    duration: int,
    timeout_s: int,
) -> dict:
    latencies: list[float] = []
    errors = {"status": 0, "exception": 0}
    nbytes = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    start = time.perf_counter()
    deadline = start + duration

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal nbytes
        i = offset
        while time.perf_counter() < deadline:
            i += 1
            t0 = time.perf_counter()
            try:
                response = await client.get(paths[i % len(paths)])
                latencies.append(time.perf_counter() - t0)
                nbytes += len(response.content)
                if response.status_code >= 400:
                    errors["status"] += 1
            except httpx.HTTPError:
                errors["exception"] += 1

    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=timeout_s
    ) as client:
        await asyncio.gather(*(worker(client, k * 7919) for k in range(connections)))
    seconds = time.perf_counter() - start
    latencies.sort()

    return {
        "generator": "python-httpx",
        "connections": connections,
        "duration_s": round(seconds, 2),
        "requests": len(latencies),
        "rps": round(len(latencies) / seconds, 1),
        "mb_per_s": round(nbytes / seconds / 2**20, 2),
        "latency_ms": latency_ms(latencies),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
    }


def run_python(
    url: str,
    paths_file: Path,
    token: str | None,
    connections: int,
    duration: int,
    timeout_s: int = 30,
) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    paths = paths_file.read_text().split()
    return asyncio.run(_python_load(url, paths, headers, connections, duration, timeout_s))


def api_benchmark(
    home: Path,
    snapshot: Path,
    work: Path,
    connections: list[int],
    duration: int,
    workers: list[int],
    generator: str = "auto",
) -> dict:
    env = dict(os.environ, MOATMETRICS_HOME=str(home))
    # One bench key sends every request: the per-key rate limit (600/min by default) would
    # answer 429 to nearly all of them. The limiter still runs; it is set not to trip.
    env.setdefault("MOATMETRICS_RATE_LIMIT_PER_MINUTE", "1000000000")
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    token, auth = api_key(env)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    files = build_paths(snapshot, work)
    results: dict = {
        "generator": generator,
        "auth": auth,
        "duration_s": duration,
        "snapshot": snapshot.name,
        "rate_limit_per_minute": env["MOATMETRICS_RATE_LIMIT_PER_MINUTE"],
        "scenarios": [],
    }
    for count in workers:
        server = Server(env, count, work / f"serve-{count}w.log")
        try:
            server.wait_ready(headers)
            exports = {
                fmt: full_export(server.url, files[f"export_{fmt}"], headers)
                for fmt in ("csv", "parquet")
            }
            csv, parquet = exports["csv"], exports["parquet"]
            exports["parquet_speedup"] = round(csv["seconds"] / max(parquet["seconds"], 1e-9), 2)
            exports["parquet_bytes_share"] = round(parquet["bytes"] / max(csv["bytes"], 1), 4)
            results.setdefault("full_export", {})[f"{count}w"] = exports
            print(
                f"  api: {count} worker(s), whole license_utilization mart, one client: CSV"
                f" {csv['seconds']} s / {csv['bytes'] / 2**20:.1f} MiB, Parquet"
                f" {parquet['seconds']} s / {parquet['bytes'] / 2**20:.1f} MiB"
                f" ({exports['parquet_speedup']}x faster, {exports['parquet_bytes_share']:.1%}"
                " of the bytes)",
                flush=True,
            )
            for scenario, paths_file in files.items():
                statuses = warm_up(server.url, paths_file, headers)
                if set(statuses) != {200}:
                    results.setdefault("not_measured", []).append(
                        {"workers": count, "scenario": scenario, "warm_up_statuses": statuses}
                    )
                    print(f"  api: {scenario} answers {statuses} before load; skipped")
                    continue
                for conns in connections:
                    print(
                        f"  api: {count} worker(s), {scenario}, {conns} connections,"
                        f" {duration} s ...",
                        flush=True,
                    )
                    quiet = wait_for_quiet(max_wait_s=90)
                    busy_before = busy_cpu_seconds()
                    if generator == "wrk":
                        row = run_wrk(server.url, paths_file, token, conns, duration)
                    else:
                        row = run_python(server.url, paths_file, token, conns, duration)
                    # server + generator can use at most the 2 cores; more means someone else
                    row["machine_busy_cores"] = round(
                        (busy_cpu_seconds() - busy_before) / max(row["duration_s"], 1e-9), 2
                    )
                    row["machine_before"] = quiet
                    row.update(
                        {"workers": count, "scenario": scenario, "warm_up_statuses": statuses}
                    )
                    results["scenarios"].append(row)
                    print(
                        f"    {row['rps']} req/s, p50 {row['latency_ms']['p50']} ms,"
                        f" p99 {row['latency_ms']['p99']} ms, errors {row['errors']}",
                        flush=True,
                    )
                    time.sleep(2)  # let the server drain closed connections
            print(f"  api: {count} worker(s), open loop, 1000 connections, 300 req/s ...")
            paths = mixed_paths(files["bi_refresh"], files["analyst"])
            busy_before = busy_cpu_seconds()
            row = run_open_loop(server.url, paths, token, 1000, 300.0, duration)
            row["machine_busy_cores"] = round(
                (busy_cpu_seconds() - busy_before) / max(row["duration_s"], 1e-9), 2
            )
            row.update({"workers": count, "scenario": "open_loop_80bi_20analyst"})
            results["scenarios"].append(row)
            print(
                f"    {row['rps']} req/s of {row['target_rps']}, p50 {row['latency_ms']['p50']}"
                f" ms, p99 {row['latency_ms']['p99']} ms, errors {row['errors']}",
                flush=True,
            )
        finally:
            server.stop()
            results.setdefault("server_peak_rss_mb", {})[f"{count}w"] = round(
                server.peak_rss / 2**20, 1
            )
    return results
