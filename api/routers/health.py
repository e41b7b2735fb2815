"""Liveness for load balancers and `moatmetrics` scripts: always 200 while the process runs,
with `status: degraded` and the reason when the current snapshot cannot be served."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends

from api.dependencies import get_store
from api.schemas import Health
from moatmetrics.seam.base import BrokenPointerError, SnapshotReader

router = APIRouter(tags=["health"])
log = logging.getLogger("moatmetrics.api")


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness and the snapshot being served",
    description="200 even before the first publish (then `snapshot_id` is null and `snapshot`"
    " is `none`), so a supervisor does not restart an API that is merely waiting for data."
    " When the marts cannot be served, `status` is `degraded`: `snapshot` is `broken` (the"
    " CURRENT pointer is damaged) or `unreachable` (PostgreSQL warehouse down), and `problem`"
    " says what to do; data endpoints then answer 503.",
)
def health(store: Annotated[SnapshotReader, Depends(get_store)]) -> Health:
    try:
        snapshot_id = store.current_id()
    except BrokenPointerError:
        log.warning("health: the CURRENT snapshot pointer is damaged")
        return Health(
            status="degraded", snapshot_id=None, snapshot="broken",
            problem="The snapshots/CURRENT pointer does not hold a snapshot id: publish again"
            " (moatmetrics run) or write a published snapshot's id into it.",
        )  # fmt: skip
    except Exception:  # PostgreSQL mode with the database down: still alive, nothing served
        log.warning("health: the current snapshot cannot be read", exc_info=True)
        return Health(
            status="degraded", snapshot_id=None, snapshot="unreachable",
            problem="The warehouse's snapshot catalog cannot be read: check the PostgreSQL"
            " server named in MOATMETRICS_WAREHOUSE_URL.",
        )  # fmt: skip
    return Health(
        status="ok", snapshot_id=snapshot_id, snapshot="ok" if snapshot_id else "none", problem=None
    )
