"""Data quality at a glance: the newest judged upload of each entity, with its score."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.app_schemas import EntityQuality, QualityOverview
from api.dependencies import get_settings
from api.problems import problem_responses
from api.security import Authorize
from moatmetrics.appdb import uploads
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import Principal
from moatmetrics.settings import Settings

router = APIRouter(prefix="/api/v1/quality", tags=["uploads"])

Reader = Annotated[Principal, Depends(Authorize("viewer", "quality.read"))]
AppSettings = Annotated[Settings, Depends(get_settings)]


@router.get(
    "",
    response_model=QualityOverview,
    summary="Latest quality score, counts and recommendations per entity",
    responses=problem_responses(),
)
def quality_overview(principal: Reader, settings: AppSettings) -> QualityOverview:
    with session_scope(settings) as session:
        return QualityOverview(
            entities=[
                EntityQuality(
                    entity=u.entity,
                    upload_id=u.id,
                    file_name=u.original_name,
                    status=u.status,
                    quality_score=u.quality_score,
                    row_count=u.row_count,
                    rows_rejected=u.rows_rejected,
                    warnings=u.warnings,
                    recommendations=uploads.parse_json_list(u.recommendations),
                    processed_at=u.processed_at,
                )
                for u in uploads.latest_per_entity(session)
            ]
        )
