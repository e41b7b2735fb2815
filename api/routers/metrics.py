"""`GET /metrics` for Prometheus: an admin key or the MOATMETRICS_METRICS_TOKEN scrape token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.dependencies import get_storage
from api.metrics import CONTENT_TYPE, exposition
from api.problems import problem_responses
from api.security import Authorize
from moatmetrics.appdb.keys import Principal
from moatmetrics.seam.base import Storage

router = APIRouter(tags=["metrics"])

Scraper = Annotated[
    Principal, Depends(Authorize("admin", "metrics.read", audit=False, scrape_token=True))
]


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}, **problem_responses()},
)
def metrics(
    request: Request, _: Scraper, storage: Annotated[Storage, Depends(get_storage)]
) -> Response:
    body = exposition(request.app.state.request_metrics, storage)
    return Response(body, media_type=CONTENT_TYPE)
