"""Liveness for load balancers and `moatmetrics` scripts: always 200 while the process runs."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends

from api.dependencies import get_store
from api.schemas import Health
from api.snapshot_store import Store

router = APIRouter(tags=["health"])
log = logging.getLogger("moatmetrics.api")


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness and the snapshot being served",
    description="200 even before the first publish (then `snapshot_id` is null), so a "
    "supervisor does not restart an API that is merely waiting for data; also null while a "
    "PostgreSQL warehouse is unreachable (data endpoints then answer 503).",
)
def health(store: Annotated[Store, Depends(get_store)]) -> Health:
    try:
        snapshot_id = store.current_id()
    except Exception:  # PostgreSQL mode with the database down: still alive, nothing served
        log.warning("health: the current snapshot cannot be read", exc_info=True)
        snapshot_id = None
    return Health(snapshot_id=snapshot_id)
