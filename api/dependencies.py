"""FastAPI dependencies: settings, the snapshot store, and one snapshot lease per request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Annotated

from fastapi import Depends, Request

from api.page_cache import PageCache
from api.problems import (
    invalid_parameter,
    no_snapshot,
    snapshot_pointer_broken,
    snapshot_unavailable,
)
from api.snapshot_store import (
    BrokenPointerError,
    NoSnapshotError,
    SnapshotLease,
    SnapshotOpenError,
    Store,
)
from moatmetrics.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> Store:
    return request.app.state.snapshot_store


def get_page_cache(request: Request) -> PageCache:
    return request.app.state.page_cache


def snapshot_lease(store: Annotated[Store, Depends(get_store)]) -> Iterator[SnapshotLease]:
    """Pin the current snapshot for the handler; 503 (problem) when there is none.

    Used with ``scope="function"`` so the cursor is closed as soon as the handler returns:
    handlers fetch all rows first, and the response never touches the database.
    """
    with ExitStack() as stack:
        try:
            lease = stack.enter_context(store.lease())
        except NoSnapshotError:
            raise no_snapshot() from None
        except BrokenPointerError as exc:
            raise snapshot_pointer_broken() from exc
        except SnapshotOpenError as exc:
            raise snapshot_unavailable(exc.snapshot_id) from exc
        yield lease


CurrentSnapshot = Annotated[SnapshotLease, Depends(snapshot_lease, scope="function")]


def no_nul_in_query(request: Request) -> None:
    """Refuse a NUL character in any query value (422) on every route.

    PostgreSQL text cannot hold NUL, so such a filter would fail deep in a query (a 500) on a
    PostgreSQL app database or warehouse; no MSP identifier contains one. Same answer on both
    back ends.
    """
    for name, value in request.query_params.multi_items():
        if "\x00" in value:
            raise invalid_parameter(name, "contains a NUL character (0x00); remove it")


def only_query_params(*allowed: str) -> Callable[[Request], None]:
    """Reject unknown query parameters (422), so a typo in a filter never returns everything."""

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            raise invalid_parameter(
                unknown[0], f"unknown query parameter; allowed: {', '.join(sorted(allowed))}"
            )

    return check


def current_snapshot_id(store: Store) -> str | None:
    """The id the store serves now, None before the first publish; 503 problems otherwise."""
    try:
        return store.current_id()
    except BrokenPointerError as exc:
        raise snapshot_pointer_broken() from exc
    except Exception as exc:  # PostgreSQL catalog unreachable
        raise snapshot_unavailable("current") from exc
