"""Application factory: `create_app(settings)` for tests and embedding, `app` for uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.problems import install_problem_handlers
from api.routers import health, marts, snapshots
from api.snapshot_store import SnapshotStore
from moatmetrics import __version__
from moatmetrics.settings import Settings, get_settings

DESCRIPTION = """
Read-only access to the marts of the current **published snapshot**: client profitability,
license utilization and staff utilization, as JSON pages or CSV.

* Every response names the `snapshot_id` it was read from; a new publish is served from the
  next request on, and requests already running finish on the snapshot they started with.
* Money and hours are exact decimals with 2 places, rates are fractions (0.42 = 42 %), `month`
  is the first day of the month. Ratios with a zero or unknown denominator are null.
* Errors are `application/problem+json` (RFC 9457).
"""

TAGS = [
    {"name": "marts", "description": "The published marts: catalog, filtered pages, CSV."},
    {"name": "snapshots", "description": "Published snapshots and the one being served."},
    {"name": "health", "description": "Liveness."},
]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for one MoatMetrics home (default: from the environment). No I/O here."""
    settings = settings or get_settings()
    store = SnapshotStore(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(
        title="MoatMetrics API",
        summary="Offline MSP analytics: profitability, license and staff utilization.",
        description=DESCRIPTION,
        version=__version__,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.snapshot_store = store
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(marts.router)
    app.include_router(snapshots.router)
    return app


app = create_app()
