"""The demo-data generator: deterministic, valid per the data contract, and rich enough that
every mart has something to show. The expected columns and types are written out here from
``docs/warehouse.md`` rather than taken from the module, so the test pins the contract."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from moatmetrics import demo_data
from moatmetrics.demo_data import generate

V, D, B, INT, DEC = "VARCHAR", "DATE", "BOOLEAN", "BIGINT", "DECIMAL(18,4)"

CONTRACT: dict[str, list[tuple[str, str]]] = {
    "clients": [
        ("client_id", V),
        ("client_name", V),
        ("industry", V),
        ("status", V),
        ("contract_type", V),
        ("contract_start", D),
        ("contract_end", D),
        ("monthly_contract_value", DEC),
        ("managed_users", INT),
        ("managed_endpoints", INT),
    ],
    "staff": [
        ("staff_id", V),
        ("staff_name", V),
        ("role", V),
        ("hourly_cost", DEC),
        ("weekly_hours", DEC),
        ("billable_target", DEC),
        ("start_date", D),
        ("end_date", D),
    ],
    "time_entries": [
        ("entry_id", V),
        ("staff_id", V),
        ("client_id", V),
        ("work_date", D),
        ("hours", DEC),
        ("billable", B),
        ("work_type", V),
        ("ticket_id", V),
        ("bill_rate", DEC),
    ],
    "invoices": [
        ("invoice_id", V),
        ("line_no", INT),
        ("client_id", V),
        ("invoice_date", D),
        ("due_date", D),
        ("status", V),
        ("category", V),
        ("sku", V),
        ("quantity", DEC),
        ("unit_price", DEC),
        ("amount", DEC),
        ("currency", V),
    ],
    "licenses": [
        ("client_id", V),
        ("vendor", V),
        ("product", V),
        ("sku", V),
        ("snapshot_date", D),
        ("seats_purchased", INT),
        ("seats_assigned", INT),
        ("seats_active", INT),
        ("seats_billed", INT),
        ("unit_cost", DEC),
        ("unit_price", DEC),
        ("term_end_date", D),
    ],
    "expenses": [
        ("expense_id", V),
        ("client_id", V),
        ("expense_date", D),
        ("amount", DEC),
        ("category", V),
    ],
}

# How each type must look in the file: ISO dates, plain 2-place decimals, true/false.
LAYOUT = {
    D: r"^\d{4}-\d{2}-\d{2}$",
    DEC: r"^-?\d+\.\d{2}$",
    B: r"^(true|false)$",
    INT: r"^\d+$",
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("demo") / "seed42"
    return out, generate(out)


@pytest.fixture(scope="module")
def con(small: tuple[Path, dict[str, int]]) -> duckdb.DuckDBPyConnection:
    """Every file as raw text (``<entity>_raw``) and typed like raw.* (``<entity>``)."""
    out = small[0]
    con = duckdb.connect()
    for entity, columns in CONTRACT.items():
        path = (out / f"{entity}.csv").as_posix()
        con.execute(
            f"CREATE TABLE {entity}_raw AS SELECT * FROM read_csv('{path}', header = true, "
            "all_varchar = true, delim = ',', quote = '\"')"
        )
        casts = ", ".join(f"try_cast({c} AS {t}) AS {c}" for c, t in columns)
        con.execute(f"CREATE TABLE {entity} AS SELECT {casts} FROM {entity}_raw")
    return con


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def period_start() -> date:
    """First day of the 24-month period that ends with the default end month."""
    end = demo_data.DEFAULT_END_MONTH
    index = end.year * 12 + end.month - 1 - (demo_data.MONTHS - 1)
    return date(index // 12, index % 12 + 1, 1)


def test_small_scale_counts_match_files(small) -> None:
    out, counts = small
    assert list(counts) == [f"{e}.csv" for e in CONTRACT]
    for name, rows in counts.items():
        lines = (out / name).read_bytes().count(b"\n")
        assert rows == lines - 1, name


def test_same_seed_gives_identical_bytes(small, tmp_path: Path) -> None:
    generate(tmp_path, seed=42)
    for entity in CONTRACT:
        name = f"{entity}.csv"
        assert (tmp_path / name).read_bytes() == (small[0] / name).read_bytes(), name


def test_different_seed_gives_different_files(small, tmp_path: Path) -> None:
    generate(tmp_path, seed=7)
    for entity in CONTRACT:
        name = f"{entity}.csv"
        assert (tmp_path / name).read_bytes() != (small[0] / name).read_bytes(), name


def test_headers_are_exactly_the_canonical_columns(small) -> None:
    for entity, columns in CONTRACT.items():
        raw = (small[0] / f"{entity}.csv").read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        header = raw.split(b"\n", 1)[0].decode("utf-8")
        assert header == ",".join(c for c, _ in columns), entity
        assert b"\r" not in raw and b'"' not in raw, entity


def test_every_value_parses_as_its_contract_type(con) -> None:
    for entity, columns in CONTRACT.items():
        for column, kind in columns:
            bad = scalar(
                con,
                f"SELECT count(*) FROM (SELECT row_number() OVER () AS r, {column} AS v "
                f"FROM {entity}_raw) raw JOIN (SELECT row_number() OVER () AS r, {column} AS t "
                f"FROM {entity}) typed USING (r) WHERE v IS NOT NULL AND t IS NULL",
            )
            assert bad == 0, f"{entity}.{column}: {bad} values fail to parse as {kind}"
            if kind in LAYOUT:
                wrong = scalar(
                    con,
                    f"SELECT count(*) FROM {entity}_raw "
                    f"WHERE {column} IS NOT NULL AND NOT regexp_matches({column}, "
                    f"'{LAYOUT[kind]}')",
                )
                assert wrong == 0, f"{entity}.{column}: {wrong} values not laid out as {kind}"


def test_small_scale_row_counts(small) -> None:
    counts = small[1]
    assert counts["clients.csv"] == 40
    assert counts["staff.csv"] == 15
    assert 15_000 <= counts["time_entries.csv"] <= 50_000
    assert 2_000 <= counts["invoices.csv"] <= 8_000
    assert 1_000 <= counts["licenses.csv"] <= 5_000
    assert 500 <= counts["expenses.csv"] <= 3_000


def test_no_date_after_today_or_outside_the_period(con) -> None:
    today = date.today()
    end = demo_data.DEFAULT_END_MONTH
    for entity, columns in CONTRACT.items():
        for column, kind in columns:
            if kind == D:
                latest = scalar(con, f"SELECT max({column}) FROM {entity}")
                assert latest is None or latest <= today, f"{entity}.{column}"
    assert scalar(con, "SELECT max(work_date) FROM time_entries") <= date(end.year, end.month, 30)
    first = scalar(con, "SELECT min(work_date) FROM time_entries")
    assert (first.year, first.month) == (period_start().year, period_start().month)
    assert (
        scalar(con, "SELECT count(DISTINCT date_trunc('month', snapshot_date)) FROM licenses")
        == demo_data.MONTHS
    )


def test_time_entries_only_on_weekdays_with_hours_in_range(con) -> None:
    assert scalar(con, "SELECT count(*) FROM time_entries WHERE isodow(work_date) > 5") == 0
    assert scalar(con, "SELECT count(*) FROM time_entries WHERE hours <= 0 OR hours > 24") == 0
    # Only the injected spikes exceed 12 hours.
    spikes = con.execute(
        "SELECT hours FROM time_entries WHERE hours > 12 ORDER BY entry_id"
    ).fetchall()
    assert [int(h) for (h,) in spikes] == list(demo_data.HOURS_SPIKE_VALUES)


def violations(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows breaking a contract rule, per rule; the injected defects are the only ones."""
    checks = {
        # clients
        "clients.client_id unique": "SELECT count(*) - count(DISTINCT client_id) FROM clients",
        "clients.required": "SELECT count(*) FROM clients WHERE client_id IS NULL "
        "OR client_name IS NULL",
        "clients.status": "SELECT count(*) FROM clients "
        "WHERE status NOT IN ('active', 'inactive', 'churned')",
        "clients.contract_type": "SELECT count(*) FROM clients "
        "WHERE contract_type NOT IN ('managed', 'project', 'break_fix', 'other')",
        "clients.contract_end": "SELECT count(*) FROM clients WHERE contract_end < contract_start",
        "clients.non_negative": "SELECT count(*) FROM clients WHERE monthly_contract_value < 0 "
        "OR managed_users < 0 OR managed_endpoints < 0",
        # staff
        "staff.staff_id unique": "SELECT count(*) - count(DISTINCT staff_id) FROM staff",
        "staff.hourly_cost": "SELECT count(*) FROM staff WHERE hourly_cost IS NULL "
        "OR hourly_cost < 0",
        "staff.weekly_hours": "SELECT count(*) FROM staff WHERE weekly_hours <= 0 "
        "OR weekly_hours > 80",
        "staff.billable_target": "SELECT count(*) FROM staff "
        "WHERE billable_target NOT BETWEEN 0 AND 1",
        "staff.end_date": "SELECT count(*) FROM staff WHERE end_date < start_date",
        # time entries
        "time_entries.entry_id unique": "SELECT count(*) - count(DISTINCT entry_id) "
        "FROM time_entries",
        "time_entries.required": "SELECT count(*) FROM time_entries WHERE entry_id IS NULL "
        "OR staff_id IS NULL OR work_date IS NULL OR hours IS NULL",
        "time_entries.hours > 12": "SELECT count(*) FROM time_entries WHERE hours > 12",
        "time_entries.staff_id known": "SELECT count(*) FROM time_entries "
        "WHERE staff_id NOT IN (SELECT staff_id FROM staff)",
        "time_entries.client_id known": "SELECT count(*) FROM time_entries "
        "WHERE client_id NOT IN (SELECT client_id FROM clients)",
        "time_entries.bill_rate": "SELECT count(*) FROM time_entries WHERE bill_rate < 0",
        # invoices
        "invoices.key unique": "SELECT count(*) - count(DISTINCT (invoice_id, line_no)) "
        "FROM invoices",
        "invoices.required": "SELECT count(*) FROM invoices WHERE invoice_id IS NULL "
        "OR client_id IS NULL OR invoice_date IS NULL OR amount IS NULL OR line_no < 1",
        "invoices.client_id known": "SELECT count(*) FROM invoices "
        "WHERE client_id NOT IN (SELECT client_id FROM clients)",
        "invoices.due_date": "SELECT count(*) FROM invoices WHERE due_date <> invoice_date + 30",
        "invoices.status": "SELECT count(*) FROM invoices WHERE status NOT IN "
        "('draft', 'sent', 'pending', 'paid', 'overdue', 'void')",
        "invoices.category": "SELECT count(*) FROM invoices WHERE category NOT IN "
        "('recurring', 'project', 'labor', 'license', 'hardware', 'other')",
        "invoices.currency": "SELECT count(*) FROM invoices WHERE currency <> 'USD'",
        "invoices.amount": "SELECT count(*) FROM invoices WHERE amount <> quantity * unit_price",
        # licenses
        "licenses.key unique": "SELECT count(*) - count(DISTINCT (client_id, vendor, product, "
        "date_trunc('month', snapshot_date))) FROM licenses",
        "licenses.required": "SELECT count(*) FROM licenses WHERE client_id IS NULL "
        "OR product IS NULL OR seats_purchased IS NULL OR seats_active IS NULL "
        "OR unit_cost IS NULL",
        "licenses.non_negative": "SELECT count(*) FROM licenses WHERE seats_purchased < 0 "
        "OR seats_assigned < 0 OR seats_active < 0 OR seats_billed < 0 OR unit_cost < 0 "
        "OR unit_price < 0",
        "licenses.client_id known": "SELECT count(*) FROM licenses "
        "WHERE client_id NOT IN (SELECT client_id FROM clients)",
        "licenses.snapshot on the 1st": "SELECT count(*) FROM licenses "
        "WHERE day(snapshot_date) <> 1",
        # expenses
        "expenses.expense_id unique": "SELECT count(*) - count(DISTINCT expense_id) FROM expenses",
        "expenses.required": "SELECT count(*) FROM expenses WHERE expense_id IS NULL "
        "OR expense_date IS NULL OR amount IS NULL",
        "expenses.client_id known": "SELECT count(*) FROM expenses "
        "WHERE client_id NOT IN (SELECT client_id FROM clients)",
    }
    return {rule: n for rule, sql in checks.items() if (n := scalar(con, sql))}


def test_only_the_documented_defects_break_rules(con, small) -> None:
    assert violations(con) == {
        "time_entries.hours > 12": 5,
        "time_entries.staff_id known": 1,
        "time_entries.client_id known": 1,
        "invoices.currency": 1,
        "invoices.amount": 1,
    }
    documented = {(d.file, d.column): d.rows for d in demo_data.INJECTED_DEFECTS}
    assert documented == {
        ("time_entries.csv", "hours"): 5,
        ("time_entries.csv", "staff_id"): 1,
        ("time_entries.csv", "client_id"): 1,
        ("invoices.csv", "currency"): 1,
        ("invoices.csv", "amount"): 1,
    }
    assert (
        scalar(
            con,
            "SELECT any_value(staff_id) FROM time_entries "
            "WHERE staff_id NOT IN (SELECT staff_id FROM staff)",
        )
        == "S9999"
    )
    assert (
        scalar(
            con,
            "SELECT any_value(client_id) FROM time_entries "
            "WHERE client_id NOT IN (SELECT client_id FROM clients)",
        )
        == "C99999"
    )
    assert scalar(con, "SELECT any_value(currency) FROM invoices WHERE currency <> 'USD'") == "EUR"
    # Far below the 1% of rows that would reject a whole file.
    counts = small[1]
    assert 7 / counts["time_entries.csv"] < 0.001
    assert 2 / counts["invoices.csv"] < 0.01


def test_clients_cover_the_interesting_cases(con) -> None:
    by_status = dict(con.execute("SELECT status, count(*) FROM clients GROUP BY 1").fetchall())
    assert by_status["active"] >= 24 and by_status["inactive"] >= 1
    assert by_status["churned"] >= demo_data.CHURNED_MIN
    assert scalar(con, "SELECT count(DISTINCT contract_type) FROM clients") == 4
    assert scalar(con, "SELECT count(DISTINCT industry) FROM clients") >= 6
    assert scalar(
        con, "SELECT bool_and(contract_end IS NOT NULL) FROM clients WHERE status = 'churned'"
    )
    assert (
        scalar(
            con,
            "SELECT count(*) FROM clients WHERE contract_end IS NOT NULL AND status <> 'churned'",
        )
        == 0
    )
    # Nothing happens for a churned client after its contract ended.
    for table, column in (
        ("time_entries", "work_date"),
        ("invoices", "invoice_date"),
        ("licenses", "snapshot_date"),
        ("expenses", "expense_date"),
    ):
        after = scalar(
            con,
            f"SELECT count(*) FROM {table} t JOIN clients c USING (client_id) "
            f"WHERE t.{column} > c.contract_end",
        )
        assert after == 0, table
    # Some clients lose money over the period (the client_profitability definition, summed).
    losers = scalar(
        con,
        """
        WITH rev AS (SELECT client_id, sum(amount) AS revenue FROM invoices
                     WHERE status NOT IN ('draft', 'void') GROUP BY 1),
             labour AS (SELECT t.client_id, sum(t.hours * s.hourly_cost) AS cost
                        FROM time_entries t JOIN staff s USING (staff_id)
                        WHERE t.work_type NOT IN ('pto', 'holiday') GROUP BY 1),
             lic AS (SELECT client_id, sum(seats_purchased * unit_cost) AS cost
                     FROM licenses GROUP BY 1),
             other AS (SELECT client_id, sum(amount) AS cost FROM expenses GROUP BY 1)
        SELECT count(*) FROM rev JOIN labour USING (client_id)
        LEFT JOIN lic USING (client_id) LEFT JOIN other USING (client_id)
        WHERE revenue < labour.cost + coalesce(lic.cost, 0) + coalesce(other.cost, 0)""",
    )
    assert losers >= 1


def test_staff_cover_joiners_leavers_and_part_timers(con) -> None:
    assert (
        scalar(con, f"SELECT count(*) FROM staff WHERE start_date > DATE '{period_start()}'") >= 1
    )
    assert scalar(con, "SELECT count(*) FROM staff WHERE end_date IS NOT NULL") >= 1
    assert scalar(con, "SELECT count(*) FROM staff WHERE weekly_hours BETWEEN 20 AND 30") >= 1
    assert scalar(con, "SELECT min(hourly_cost) >= 35 AND max(hourly_cost) <= 95 FROM staff")
    assert scalar(con, "SELECT count(DISTINCT role) FROM staff") >= 5
    outside = scalar(
        con,
        "SELECT count(*) FROM time_entries t JOIN staff s USING (staff_id) "
        "WHERE t.work_date < s.start_date OR t.work_date > s.end_date",
    )
    assert outside == 0


def test_time_entries_cover_work_internal_time_and_absence(con) -> None:
    kinds = {k for (k,) in con.execute("SELECT DISTINCT work_type FROM time_entries").fetchall()}
    assert {"remote_support", "onsite", "project", "maintenance", "pto", "holiday"} <= kinds
    assert (
        scalar(
            con,
            "SELECT count(*) FROM time_entries WHERE client_id IS NULL "
            "AND work_type NOT IN ('pto', 'holiday')",
        )
        > 0
    )
    assert (
        scalar(
            con,
            "SELECT count(*) FROM time_entries WHERE work_type IN ('pto', 'holiday') "
            "AND (client_id IS NOT NULL OR billable)",
        )
        == 0
    )
    assert scalar(
        con,
        "SELECT count(*) FILTER (WHERE billable) > 0 AND "
        "count(*) FILTER (WHERE NOT billable AND client_id IS NOT NULL) > 0 "
        "FROM time_entries",
    )
    assert (
        scalar(
            con, "SELECT count(*) FROM time_entries WHERE bill_rate IS NOT NULL AND NOT billable"
        )
        == 0
    )
    assert scalar(con, "SELECT count(ticket_id) > 0 FROM time_entries")
    # Seasonality: more PTO in July/August and December than in the rest of the year.
    busy, holiday = con.execute("""
        SELECT avg(h) FILTER (WHERE m NOT IN (7, 8, 12)), avg(h) FILTER (WHERE m IN (7, 8, 12))
        FROM (SELECT month(work_date) AS m, year(work_date), sum(hours) AS h
              FROM time_entries WHERE work_type = 'pto' GROUP BY 1, 2)""").fetchone()
    assert holiday > 2 * busy


def test_invoices_cover_credits_voids_drafts_and_overdue(con) -> None:
    statuses = dict(
        con.execute("SELECT status, count(DISTINCT invoice_id) FROM invoices GROUP BY 1").fetchall()
    )
    assert {"paid", "sent", "overdue", "void", "draft"} <= set(statuses)
    categories = {c for (c,) in con.execute("SELECT DISTINCT category FROM invoices").fetchall()}
    assert {"recurring", "license", "labor", "project"} <= categories
    assert scalar(con, "SELECT count(*) FROM invoices WHERE amount < 0") > 0
    # One client, date and status per invoice.
    assert (
        scalar(
            con,
            "SELECT count(*) FROM (SELECT invoice_id FROM invoices GROUP BY 1 "
            "HAVING count(DISTINCT (client_id, invoice_date, status)) > 1)",
        )
        == 0
    )
    # Each voided invoice was re-issued with the same lines.
    reissued = scalar(
        con,
        """
        SELECT count(*) FROM (SELECT DISTINCT invoice_id, client_id, invoice_date
                              FROM invoices WHERE status = 'void') v
        WHERE EXISTS (SELECT 1 FROM invoices i WHERE i.client_id = v.client_id
                      AND i.invoice_date = v.invoice_date AND i.status <> 'void')""",
    )
    assert reissued == statuses["void"]


def test_licenses_cover_waste_leakage_and_over_deployment(con) -> None:
    assert scalar(con, "SELECT count(*) FROM licenses WHERE seats_assigned > seats_purchased") > 0
    assert scalar(con, "SELECT count(*) FROM licenses WHERE seats_billed IS NULL") > 0
    assert scalar(con, "SELECT count(*) FROM licenses WHERE seats_billed < seats_assigned") > 0
    assert (
        scalar(
            con,
            "SELECT count(*) FROM licenses WHERE seats_active < 0.8 * seats_purchased "
            "AND seats_purchased - seats_active >= 1",
        )
        > 0
    )
    critical = "SELECT count(*) FROM licenses WHERE seats_active < 0.3 * seats_purchased"
    assert scalar(con, critical) > 0
    assert scalar(con, "SELECT count(*) FROM licenses WHERE seats_active > seats_assigned") == 0
    vendors = {v for (v,) in con.execute("SELECT DISTINCT vendor FROM licenses").fetchall()}
    assert {"Microsoft", "Acronis", "SentinelOne"} <= vendors


def test_expenses_have_overhead_and_client_costs(con) -> None:
    assert scalar(con, "SELECT count(*) FROM expenses WHERE client_id IS NULL") > 0
    assert scalar(con, "SELECT count(*) FROM expenses WHERE client_id IS NOT NULL") > 0


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scale"):
        generate(tmp_path, scale="huge")
    with pytest.raises(ValueError, match="after today"):
        generate(tmp_path, end_month=date(date.today().year + 1, 1, 1))
