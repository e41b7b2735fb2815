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


def snapshot_pointer_broken() -> ProblemError:
    return ProblemError(
        503,
        "snapshot-pointer-broken",
        "Current snapshot pointer is damaged",
        "The snapshots/CURRENT pointer does not hold a snapshot id, so no snapshot can be"
        " served. Publish again (moatmetrics run), or write the id of a published snapshot"
        " (moatmetrics snapshots list) into it.",
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


def unauthorized(reason: str) -> ProblemError:
    details = {
        "missing": "Send an API key as `Authorization: Bearer <key>`. An admin creates keys with "
        "`moatmetrics keys create --name NAME --role viewer|analyst|admin`.",
        "malformed": "The bearer token is not a MoatMetrics API key (mmk_...).",
        "unknown": "The API key is not known. Ask an admin for a valid key.",
        "revoked": "The API key was revoked. Ask an admin for a new key.",
        "signed_out": "This console session was signed out. Sign in again.",
        "expired": "This console session expired (sessions last 8 hours). Sign in again.",
    }
    return ProblemError(
        401,
        "unauthorized",
        "Authentication required",
        details.get(reason, details["unknown"]),
        headers={"WWW-Authenticate": 'Bearer realm="moatmetrics"'},
    )


def forbidden(role: str, required: str) -> ProblemError:
    return ProblemError(
        403,
        "forbidden",
        "Not allowed for this role",
        f"This endpoint needs the {required} role or higher; the key has the {role} role.",
    )


def out_of_client_scope() -> ProblemError:
    return ProblemError(
        403,
        "out-of-client-scope",
        "Not available to a client-scoped key",
        "This key is limited to some clients, and this endpoint shows data of every client"
        " (portfolio totals, staff, uploads, reviews, quality or governance). Use an unscoped"
        " key, or the client endpoints (marts with client_id, reports, console client pages).",
    )


def rate_limited(limit: int, retry_after: int) -> ProblemError:
    return ProblemError(
        429,
        "rate-limited",
        "Too many requests",
        f"This key made more than {limit} requests in the current minute. Retry after "
        f"{retry_after} s, or ask an admin to raise MOATMETRICS_RATE_LIMIT_PER_MINUTE.",
        headers={"Retry-After": str(retry_after)},
    )


def too_large(limit_bytes: int) -> ProblemError:
    return ProblemError(
        413,
        "too-large",
        "Request body too large",
        f"The request body is larger than the {limit_bytes // 2**20} MiB this endpoint accepts"
        " (uploads: MOATMETRICS_MAX_UPLOAD_BYTES). Split the file or export it as CSV.",
    )


def method_not_allowed(method: str, allowed: list[str]) -> ProblemError:
    return ProblemError(
        405,
        "method-not-allowed",
        "Method not allowed",
        f"{method} is not supported here; use {', '.join(allowed)}.",
        headers={"Allow": ", ".join(allowed)},
    )


def not_found(what: str) -> ProblemError:
    return ProblemError(404, "not-found", "Not found", f"{what} does not exist.")


def bad_request(kind: str, title: str, detail: str) -> ProblemError:
    return ProblemError(400, kind, title, detail)


def unprocessable(kind: str, title: str, detail: str) -> ProblemError:
    return ProblemError(422, kind, title, detail)


def conflict(kind: str, title: str, detail: str) -> ProblemError:
    return ProblemError(409, kind, title, detail)


def audit_unavailable(cause: str | None = None) -> ProblemError:
    """503: the request cannot be recorded, so it is not served; `cause` says why if known."""
    detail = (
        "The request could not be recorded in the audit log, so it was not served. Check the"
        " app database (MOATMETRICS_DATABASE_URL or $MOATMETRICS_HOME/app.db)."
    )
    return ProblemError(
        503,
        "audit-unavailable",
        "Audit log unavailable",
        f"{detail} Cause: {cause}." if cause else detail,
        headers={"Retry-After": "30"},
    )


def invalid_path() -> ProblemError:
    return ProblemError(
        400,
        "invalid-path",
        "Invalid path",
        "The URL path contains a control character (such as NUL, %00); no MoatMetrics path"
        " does. Remove it.",
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
    title = {
        400: "Bad request",
        404: "Not found",
        405: "Method not allowed",
        413: "Request body too large",
    }.get(exc.status_code, "HTTP error")
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
        (400, "Malformed request (a control character in the path, a file name with a path)."),
        (401, "No API key, or an unknown or revoked one."),
        (403, "The key's role is below what this endpoint needs."),
        (404, "Unknown mart, path or resource."),
        (409, "Conflict with the current state of the resource."),
        (413, "Request body too large."),
        (422, "Invalid query parameter or body."),
        (429, "Rate limit of the key exceeded; see Retry-After."),
        (
            503,
            "No snapshot has been published yet, it cannot be opened, or the audit log is"
            " unavailable.",
        ),
    )
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented problem responses of an endpoint: 400 (the gate refuses a control
    character in any path), 401, 403 and 429 always, plus these."""
    return {s: PROBLEM_RESPONSES[s] for s in sorted({400, 401, 403, 429, *statuses})}
