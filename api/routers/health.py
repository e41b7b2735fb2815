"""Liveness for load balancers and `moatmetrics` scripts: always 200 while the process runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.dependencies import get_store
from api.schemas import Health
from api.snapshot_store import Store

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness and the snapshot being served",
    description="200 even before the first publish (then `snapshot_id` is null), so a "
    "supervisor does not restart an API that is merely waiting for data.",
)
def health(store: Annotated[Store, Depends(get_store)]) -> Health:
    return Health(snapshot_id=store.current_id())
