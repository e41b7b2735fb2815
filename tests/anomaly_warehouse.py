"""A warehouse built by hand for the anomaly detector (moatmetrics.insights.anomalies): the
marts, work-type summaries and trust scores it reads, with one planted case per rule.

January 2025 .. February 2026 are complete, March 2026 is still arriving. Nine clients log 40
hours a month (Acme 38 and 42 in turn), bill 5,000 and keep 2,000 of it; in December 2025
everybody logs half (a seasonal factor of 0.5). Five staff members log 90 % of their available
hours (one part-timer 50 %); five licences keep 2 unused seats. tests/unit/test_anomalies.py
works out what each case must give.
"""

from __future__ import annotations

from datetime import date

import duckdb

MONTHS = [date(2025 + (k // 12), k % 12 + 1, 1) for k in range(14)]  # Jan 2025 .. Feb 2026
DEC, JAN, FEB, MAR = date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)
CLIENTS = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"]
NAMES = {"C1": "Acme", "C2": "Birch", "C4": "Dune", "C5": "Elm", "C6": "Fir"}


def hours_of(client: str, k: int) -> float:
    if client == "C1":
        return 38.0 if k % 2 == 0 else 42.0
    return 40.0


def build_anomaly_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Create and fill the tables the detector reads on `con`."""
    for schema in ("marts", "intermediate", "trust"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        "CREATE TABLE marts.month_completeness (month DATE, time_entries BIGINT,"
        " is_complete BOOLEAN);"
        "CREATE TABLE marts.client_profitability (client_id VARCHAR, client_name VARCHAR,"
        " month DATE, revenue DECIMAL(18, 2), recurring_revenue DECIMAL(18, 2),"
        " labor_hours DECIMAL(18, 2), labor_cost DECIMAL(18, 2), license_cost DECIMAL(18, 2),"
        " other_cost DECIMAL(18, 2), gross_profit DECIMAL(18, 2));"
        "CREATE TABLE marts.staff_utilization (staff_id VARCHAR, staff_name VARCHAR,"
        " month DATE, logged_ratio DECIMAL(18, 4));"
        "CREATE TABLE marts.license_utilization (client_id VARCHAR, vendor VARCHAR,"
        " product VARCHAR, month DATE, seats_purchased BIGINT, seats_assigned BIGINT,"
        " seats_active BIGINT, seats_billed BIGINT, unused_seats BIGINT, unbilled_seats BIGINT);"
        "CREATE TABLE intermediate.int_client_work_types_summarized (client_id VARCHAR,"
        " month DATE, work_type VARCHAR, hours DECIMAL(18, 2), tickets BIGINT);"
        "CREATE TABLE intermediate.int_staff_work_types_summarized (staff_id VARCHAR,"
        " month DATE, work_type VARCHAR, hours DECIMAL(18, 2));"
    )
    factors = ", ".join(
        f"confidence_{f} DOUBLE"
        for f in ("cost_completeness", "evidence_volume", "data_quality", "consistency", "coverage")
    )
    con.execute(
        f"CREATE TABLE trust.client_profitability_scores (client_id VARCHAR, month DATE,"
        f" {factors});"
        f"CREATE TABLE trust.staff_utilization_scores (staff_id VARCHAR, month DATE, {factors});"
        f"CREATE TABLE trust.license_utilization_scores (client_id VARCHAR, vendor VARCHAR,"
        f" product VARCHAR, month DATE, {factors})"
    )
    con.executemany(
        "INSERT INTO marts.month_completeness VALUES (?, ?, ?)",
        [*((m, 400, True) for m in MONTHS), (MAR, 120, False)],
    )
    clients, work = [], []
    for c in CLIENTS:
        for k, m in enumerate(MONTHS):
            if c == "C6" and m < date(2025, 9, 1):
                continue  # Fir: 5 months of history before February, too few to check
            hours = 20.0 if m == DEC else hours_of(c, k)
            revenue, profit, project = 5000.0, 2000.0, 0.0
            if c == "C1" and m == FEB:  # Acme: a project, and the margin goes with it
                hours, project, profit = 118.0, 80.0, -2000.0
            if c == "C2" and m in (JAN, FEB):  # Birch: revenue falls and stays down
                revenue, profit = 1000.0, -2000.0
            if c == "C4" and m == DEC:  # Dune works on while everyone is away
                hours = 60.0
            if c == "C5" and m == FEB:  # Elm: a cost nobody billed
                profit = -1000.0
            if c == "C6" and m == FEB:
                hours = 200.0
            other_cost = revenue - profit - 1500  # labour 1,000 and licences 500
            clients.append((c, NAMES.get(c, c), m, revenue, revenue - 500, hours, 1000, 500,
                            other_cost, profit))  # fmt: skip
            work.append((c, m, "remote_support", hours - project, 0))
            if project:
                work.append((c, m, "project", project, 3))
    con.executemany(
        "INSERT INTO marts.client_profitability VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", clients
    )
    con.executemany(
        "INSERT INTO intermediate.int_client_work_types_summarized VALUES (?, ?, ?, ?, ?)", work
    )
    staff = []
    for s, usual in (("S1", 0.9), ("S2", 0.5), ("S3", 0.9), ("S4", 0.9), ("S5", 0.9)):
        for m in MONTHS:
            ratio = usual
            if s == "S1" and m == FEB:
                ratio = 1.45  # far more than usual: (1.45 - 0.9) / 0.045 = 12.2 spreads
            if s == "S2" and m == FEB:
                ratio = 0.69  # 6.3 spreads (floor 0.03) but 19 points: not material
            staff.append((s, f"Staff {s}", m, ratio))
    con.executemany("INSERT INTO marts.staff_utilization VALUES (?, ?, ?, ?)", staff)
    con.executemany(
        "INSERT INTO intermediate.int_staff_work_types_summarized VALUES (?, ?, ?, ?)",
        [("S1", FEB, "internal", 90), *(("S1", m, "internal", 10) for m in MONTHS[:-1])],
    )
    licenses = []
    for c in CLIENTS[:5]:
        for m in MONTHS:
            # every licence gains 10 unused seats in February (a vendor's bundle change):
            # a change all peers share is nobody's anomaly
            extra = 10 if m == FEB else 0
            licenses.append((c, "Microsoft", "M365", m, 20 + extra, 18, 18, 18, 2 + extra, 0))
    con.executemany(
        "INSERT INTO marts.license_utilization VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", licenses
    )
    con.execute(
        "INSERT INTO trust.client_profitability_scores VALUES (?, ?, 0.9, 0.81, 1.0, 0.2, 1.0)",
        ["C1", FEB],
    )
