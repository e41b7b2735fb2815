"""Every error leaves the API as RFC 9457 `application/problem+json`, never as a stack trace.

BI tools and scripts branch on `status` and `type`; people read `title` and `detail`. Internal
errors get a fixed, generic detail so file paths and SQL never leak to a client (the server
log still has the traceback).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import Problem

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_PREFIX = "urn:moatmetrics:problem:"


class ProblemError(Exception):
    """An expected failure that maps to one problem response."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem = Problem(
            type=_TYPE_PREFIX + kind, title=title, status=status, detail=detail, errors=errors
        )
        self.headers = headers


def no_snapshot() -> ProblemError:
    return ProblemError(
        503,
        "no-snapshot",
        "No snapshot published yet",
        "No snapshot of the marts has been published yet. Run the pipeline (moatmetrics run) "
        "to build and publish one; the API serves it as soon as it is current.",
        headers={"Retry-After": "60"},
    )


def snapshot_unavailable(snapshot_id: str) -> ProblemError:
    return ProblemError(
        503,
        "snapshot-unavailable",
        "Current snapshot cannot be opened",
        f"The current snapshot {snapshot_id} could not be opened. Publish a new snapshot or "
        "check the snapshots folder.",
        headers={"Retry-After": "60"},
    )


def unknown_mart(name: str, known: list[str]) -> ProblemError:
    return ProblemError(
        404, "unknown-mart", "Unknown mart", f"No mart named {name!r}. Known: {', '.join(known)}."
    )


def invalid_parameter(parameter: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        "invalid-parameter",
        "Invalid query parameter",
        f"{parameter}: {message}",
        errors=[{"loc": ["query", parameter], "msg": message, "type": "value_error"}],
    )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.problem, exc.headers)


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    problem = Problem(type="about:blank", title=title, status=exc.status_code, detail=detail)
    return problem_response(problem, exc.headers)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Keep loc/msg/type only: `input` and `ctx` may hold objects that are not JSON.
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    problem = Problem(
        type=_TYPE_PREFIX + "invalid-parameter",
        title="Invalid request",
        status=422,
        detail=detail or "The request is not valid.",
        errors=errors,
    )
    return problem_response(problem)


async def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    problem = Problem(
        type="about:blank",
        title="Internal server error",
        status=500,
        detail="The server could not complete the request; the error is in the server log.",
    )
    return problem_response(problem)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "content": {PROBLEM_MEDIA_TYPE: {"schema": Problem.model_json_schema()}},
        "description": text,
    }
    for status, text in (
        (404, "Unknown mart or path."),
        (422, "Invalid query parameter."),
        (503, "No snapshot has been published yet, or it cannot be opened."),
    )
}
