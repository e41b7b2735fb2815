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
from moatmetrics.seam.base import (
    BrokenPointerError,
    NoSnapshotError,
    SnapshotLease,
    SnapshotOpenError,
    SnapshotReader,
    Storage,
)
from moatmetrics.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> SnapshotReader:
    return request.app.state.snapshot_store


def get_storage(request: Request) -> Storage:
    """The storage back end (`moatmetrics.storage`): the snapshot catalog behind the reader."""
    return request.app.state.storage


def get_lease_slots(request: Request) -> anyio.Semaphore | None:
    """The app's bound on leases held at once (`lease_slots`), made in its lifespan."""
    return request.app.state.lease_slots


def lease_slots(store: SnapshotReader) -> anyio.Semaphore | None:
    """A semaphore of `store.max_leases()` slots, None when the reader has no such bound.

    Made inside the app's event loop (its lifespan). Why it exists: a PostgreSQL lease holds
    a pooled connection until its handler has run, and both take a worker thread from the
    same thread pool (40 threads, 16 connections). Under a burst, every thread could block in
    a lease waiting for a connection while the requests holding all the connections wait for
    a thread to run their handlers: nothing moves until the pool's 30 s timeout, then 503s.
    Waiting for a slot on the event loop instead holds no thread (docs/benchmarks.md).
    """
    most = store.max_leases()
    return None if most is None else anyio.Semaphore(most)


def get_page_cache(request: Request) -> PageCache:
    return request.app.state.page_cache


async def snapshot_lease(
    store: Annotated[SnapshotReader, Depends(get_store)],
    slots: Annotated[anyio.Semaphore | None, Depends(get_lease_slots)],
) -> AsyncIterator[SnapshotLease]:
    """Pin the current snapshot for the handler; 503 (problem) when there is none.

    Used with ``scope="function"`` so the cursor is closed as soon as the handler returns:
    handlers fetch all rows first, and the response never touches the database.

    Async because FastAPI runs a sync generator dependency's entry and exit in two worker
    threads: two thread hops per request, more than the lease itself costs when the snapshot
    is open already (a dict lookup and a cursor). A lease that needs I/O (a snapshot opened
    for the first time, any PostgreSQL lease) is still taken and returned in a thread, once
    one of the reader's lease slots is free (`lease_slots`).
    """
    in_loop = store.leases_without_io()
    if slots is not None:
        await slots.acquire()
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
        try:
            if in_loop:
                stack.close()
            else:
                await anyio.to_thread.run_sync(stack.close)
        finally:
            if slots is not None:
                slots.release()


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
