"""Per mart row, the evidence the confidence factors and explanations are computed from.

One SQL query per mart over the warehouse (DuckDB): the mart row itself, how many input rows
it rests on and how many of those carry a data-quality warning (``ingest.rejected_rows`` joined
on each raw row's ``_upload_id`` / ``_row_number``), the entity's trailing three months (the
three calendar months before the row's month, whatever rows exist) and the mean and spread of
its previous six months, snapshot coverage, and
the portfolio medians of the month. Everything is set-based: `moatmetrics.trust.scoring`
reads a query as the first CTE of the statement that adds the factors and sentences.

Every input used here belongs to the row's own entity except the portfolio medians, which
feed explanations only, never confidence: a change in one client's data therefore never
changes another client's confidence (review items of other clients stay closed).
"""

from __future__ import annotations

_WARNED = """
warned AS (
    SELECT DISTINCT upload_id, row_number FROM ingest.rejected_rows WHERE severity = 'warning'
)"""

# The calendar months before the row's month (RANGE, so gaps shorten the history): three
# for the averages explanations compare with, six for the spread consistency is judged by.
_TRAILING = "RANGE BETWEEN INTERVAL 3 MONTH PRECEDING AND INTERVAL 1 MONTH PRECEDING"
_HISTORY = "RANGE BETWEEN INTERVAL 6 MONTH PRECEDING AND INTERVAL 1 MONTH PRECEDING"


def _history_stats(*expressions: tuple[str, str]) -> str:
    """Six-month count, mean and sample standard deviation of each (name, expression)."""
    items = ["count(*) OVER history_window AS hist_n"]
    for name, expression in expressions:
        items.append(f"avg({expression}) OVER history_window AS hist_avg_{name}")
        items.append(f"stddev_samp({expression}) OVER history_window AS hist_sd_{name}")
    return ",\n        ".join(items)


CLIENT_PROFITABILITY_SQL = f"""
WITH {_WARNED},
mart AS (SELECT * FROM marts.client_profitability),
inputs AS (
    SELECT client_id, CAST(date_trunc('month', work_date) AS DATE) AS month,
           _upload_id, _row_number
    FROM raw.time_entries
    WHERE client_id IS NOT NULL AND coalesce(work_type NOT IN ('pto', 'holiday'), true)
    UNION ALL
    SELECT client_id, CAST(date_trunc('month', invoice_date) AS DATE), _upload_id, _row_number
    FROM raw.invoices WHERE coalesce(status NOT IN ('draft', 'void'), true)
    UNION ALL
    SELECT client_id, CAST(date_trunc('month', snapshot_date) AS DATE), _upload_id, _row_number
    FROM raw.licenses
    UNION ALL
    SELECT client_id, CAST(date_trunc('month', expense_date) AS DATE), _upload_id, _row_number
    FROM raw.expenses WHERE client_id IS NOT NULL
),
counted AS (
    SELECT inputs.client_id, inputs.month, count(*) AS input_rows,
           count(warned.upload_id) AS warned_rows
    FROM inputs
    LEFT JOIN warned
        ON warned.upload_id = inputs._upload_id AND warned.row_number = inputs._row_number
    GROUP BY ALL
),
products AS (
    SELECT DISTINCT client_id, vendor, product,
           CAST(date_trunc('month', snapshot_date) AS DATE) AS month
    FROM raw.licenses
),
-- A product is expected in a month when the client has its snapshot that month, the month
-- before or the month after: a hole in the series (or a missing latest export) shows.
expected AS (
    SELECT DISTINCT client_id, vendor, product,
           CAST(month + to_months(shift) AS DATE) AS month
    FROM products CROSS JOIN (VALUES (-1), (0), (1)) AS shifts(shift)
),
coverage AS (
    SELECT expected.client_id, expected.month, count(*) AS products_expected,
           count(products.product) AS products_covered
    FROM expected
    LEFT JOIN products
        ON products.client_id = expected.client_id
        AND products.vendor IS NOT DISTINCT FROM expected.vendor
        AND products.product = expected.product
        AND products.month = expected.month
    GROUP BY ALL
),
history AS (
    SELECT *,
        count(*) OVER previous AS history_months,
        avg(revenue) OVER previous AS avg_revenue,
        avg(labor_cost) OVER previous AS avg_labor_cost,
        avg(license_cost) OVER previous AS avg_license_cost,
        avg(other_cost) OVER previous AS avg_other_cost,
        avg(total_cost) OVER previous AS avg_total_cost,
        avg(labor_hours) OVER previous AS avg_labor_hours,
        {
    _history_stats(
        ("revenue", "revenue"), ("total_cost", "total_cost"), ("labor_hours", "labor_hours")
    )
}
    FROM mart
    WINDOW previous AS (PARTITION BY client_id ORDER BY month {_TRAILING}),
        history_window AS (PARTITION BY client_id ORDER BY month {_HISTORY})
),
portfolio AS (
    SELECT month,
        count(*) AS portfolio_clients,
        median(CAST(gross_margin AS DOUBLE)) AS median_gross_margin,
        median(CAST(labor_cost AS DOUBLE) / CAST(revenue AS DOUBLE)) AS median_labor_share,
        median(CAST(license_cost AS DOUBLE) / CAST(revenue AS DOUBLE)) AS median_license_share,
        median(CAST(other_cost AS DOUBLE) / CAST(revenue AS DOUBLE)) AS median_other_share,
        median(CAST(effective_hourly_rate AS DOUBLE)) AS median_effective_hourly_rate
    FROM mart WHERE revenue > 0
    GROUP BY month
)
SELECT history.*,
    coalesce(counted.input_rows, 0) AS input_rows,
    coalesce(counted.warned_rows, 0) AS warned_rows,
    coalesce(coverage.products_expected, 0) AS products_expected,
    coalesce(coverage.products_covered, 0) AS products_covered,
    portfolio.* EXCLUDE (month)
FROM history
LEFT JOIN counted USING (client_id, month)
LEFT JOIN coverage USING (client_id, month)
LEFT JOIN portfolio USING (month)
"""

LICENSE_UTILIZATION_SQL = f"""
WITH {_WARNED},
mart AS (SELECT * FROM marts.license_utilization),
snapshot_rows AS (
    SELECT client_id, vendor, product, CAST(date_trunc('month', snapshot_date) AS DATE) AS month,
           count(*) AS input_rows, count(warned.upload_id) AS warned_rows
    FROM raw.licenses
    LEFT JOIN warned
        ON warned.upload_id = licenses._upload_id AND warned.row_number = licenses._row_number
    GROUP BY ALL
),
history AS (
    SELECT *,
        count(*) OVER (PARTITION BY client_id, vendor, product ORDER BY month
                       ROWS UNBOUNDED PRECEDING) AS snapshot_months,
        min(month) OVER (PARTITION BY client_id, vendor, product) AS first_month,
        count(*) OVER previous AS history_months,
        avg(seats_purchased) OVER previous AS avg_seats_purchased,
        avg(seats_active) OVER previous AS avg_seats_active,
        {_history_stats(("seats_purchased", "seats_purchased"), ("seats_active", "seats_active"))}
    FROM mart
    WINDOW previous AS (PARTITION BY client_id, vendor, product ORDER BY month {_TRAILING}),
        history_window AS (PARTITION BY client_id, vendor, product ORDER BY month {_HISTORY})
),
portfolio AS (
    SELECT vendor, product, month, count(*) AS portfolio_clients,
        median(CAST(utilization_rate AS DOUBLE)) AS median_utilization_rate
    FROM mart WHERE utilization_rate IS NOT NULL
    GROUP BY ALL
)
SELECT history.*,
    -- Months in the trailing window since the product's first snapshot: those should exist.
    least(3, datediff('month', history.first_month, history.month)) AS expected_history_months,
    coalesce(snapshot_rows.input_rows, 0) AS input_rows,
    coalesce(snapshot_rows.warned_rows, 0) AS warned_rows,
    portfolio.portfolio_clients,
    portfolio.median_utilization_rate
FROM history
LEFT JOIN snapshot_rows
    ON snapshot_rows.client_id = history.client_id
    AND snapshot_rows.vendor IS NOT DISTINCT FROM history.vendor
    AND snapshot_rows.product = history.product
    AND snapshot_rows.month = history.month
LEFT JOIN portfolio
    ON portfolio.vendor IS NOT DISTINCT FROM history.vendor
    AND portfolio.product = history.product
    AND portfolio.month = history.month
"""

STAFF_UTILIZATION_SQL = f"""
WITH {_WARNED},
mart AS (SELECT * FROM marts.staff_utilization),
entries AS (
    SELECT staff_id, CAST(date_trunc('month', work_date) AS DATE) AS month, work_date,
           coalesce(work_type IN ('pto', 'holiday'), false) AS is_absence,
           warned.upload_id IS NOT NULL AS is_warned
    FROM raw.time_entries
    LEFT JOIN warned
        ON warned.upload_id = time_entries._upload_id
        AND warned.row_number = time_entries._row_number
    WHERE staff_id IS NOT NULL
),
counted AS (
    SELECT staff_id, month,
        count(*) FILTER (WHERE NOT is_absence) AS input_rows,
        count(*) FILTER (WHERE NOT is_absence AND is_warned) AS warned_rows,
        count(DISTINCT work_date) FILTER (WHERE NOT is_absence) AS logged_days,
        count(DISTINCT work_date) FILTER (WHERE is_absence) AS absence_days
    FROM entries
    GROUP BY ALL
),
contract AS (
    SELECT staff_id, month, employed_weekdays, billable_target
    FROM intermediate.int_staff_months_expanded
),
history AS (
    SELECT *,
        count(*) OVER previous AS history_months,
        avg(logged_hours) OVER previous AS avg_logged_hours,
        avg(billable_hours) OVER previous AS avg_billable_hours,
        avg(available_hours) OVER previous AS avg_available_hours,
        {
    _history_stats(
        ("logged_ratio", "logged_ratio"),
        ("utilization", "utilization"),
        ("logged_hours", "logged_hours"),
        ("billable_hours", "billable_hours"),
    )
}
    FROM mart
    WINDOW previous AS (PARTITION BY staff_id ORDER BY month {_TRAILING}),
        history_window AS (PARTITION BY staff_id ORDER BY month {_HISTORY})
),
portfolio AS (
    SELECT month, count(*) AS portfolio_staff,
        median(CAST(utilization AS DOUBLE)) AS median_utilization
    FROM mart WHERE utilization IS NOT NULL
    GROUP BY month
)
SELECT history.*,
    coalesce(counted.input_rows, 0) AS input_rows,
    coalesce(counted.warned_rows, 0) AS warned_rows,
    coalesce(counted.logged_days, 0) AS logged_days,
    coalesce(counted.absence_days, 0) AS absence_days,
    contract.employed_weekdays,
    contract.billable_target,
    portfolio.portfolio_staff,
    portfolio.median_utilization
FROM history
LEFT JOIN counted USING (staff_id, month)
LEFT JOIN contract USING (staff_id, month)
LEFT JOIN portfolio USING (month)
"""

#: The row order of each mart's trust table (`scoring.scored_sql` sorts by it; the queries
#: themselves leave rows unsorted).
ORDER = {
    "client_profitability": ("client_id", "month"),
    "license_utilization": ("client_id", "vendor NULLS FIRST", "product", "month"),
    "staff_utilization": ("staff_id", "month"),
}

QUERIES = {
    "client_profitability": CLIENT_PROFITABILITY_SQL,
    "license_utilization": LICENSE_UTILIZATION_SQL,
    "staff_utilization": STAFF_UTILIZATION_SQL,
}
