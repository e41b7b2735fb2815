"""FastAPI dependencies: settings, the snapshot store, and one snapshot lease per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request

from api.page_cache import PageCache
from api.problems import (
    invalid_parameter,
    no_snapshot,
    snapshot_pointer_broken,
    snapshot_unavailable,
)
from moatmetrics.settings import Settings
from moatmetrics.storage.base import (
    BrokenPointerError,
    NoSnapshotError,
    SnapshotLease,
    SnapshotOpenError,
    SnapshotReader,
    Storage,
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> SnapshotReader:
    return request.app.state.snapshot_store


def get_storage(request: Request) -> Storage:
    """The storage back end (`moatmetrics.storage`): the snapshot catalog behind the reader."""
    return request.app.state.storage


def get_page_cache(request: Request) -> PageCache:
    return request.app.state.page_cache


async def snapshot_lease(
    store: Annotated[SnapshotReader, Depends(get_store)],
) -> AsyncIterator[SnapshotLease]:
    """Pin the current snapshot for the handler; 503 (problem) when there is none.

    Used with ``scope="function"`` so the cursor is closed as soon as the handler returns:
    handlers fetch all rows first, and the response never touches the database.

    Async because FastAPI runs a sync generator dependency's entry and exit in two worker
    threads: two thread hops per request, more than the lease itself costs when the snapshot
    is open already (a dict lookup and a cursor). A lease that needs I/O (a snapshot opened
    for the first time, any PostgreSQL lease) is still taken and returned in a thread.
    """
    in_loop = store.leases_without_io()
    stack = ExitStack()
    try:
        try:
            if in_loop:
                lease = stack.enter_context(store.lease())
            else:
                lease = await anyio.to_thread.run_sync(stack.enter_context, store.lease())
        except NoSnapshotError:
            raise no_snapshot() from None
        except BrokenPointerError as exc:
            raise snapshot_pointer_broken() from exc
        except SnapshotOpenError as exc:
            raise snapshot_unavailable(exc.snapshot_id) from exc
        yield lease
    finally:
        if in_loop:
            stack.close()
        else:
            await anyio.to_thread.run_sync(stack.close)


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


def current_snapshot_id(store: SnapshotReader) -> str | None:
    """The id the store serves now, None before the first publish; 503 problems otherwise."""
    try:
        return store.current_id()
    except BrokenPointerError as exc:
        raise snapshot_pointer_broken() from exc
    except Exception as exc:  # PostgreSQL catalog unreachable
        raise snapshot_unavailable("current") from exc
