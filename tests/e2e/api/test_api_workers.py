"""`moatmetrics serve --workers 2`: two API processes behind one port share no state that a
snapshot switch, the rate limit or the audit chain depends on.

The server is the real command (uvicorn's process manager and two worker processes) on
127.0.0.1; snapshots are published with the real publish code while requests are in flight;
each test runs with the app database in SQLite (the default) and in PostgreSQL. Which worker
answered is read from /metrics, whose per-process series carry the worker's pid.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from checkout import REPO_ROOT
from postgres_server import admin_connection, database_url
from serving import answers_health, free_port, wait_until
from sqlalchemy import func, select

from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import dispose_engines, session_scope
from moatmetrics.appdb.keys import create_key, revoke_key
from moatmetrics.appdb.models import AuditEntry
from moatmetrics.seam.base import Snapshot
from moatmetrics.settings import Settings

METRICS_TOKEN = "scrape-" + secrets.token_hex(8)
PATHS = [
    "/api/v1/marts/client_profitability?client_id=C1&month_to=2024-01",
    "/api/v1/marts/client_profitability?format=csv&client_id=C1&month_to=2024-01",
    "/api/v1/marts/staff_utilization?staff_id=S9",
    "/api/v1/snapshots",
    "/api/v1/me",
]


@dataclass
class Workers:
    """`moatmetrics serve --workers N` in a child process group."""

    home: Path
    process: subprocess.Popen[bytes]
    url: str
    settings: Settings
    keys: dict[str, str] = field(default_factory=dict)

    def new_key(self, role: str) -> str:
        with session_scope(self.settings, write=True) as session:
            name = f"workers-{role}-{secrets.token_hex(3)}"
            secret = create_key(session, Actor("tests"), name, role)[1]
        dispose_engines()
        return secret

    def client(self, role: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        return httpx.Client(base_url=self.url, timeout=30.0, headers=headers)

    def worker_pids(self) -> set[int]:
        """The worker processes: children of uvicorn's manager that answer requests."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = {int(p) for p in children.read_text().split()}
        return {p for p in pids if "resource_tracker" not in _cmdline(p)}

    def requests_served(self, route_prefix: str) -> dict[int, int]:
        """Per worker pid, the requests it answered on the route (any status).

        Each /metrics scrape shows the counters of the worker that answered it; scrapes on
        fresh connections go on until every worker has answered one (no deadline: the test's
        timeout bounds it)."""
        workers = self.worker_pids()
        counts: dict[int, int] = {}
        answered: set[int] = set()
        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}

        def scrape() -> bool:
            text = httpx.get(self.url + "/metrics", headers=headers, timeout=30.0).text
            for pid, route, count in re.findall(
                r'moatmetrics_http_requests_total\{pid="(\d+)",method="GET",route="([^"]+)",'
                r'status="\d+"\} (\d+)',
                text,
            ):
                if int(pid) in answered:
                    continue  # this worker's counters were read already
                if route.startswith(route_prefix):
                    counts[int(pid)] = counts.get(int(pid), 0) + int(count)
            answered.update(int(pid) for pid in re.findall(r'pid="(\d+)"', text))
            return workers <= answered

        wait_until(scrape, step=0)
        return counts

    def pids_that_served(self, route_prefix: str) -> set[int]:
        return {pid for pid, count in self.requests_served(route_prefix).items() if count > 0}

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _app_database_url(home: Path, app_database: str | None) -> str:
    """The parametrised app database; SQLite in the home, named explicitly (in PostgreSQL
    mode the default would be the warehouse's database)."""
    return app_database or f"sqlite:///{home / 'app.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def app_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The app database the workers share: SQLite in the home (None), or a fresh PostgreSQL
    database (127.0.0.1:5432 as in CI), dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    admin = admin_connection()
    name = f"moatmetrics_test_workers_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        dispose_engines()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def serve_workers(
    tmp_path: Path, app_database: str | None, backend
) -> Iterator[Callable[..., Workers]]:
    """`start(home, workers=2, **env)`: the real `moatmetrics serve --workers N`, sharing the
    parametrised app database."""
    started: list[Workers] = []

    def start(home: Path, workers: int = 2, **env: str) -> Workers:
        keys = {}
        database_url = _app_database_url(home, app_database)
        settings = backend.settings(home, database_url=database_url)
        with session_scope(settings, write=True) as session:
            for role in ("viewer", "analyst", "admin"):
                name = f"workers-{role}-{secrets.token_hex(3)}"
                keys[role] = create_key(session, Actor("tests"), name, role)[1]
        dispose_engines()  # the servers are the app database's users from here on
        port = free_port()
        server_env = {
            **os.environ,
            **backend.env(home),
            "DO_NOT_TRACK": "1",
            "MOATMETRICS_RUN_ON_UPLOAD": "0",
            "MOATMETRICS_METRICS_TOKEN": METRICS_TOKEN,
            "MOATMETRICS_DATABASE_URL": database_url,
            **env,
        }
        with open(tmp_path / f"serve-{port}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moatmetrics.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(port), "--workers", str(workers)],
                cwd=REPO_ROOT, env=server_env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        server = Workers(home, process, f"http://127.0.0.1:{port}", settings, keys)
        started.append(server)

        def ready() -> bool:  # no deadline: the test's timeout bounds the wait
            assert process.poll() is None, (tmp_path / f"serve-{port}.log").read_text()
            return answers_health(server.url) and len(server.worker_pids()) >= workers

        return wait_until(ready) and server

    yield start
    for server in started:
        server.stop()


def _served(path: str, response: httpx.Response) -> tuple[str | None, int | None]:
    """(snapshot id, data generation) a response shows; see conftest for the encoding."""
    if "format=csv" in path:
        header, row = response.text.splitlines()[:2]
        revenue = Decimal(dict(zip(header.split(","), row.split(","), strict=True))["revenue"])
        return response.headers["x-snapshot-id"], int(revenue - Decimal("1000.50"))
    body = response.json()
    if "client_profitability" in path:
        return body["snapshot_id"], int(Decimal(str(body["rows"][0]["revenue"])) - 1000)
    if "staff_utilization" in path:
        return body["snapshot_id"], int(body["rows"][0]["logged_hours"])
    return None, None


@pytest.mark.timeout(300)
def test_two_workers_serve_a_snapshot_switch(
    tmp_path: Path,
    app_database: str | None,
    serve_workers,
    publish_generation: Callable[..., Snapshot],
) -> None:
    """Requests run on both workers while generations 2, 3 and 4 are published; each publish
    starts once 100 responses of the batch before it arrived, and the next batch waits for it
    to return (as in test_api_snapshot_switch): the switches are forced, and every batch must
    see the generation published before it or a newer one, on whichever worker."""
    home = tmp_path / "home"
    generations = {publish_generation(home, 1).snapshot_id: 1}
    server = serve_workers(home, workers=2, MOATMETRICS_RATE_LIMIT_PER_MINUTE="1000000")
    assert len(server.worker_pids()) == 2

    batch, per_publish = 120, 100
    total = 4 * batch
    published = {generation: threading.Event() for generation in (2, 3, 4)}
    done = threading.Semaphore(0)
    results: list[tuple[str, int, str | None, int | None, int]] = []
    lock = threading.Lock()
    local = threading.local()
    kept: list[httpx.Client] = []

    def fetch(index: int) -> None:
        path = PATHS[index % len(PATHS)]
        at_least = 1 + index // batch  # the generation published before this request starts
        if at_least > 1:
            published[at_least].wait()
        if index % 2:  # half on kept-alive connections, half on fresh ones
            if not hasattr(local, "http"):
                local.http = server.client("viewer")
                with lock:
                    kept.append(local.http)
            http, fresh = local.http, None
        else:
            http = fresh = server.client("viewer")
        try:
            response = http.get(path)
            outcome = (
                (path, 200, *_served(path, response))
                if response.status_code == 200
                else (path, response.status_code, response.text, None)
            )
        except Exception as exc:  # a transport error is a failed request too
            outcome = (path, -1, repr(exc), None)
        finally:
            if fresh is not None:
                fresh.close()
        with lock:
            results.append((*outcome, at_least))
        done.release()

    with ThreadPoolExecutor(max_workers=12) as pool:  # batches queued in order
        futures = [pool.submit(fetch, i) for i in range(total)]
        for generation in (2, 3, 4):
            for _ in range(per_publish):
                done.acquire()
            generations[publish_generation(home, generation).snapshot_id] = generation
            published[generation].set()
            for _ in range(batch - per_publish):
                done.acquire()
        wait(futures)
    for http in kept:
        http.close()

    failures = [r for r in results if r[1] != 200]
    assert not failures, failures[:5]
    assert len(results) == total
    served = {snapshot for _, _, snapshot, _, _ in results if snapshot}
    assert served == set(generations), served  # each generation was served
    for path, _, snapshot, generation, at_least in results:
        if snapshot is not None:  # never an older snapshot than the one published before
            assert generations[snapshot] >= at_least, (path, snapshot, at_least)
        if generation is not None:  # rows come from the snapshot the response names
            assert generation == generations[snapshot], (path, snapshot, generation)

    engine = "postgresql" if app_database else "sqlite"
    newest = max(generations, key=generations.get)

    def both_workers_read_marts() -> bool:
        """Whichever worker answers serves the newest snapshot; read on fresh connections
        until both workers have answered mart reads (the kernel picks the worker)."""
        for _ in range(10):
            with server.client("viewer") as http:
                body = http.get(PATHS[0]).json()
            assert body["snapshot_id"] == newest, body
            assert body["rows"][0]["explanation"] == "generation 4"
        return len(server.pids_that_served("/api/v1/marts")) == 2

    wait_until(both_workers_read_marts, step=0)
    with server.client("admin") as admin:
        report = admin.get("/api/v1/audit/verify").json()
    assert report["valid"] is True and report["first_broken_seq"] is None, report
    assert report["entries_checked"] >= total
    print(f"\n{total} requests, 3 publishes, 2 workers, app db {engine}: 0 failed;"
          f" audit chain of {report['entries_checked']} entries valid")  # fmt: skip


@pytest.mark.timeout(300)
def test_rate_limit_is_shared_by_two_workers(
    tmp_path: Path, serve_workers, publish_generation: Callable[..., Snapshot]
) -> None:
    """A key's limit holds across workers: of limit + 10 requests spread over both workers,
    exactly `limit` pass. The window is a calendar minute, so a burst that crossed a minute
    boundary, or that the kernel happened to hand to one worker only, proves nothing: it is
    repeated with a fresh key (whose counter starts at zero) until one burst stayed inside a
    minute and reached both workers. Only that burst's outcome is asserted."""
    home = tmp_path / "home"
    publish_generation(home, 1)
    limit = 30
    server = serve_workers(home, workers=2, MOATMETRICS_RATE_LIMIT_PER_MINUTE=str(limit))

    def one_window_burst_on_both_workers() -> list[int] | None:
        key = server.new_key("analyst")
        before = server.requests_served("/api/v1/me")
        window = int(time.time() // 60)
        statuses = []
        for _ in range(limit + 10):  # one at a time, each on a new connection (either worker)
            with httpx.Client(base_url=server.url, timeout=30.0) as http:
                response = http.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
            statuses.append(response.status_code)
        if int(time.time() // 60) != window:
            return None  # the window changed during the burst
        after = server.requests_served("/api/v1/me")
        if sum(1 for pid in after if after[pid] > before.get(pid, 0)) < 2:
            return None  # one worker answered every request
        return statuses

    statuses = wait_until(one_window_burst_on_both_workers, step=0)
    assert statuses == [200] * limit + [429] * 10


@pytest.mark.timeout(300)
def test_a_key_revoked_elsewhere_is_refused_by_every_worker_within_a_second(
    tmp_path: Path, serve_workers, publish_generation: Callable[..., Snapshot]
) -> None:
    """Workers remember a valid key (api.key_cache) so that reads need no database lookup,
    but for less than a second: a key revoked outside the API (the CLI, another instance;
    here straight in the app database, which no worker is told about) is refused by both
    workers one second later. Both are first seen serving the key, so each has it cached."""
    home = tmp_path / "home"
    publish_generation(home, 1)
    server = serve_workers(home, workers=2)
    key = server.new_key("viewer")
    headers = {"Authorization": f"Bearer {key}"}

    def served_by_both(expected: int) -> Callable[[], list[int] | None]:
        before = server.requests_served("/api/v1/me")
        statuses: list[int] = []

        def check() -> list[int] | None:
            for _ in range(10):  # each on a new connection: either worker
                with httpx.Client(base_url=server.url, timeout=30.0) as http:
                    response = http.get("/api/v1/me", headers=headers)
                assert response.status_code == expected, response.text
                statuses.append(response.status_code)
            after = server.requests_served("/api/v1/me")
            both = sum(1 for pid in after if after[pid] > before.get(pid, 0)) >= 2
            return statuses if both else None

        return check

    wait_until(served_by_both(200), step=0)
    prefix = key[: len("mmk_") + 8]
    with session_scope(server.settings, write=True) as session:
        assert revoke_key(session, Actor("tests"), prefix).revoked_at is not None
    dispose_engines()
    time.sleep(1.0)  # the promise; the cache keeps a key for half of it
    refused = wait_until(served_by_both(401), step=0)
    assert set(refused) == {401}


@pytest.mark.timeout(300)
def test_serve_writes_no_secret_or_query_to_its_output(
    tmp_path: Path, serve_workers, publish_generation: Callable[..., Snapshot]
) -> None:
    """`moatmetrics serve` prints no access log: a key sent in a URL (the audit log keeps only
    its prefix) and a query's client filters never reach the console or a log collector."""
    home = tmp_path / "home"
    publish_generation(home, 1)
    server = serve_workers(home, workers=2)
    leaked = "mmk_0123abcd_" + secrets.token_urlsafe(32)[:43]
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        assert http.get("/api/v1/me", params={"api_key": leaked}).status_code == 401
    with server.client("viewer") as viewer:
        assert viewer.get("/api/v1/marts/client_profitability?client_id=C1").status_code == 200
    with server.client("admin") as admin:  # the request is recorded, the secret is not
        entries = admin.get("/api/v1/audit").json()["entries"]
    assert any("[redacted]" in json.dumps(e) for e in entries)
    assert not any(leaked in json.dumps(e) for e in entries)
    output = "".join(p.read_text(errors="replace") for p in tmp_path.glob("serve-*.log"))
    assert "Application startup complete" in output  # the log is the server's
    assert leaked not in output and "mmk_0123abcd" not in output
    assert "client_id=C1" not in output


def _open_loop_driver():  # type: ignore[no-untyped-def]
    """bench/open_loop.py: the benchmark's own open-loop generator (not a package)."""
    spec = importlib.util.spec_from_file_location("open_loop", REPO_ROOT / "bench" / "open_loop.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _open_loop(
    tmp_path: Path,
    serve_workers,
    publish_generation: Callable[..., Snapshot],
    *,
    connections: int,
    rate: float,
    duration: int,
) -> Workers:
    """The benchmark's open loop (`rate` requests a second for `duration` s over `connections`)
    against two workers serving a published generation: every request answered, none with
    status >= 400."""
    home = tmp_path / "home"
    publish_generation(home, 1)
    server = serve_workers(home, workers=2, MOATMETRICS_RATE_LIMIT_PER_MINUTE="1000000")
    paths = [p for p in PATHS if p.startswith("/api/v1/marts/") and "format=csv" not in p]
    result = _open_loop_driver().run_open_loop(
        server.url, paths, server.keys["viewer"], connections=connections, rate=rate,
        duration=duration, timeout_s=540.0,
    )  # fmt: skip
    assert result["errors"] == 0, (result["errors_by_kind"], result["errors_by_status"])
    assert result["requests"] == result["scheduled"] == int(rate * duration)
    return server


@pytest.mark.timeout(600)
def test_open_loop_leaves_exactly_one_audit_entry_per_request(
    tmp_path: Path, serve_workers, publish_generation: Callable[..., Snapshot]
) -> None:
    """The benchmark's open loop (connections held open, a steady rate between them, here 200
    connections and 400 requests) against two workers: every request is answered, and the
    audit log holds exactly one `marts.read` entry per request, in a chain that verifies.
    Group commits batch the entries; they must neither drop nor double one."""
    server = _open_loop(
        tmp_path, serve_workers, publish_generation, connections=200, rate=80.0, duration=5
    )
    with session_scope(server.settings) as session:
        reads = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "marts.read")
        )
    assert reads == 400
    with server.client("admin") as admin:
        report = admin.get("/api/v1/audit/verify").json()
    assert report["valid"] is True, report


@pytest.mark.timeout(600)
def test_a_burst_beyond_the_readers_connections_is_answered_in_full(
    tmp_path: Path, serve_workers, publish_generation: Callable[..., Snapshot]
) -> None:
    """600 requests sent at once over 300 connections to two workers: far more requests in
    flight than a worker has threads (40) or, in PostgreSQL mode, pooled reader connections
    (16). Every one is answered, none with 503. Before leases waited for a slot on the event
    loop (`api.dependencies.lease_slots`), every thread blocked in a lease waiting for a
    connection while the requests holding the connections waited for a thread: 281 of the
    600 got 503 after the pool's 30 s timeout (and a CI run's open loop, 26 of 400)."""
    _open_loop(tmp_path, serve_workers, publish_generation, connections=300, rate=600.0, duration=1)
