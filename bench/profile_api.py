"""Where one API request's time goes, without HTTP: the handler's parts called in-process.

    .venv/bin/python bench/profile_api.py        # on bench/work/home-1m's current snapshot

For the two load-test requests (a filtered client_profitability page as JSON; a 1000-row
license_utilization page as CSV) it times, over many calls: the count query, the page query
and fetch, the page with its total cached per snapshot and filter, and rendering (orjson).
Their sum is the CPU a request costs the server before HTTP, authentication, rate limiting and
audit; 1 / sum is the most requests per second one core can serve. Writes
bench/results/<date>-api-profile.json.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _timed(fn, repeat: int) -> tuple[float, object]:
    samples = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000, result


def main() -> int:
    home = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "work" / "home-1m"
    os.environ["MOATMETRICS_HOME"] = str(home)
    sys.path.insert(0, str(REPO))
    from api.mart_catalog import CLIENT_PROFITABILITY, LICENSE_UTILIZATION
    from api.mart_page_output import page_csv, page_json
    from api.mart_queries import build_query, fetch_page, read_rows
    from moatmetrics.settings import get_settings
    from moatmetrics.storage.duckdb import DuckDBSnapshotReader

    store = DuckDBSnapshotReader(get_settings())
    rng = random.Random(3)
    # Relative to the checkout: results are committed and must not name this machine's paths.
    shown = home.relative_to(REPO) if home.is_relative_to(REPO) else home.name
    out: dict = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "home": str(shown)}
    with store.lease() as lease:
        clients = [
            r[0]
            for r in lease.cursor.execute(
                "SELECT DISTINCT client_id FROM marts.client_profitability"
            ).fetchall()
        ]
        rows = lease.cursor.execute("SELECT count(*) FROM marts.license_utilization").fetchone()[0]
        cases = {
            "filtered_json": (
                CLIENT_PROFITABILITY,
                lambda: build_query(
                    CLIENT_PROFITABILITY,
                    {"client_id": [rng.choice(clients)]},
                    "2025-06",
                    None,
                    None,
                    100,
                    0,
                ),  # fmt: skip
                page_json,
            ),
            "csv_export_1000": (
                LICENSE_UTILIZATION,
                lambda: build_query(
                    LICENSE_UTILIZATION,
                    {},
                    None,
                    None,
                    None,
                    1000,
                    rng.randrange(0, max(1, rows - 1000)),
                ),  # fmt: skip
                page_csv,
            ),
        }
        for name, (spec, make_query, render) in cases.items():
            query = make_query()
            fetch_ms, (total, fetched) = _timed(
                lambda q=query, s=spec: fetch_page(lease.cursor, s, q, lease.tables), 30
            )
            count_ms, _ = _timed(
                lambda s=spec: lease.cursor.execute(
                    f"SELECT count(*) FROM marts.{s.name}"
                ).fetchone(),
                30,
            )
            # read_rows: the page query alone once the filter's total is cached (TOTALS).
            page_ms, page = _timed(lambda q=query, s=spec: read_rows(s, lease, q), 30)
            render_ms, response = _timed(lambda p=page, s=spec, r=render: r(s, p), 30)
            out[name] = {
                "rows_returned": len(fetched),
                "fetch_page_ms (count + page query + dicts)": round(fetch_ms, 2),
                "count_query_alone_ms": round(count_ms, 2),
                "read_rows_ms (page query, total cached)": round(page_ms, 2),
                "render_ms": round(render_ms, 2),
                "total_ms": round(page_ms + render_ms, 2),
                "max_rps_per_core": round(1000 / (page_ms + render_ms), 1),
                "body_bytes": len(response.body),
            }
            print(name, json.dumps(out[name]), flush=True)
    store.close()
    path = HERE / "results" / f"{out['date']}-api-profile.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"results: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
