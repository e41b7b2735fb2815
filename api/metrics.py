"""Prometheus metrics in the text exposition format (no client library needed).

Two kinds of numbers:

- per process (this API worker): request counts by route template, method and status, and a
  latency histogram. With several workers each scrape sees one worker; the `pid` label tells
  them apart, and Prometheus sums them.
- shared state read from the app database and the snapshots folder at scrape time: audit log
  length, uploads and review items by status, active keys, the current snapshot's age. These are
  the same whichever worker answers.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from moatmetrics import __version__
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import ApiKey, AuditHead, ReviewItem, Upload
from moatmetrics.seam.base import Storage

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, object]]) -> str:
    inner = ",".join(f'{name}="{_escape(str(value))}"' for name, value in pairs)
    return "{" + inner + "}" if inner else ""


class RequestMetrics:
    """Thread-safe counters of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = time.time()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)
        self._rate_limited = 0
        self._denied = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1
            buckets = self._buckets.setdefault(route, [0] * len(BUCKETS))
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
            self._sums[route] += seconds
            self._counts[route] += 1
            if status == 429:
                self._rate_limited += 1
            elif status in (401, 403):
                self._denied += 1

    def render(self) -> list[str]:
        pid = os.getpid()
        lines = [
            "# HELP moatmetrics_build_info MoatMetrics version of this API process.",
            "# TYPE moatmetrics_build_info gauge",
            f"moatmetrics_build_info{_labels([('version', __version__)])} 1",
            "# HELP process_start_time_seconds Start time of this API process (Unix time).",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds{_labels([('pid', pid)])} {self._started:.3f}",
            "# HELP moatmetrics_http_requests_total HTTP requests answered by this process.",
            "# TYPE moatmetrics_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), count in sorted(self._requests.items()):
                labels = _labels(
                    [("pid", pid), ("method", method), ("route", route), ("status", status)]
                )
                lines.append(f"moatmetrics_http_requests_total{labels} {count}")
            lines += [
                "# HELP moatmetrics_http_request_duration_seconds Time to answer, by route.",
                "# TYPE moatmetrics_http_request_duration_seconds histogram",
            ]
            for route, buckets in sorted(self._buckets.items()):
                base = [("pid", pid), ("route", route)]
                for bound, count in zip(BUCKETS, buckets, strict=True):
                    labels = _labels([*base, ("le", bound)])
                    lines.append(
                        f"moatmetrics_http_request_duration_seconds_bucket{labels} {count}"
                    )
                labels = _labels([*base, ("le", "+Inf")])
                count = self._counts[route]
                lines.append(f"moatmetrics_http_request_duration_seconds_bucket{labels} {count}")
                lines.append(
                    f"moatmetrics_http_request_duration_seconds_sum{_labels(base)}"
                    f" {self._sums[route]:.6f}"
                )
                lines.append(
                    f"moatmetrics_http_request_duration_seconds_count{_labels(base)}"
                    f" {self._counts[route]}"
                )
            lines += [
                "# HELP moatmetrics_http_rate_limited_total Requests refused with 429.",
                "# TYPE moatmetrics_http_rate_limited_total counter",
                f"moatmetrics_http_rate_limited_total{_labels([('pid', pid)])}"
                f" {self._rate_limited}",
                "# HELP moatmetrics_http_denied_total Requests refused with 401 or 403.",
                "# TYPE moatmetrics_http_denied_total counter",
                f"moatmetrics_http_denied_total{_labels([('pid', pid)])} {self._denied}",
            ]
        return lines


def _grouped(name: str, help_text: str, counts: dict[str, int], label: str) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f"{name}{_labels([(label, key)])} {value}" for key, value in sorted(counts.items())]
    return lines


def shared_state(storage: Storage) -> list[str]:
    """Gauges of the app database and the snapshot catalog (same from every worker)."""
    settings = storage.settings
    with session_scope(settings) as session:
        head = session.get(AuditHead, 1)
        uploads = dict(
            session.execute(select(Upload.status, func.count()).group_by(Upload.status)).all()
        )
        reviews = dict(
            session.execute(
                select(ReviewItem.status, func.count()).group_by(ReviewItem.status)
            ).all()
        )
        keys = session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
        )
    lines = [
        "# HELP moatmetrics_audit_entries Entries in the audit log (the chain head's sequence).",
        "# TYPE moatmetrics_audit_entries gauge",
        f"moatmetrics_audit_entries {head.seq if head else 0}",
        "# HELP moatmetrics_api_keys_active API keys that are not revoked.",
        "# TYPE moatmetrics_api_keys_active gauge",
        f"moatmetrics_api_keys_active {keys or 0}",
    ]
    lines += _grouped("moatmetrics_uploads", "Upload records by status.", uploads, "status")
    lines += _grouped("moatmetrics_review_items", "Review items by status.", reviews, "status")
    snapshot = storage.current_snapshot()
    lines += [
        "# HELP moatmetrics_snapshot_published_timestamp_seconds When the served snapshot was"
        " published (Unix time; absent before the first publish).",
        "# TYPE moatmetrics_snapshot_published_timestamp_seconds gauge",
    ]
    if snapshot is not None:
        published = datetime.fromisoformat(snapshot.created_at).timestamp()
        labels = _labels([("snapshot_id", snapshot.snapshot_id)])
        lines.append(f"moatmetrics_snapshot_published_timestamp_seconds{labels} {published:.0f}")
    return lines


def exposition(process: RequestMetrics, storage: Storage) -> str:
    return "\n".join([*process.render(), *shared_state(storage)]) + "\n"
