"""Application factory: `create_app(settings)` for tests and embedding, `app` for uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.telemetry import TelemetryConfig

from api.console.install import CONSOLE_FRONT, install_console
from api.dependencies import lease_slots, no_nul_in_query
from api.key_cache import KeyCache
from api.metrics import RequestMetrics
from api.page_cache import PageCache
from api.problems import install_problem_handlers
from api.request_gate import Gate
from api.routers import (
    api_docs,
    audit,
    corrections,
    health,
    keys,
    marts,
    metrics,
    quality,
    reports,
    reviews,
    scenarios,
    snapshots,
    uploads,
)
from api.transport_security import StrictTransportSecurity
from moatmetrics import __version__
from moatmetrics.appdb.db import engine_for
from moatmetrics.settings import Settings, get_settings
from moatmetrics.storage.configured import storage_for

DESCRIPTION = """
The marts of the current **published snapshot** (client profitability, license utilization,
staff utilization) as JSON pages or CSV, plus uploads, the review queue and the audit log.

* **Every endpoint except `/health` (and these docs) needs an API key** sent as
  `Authorization: Bearer mmk_...`. Keys have a role: `viewer` reads marts, snapshots and
  uploads; `analyst` also uploads files and reviews rows; `admin` also reads, exports and
  verifies the audit log and manages keys. Create the first key with
  `moatmetrics keys create --name NAME --role admin`; there is no default key.
* Every request is recorded in a hash-chained audit log (mart reads with their filters).
  Each response carries an `X-Request-ID` that is also in the log.
* Each key has a rate limit per minute (`RateLimit-*` headers; 429 with `Retry-After`).

* Every response names the `snapshot_id` it was read from; a new publish is served from the
  next request on, and requests already running finish on the snapshot they started with.
* Money and hours are exact decimals with 2 places, rates are fractions (0.42 = 42 %), `month`
  is the first day of the month. Ratios with a zero or unknown denominator are null.
* Errors are `application/problem+json` (RFC 9457).
"""

TAGS = [
    {"name": "marts", "description": "The published marts: catalog, filtered pages, CSV."},
    {
        "name": "reports",
        "description": "QBR reports as PDF or XLSX: client profitability, license savings.",
    },
    {"name": "snapshots", "description": "Published snapshots and the one being served."},
    {"name": "uploads", "description": "Export files in; ingest outcome and problem rows out."},
    {"name": "reviews", "description": "Flagged mart rows and reviewers' decisions."},
    {"name": "corrections", "description": "Analysts' exclusions and corrections of input rows."},
    {
        "name": "scenarios",
        "description": "What-if scenarios on the current snapshot's marts; saved and shared.",
    },
    {"name": "audit", "description": "The hash-chained audit log (admin)."},
    {"name": "keys", "description": "API keys (admin) and the calling key."},
    {"name": "metrics", "description": "Prometheus metrics (admin key or scrape token)."},
    {"name": "health", "description": "Liveness (no key needed)."},
]


#: FastAPI traces, measures and logs requests through OpenTelemetry whenever the process has
#: providers configured, and exports them over OTLP when FASTAPI_OTEL_AUTO_CONFIGURE=true is
#: set. Neither may happen here: requests name clients and keys, and nothing leaves the machine.
NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for one MoatMetrics home (default: from the environment). No I/O here."""
    settings = settings or get_settings()
    storage = storage_for(settings)  # the back end, chosen once for the app's life
    store = storage.snapshot_reader()

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        # Open (and migrate) the app database before serving: a wrong URL fails at startup.
        await anyio.to_thread.run_sync(engine_for, settings)
        served.state.lease_slots = lease_slots(store)  # bound to this event loop
        yield
        store.close()

    app = FastAPI(
        telemetry=NO_TELEMETRY,
        title="MoatMetrics API",
        summary="Offline MSP analytics: profitability, license and staff utilization.",
        description=DESCRIPTION,
        version=__version__,
        openapi_tags=TAGS,
        lifespan=lifespan,
        dependencies=[Depends(no_nul_in_query)],
        docs_url=None,  # served offline by api.routers.api_docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.storage = storage
    app.state.snapshot_store = store
    app.state.request_metrics = RequestMetrics()
    app.state.page_cache = PageCache(settings.page_cache_mb * 2**20)
    app.state.key_cache = KeyCache()  # read by the gate, cleared by a revocation
    install_problem_handlers(app)
    routers = [api_docs, health, marts, reports, snapshots, uploads, quality, reviews, audit]
    routers += [corrections, scenarios, keys, metrics]
    for module in routers:
        app.include_router(module.router)
    install_console(app)  # the web console at /console (api/console, docs/console.md)
    app.add_middleware(Gate, api=app, metrics=app.state.request_metrics, browser=CONSOLE_FRONT)
    app.add_middleware(StrictTransportSecurity)  # outermost: the gate's own answers get it too
    return app


app = create_app()
