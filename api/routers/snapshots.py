"""Which snapshots exist and which one is served: lets a BI refresh tell what changed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.dependencies import current_snapshot_id, get_storage, get_store
from api.problems import no_snapshot, problem_responses, snapshot_unavailable
from api.schemas import SnapshotInfo, SnapshotList
from api.security import Authorize
from moatmetrics.seam.base import Snapshot, SnapshotReader, Storage

AppStore = Annotated[SnapshotReader, Depends(get_store)]
AppStorage = Annotated[Storage, Depends(get_storage)]

router = APIRouter(
    prefix="/api/v1/snapshots",
    tags=["snapshots"],
    dependencies=[Depends(Authorize("viewer", "snapshots.read"))],
)


def _info(snapshot: Snapshot, current_id: str | None) -> SnapshotInfo:
    return SnapshotInfo(
        snapshot_id=snapshot.snapshot_id,
        created_at=snapshot.created_at,
        current=snapshot.snapshot_id == current_id,
        row_counts=snapshot.row_counts,
        upload_ids=snapshot.upload_ids,
    )


@router.get(
    "",
    response_model=SnapshotList,
    summary="Published snapshots, newest first",
    responses=problem_responses(),
)
def snapshots(storage: AppStorage, store: AppStore) -> SnapshotList:
    current_id = current_snapshot_id(store)
    published = sorted(storage.list_snapshots(), key=lambda s: s.snapshot_id, reverse=True)
    return SnapshotList(
        current_snapshot_id=current_id, snapshots=[_info(s, current_id) for s in published]
    )


@router.get(
    "/current",
    response_model=SnapshotInfo,
    summary="The snapshot the API serves now",
    responses=problem_responses(503),
)
def current(storage: AppStorage, store: AppStore) -> SnapshotInfo:
    snapshot_id = current_snapshot_id(store)
    if snapshot_id is None:
        raise no_snapshot()
    try:
        return _info(storage.load_snapshot(snapshot_id), snapshot_id)
    except (OSError, ValueError, KeyError) as exc:
        raise snapshot_unavailable(snapshot_id) from exc
