-- The floor: the three marts of docs/metrics.md computed by one hand-written DuckDB script
-- over the pipeline's raw tables, with no dbt, no views, no tests and no orchestration.
-- It must give exactly the published marts (bench/floor.py checks that row for row), so the
-- pipeline/floor ratio compares the same work.
--
-- {raw} is replaced by the schema holding the raw tables (e.g. wh.raw for the attached
-- warehouse). Results land in schema `marts` of the current database.

CREATE SCHEMA IF NOT EXISTS marts;

-- numerator / denominator rounded half away from zero, exactly (integer arithmetic on the
-- 4-place operands), NULL for a zero or NULL denominator: dbt's duckdb__divide_and_round.
CREATE OR REPLACE TEMP MACRO div_round4(n, d) AS (CASE
    WHEN n IS NULL OR d IS NULL OR d = 0 THEN NULL
    ELSE (CASE WHEN (n < 0) <> (d < 0) THEN -1 ELSE 1 END)
        * CAST((2 * abs(CAST(CAST(n AS DECIMAL(38, 4)) * 10000 AS HUGEINT)) * 10000
                + abs(CAST(CAST(d AS DECIMAL(38, 4)) * 10000 AS HUGEINT)))
               // (2 * abs(CAST(CAST(d AS DECIMAL(38, 4)) * 10000 AS HUGEINT)))
               AS DECIMAL(38, 0)) * 0.0001
END);

CREATE OR REPLACE TEMP MACRO div_round2(n, d) AS (CASE
    WHEN n IS NULL OR d IS NULL OR d = 0 THEN NULL
    ELSE (CASE WHEN (n < 0) <> (d < 0) THEN -1 ELSE 1 END)
        * CAST((2 * abs(CAST(CAST(n AS DECIMAL(38, 4)) * 10000 AS HUGEINT)) * 100
                + abs(CAST(CAST(d AS DECIMAL(38, 4)) * 10000 AS HUGEINT)))
               // (2 * abs(CAST(CAST(d AS DECIMAL(38, 4)) * 10000 AS HUGEINT)))
               AS DECIMAL(38, 0)) * 0.01
END);

-- Time entries, read once: month, absence and labour cost per entry.
CREATE OR REPLACE TEMP TABLE te AS
SELECT
    t.staff_id,
    t.client_id,
    CAST(date_trunc('month', t.work_date) AS DATE) AS month,
    coalesce(t.work_type IN ('pto', 'holiday'), false) AS is_absence,
    t.billable AS is_billable,
    t.hours,
    CASE WHEN s.hourly_cost IS NOT NULL THEN t.hours * s.hourly_cost ELSE 0 END AS labor_cost,
    CASE WHEN s.hourly_cost IS NULL THEN t.hours ELSE 0 END AS cost_unknown_hours
FROM {raw}.time_entries AS t
LEFT JOIN {raw}.staff AS s USING (staff_id);

-- Calendar: every day from the first month to the last month with any dated fact.
CREATE OR REPLACE TEMP TABLE bounds AS
SELECT
    min(first_day) AS first_day,
    max(last_day) AS last_day
FROM (
    SELECT min(invoice_date) AS first_day, max(invoice_date) AS last_day FROM {raw}.invoices
    UNION ALL
    SELECT min(work_date), max(work_date) FROM {raw}.time_entries
    UNION ALL
    SELECT min(snapshot_date), max(snapshot_date) FROM {raw}.licenses
    UNION ALL
    SELECT min(expense_date), max(expense_date) FROM {raw}.expenses
);

CREATE OR REPLACE TEMP TABLE calendar AS
SELECT
    CAST(d AS DATE) AS day,
    CAST(date_trunc('month', d) AS DATE) AS month,
    isodow(d) <= 5 AS is_weekday
FROM bounds,
    unnest(generate_series(
        CAST(date_trunc('month', first_day) AS TIMESTAMP),
        CAST(last_day(last_day) AS TIMESTAMP),
        INTERVAL 1 DAY
    )) AS g(d)
WHERE first_day IS NOT NULL;

CREATE OR REPLACE TEMP TABLE months AS SELECT DISTINCT month FROM calendar;

-- ---------------------------------------------------------------- client_profitability
CREATE OR REPLACE TEMP TABLE labor_cm AS
SELECT
    client_id,
    month,
    sum(hours) FILTER (WHERE NOT is_absence) AS labor_hours,
    sum(hours) FILTER (WHERE NOT is_absence AND is_billable) AS billable_hours,
    sum(labor_cost) FILTER (WHERE NOT is_absence) AS labor_cost,
    sum(cost_unknown_hours) FILTER (WHERE NOT is_absence) AS unknown_hours,
    count(*) FILTER (WHERE NOT is_absence) AS work_entries
FROM te
WHERE client_id IS NOT NULL
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE revenue_cm AS
SELECT
    client_id,
    CAST(date_trunc('month', invoice_date) AS DATE) AS month,
    sum(amount) FILTER (WHERE status NOT IN ('draft', 'void')) AS revenue,
    sum(amount) FILTER (
        WHERE status NOT IN ('draft', 'void') AND category IN ('recurring', 'license')
    ) AS recurring_revenue
FROM {raw}.invoices
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE license_cm AS
SELECT
    client_id,
    CAST(date_trunc('month', snapshot_date) AS DATE) AS month,
    sum(seats_purchased * unit_cost) AS license_cost
FROM {raw}.licenses
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE expense_cm AS
SELECT
    client_id,
    CAST(date_trunc('month', expense_date) AS DATE) AS month,
    sum(amount) AS other_cost
FROM {raw}.expenses
WHERE client_id IS NOT NULL
GROUP BY ALL;

CREATE OR REPLACE TABLE marts.client_profitability AS
WITH activity AS (
    -- any invoice status and any work type (absence included) mark a month as active
    SELECT client_id, month FROM revenue_cm
    UNION ALL
    SELECT client_id, month FROM te WHERE client_id IS NOT NULL
    UNION ALL
    SELECT client_id, month FROM license_cm
    UNION ALL
    SELECT client_id, month FROM expense_cm
),
ranges AS (
    SELECT client_id, min(month) AS first_month, max(month) AS last_month
    FROM activity
    WHERE client_id IS NOT NULL
    GROUP BY client_id
),
measured AS (
    SELECT
        r.client_id,
        c.client_name,
        m.month,
        round(coalesce(rv.revenue, 0), 2) AS revenue,
        round(coalesce(rv.recurring_revenue, 0), 2) AS recurring_revenue,
        round(coalesce(l.labor_hours, 0), 2) AS labor_hours,
        round(coalesce(l.billable_hours, 0), 2) AS billable_hours,
        round(coalesce(l.labor_cost, 0), 2) AS labor_cost,
        round(coalesce(l.unknown_hours, 0), 2) AS labor_cost_unknown_hours,
        round(coalesce(lc.license_cost, 0), 2) AS license_cost,
        round(coalesce(e.other_cost, 0), 2) AS other_cost
    FROM ranges AS r
    JOIN months AS m ON m.month BETWEEN r.first_month AND r.last_month
    LEFT JOIN {raw}.clients AS c ON c.client_id = r.client_id
    LEFT JOIN revenue_cm AS rv ON rv.client_id = r.client_id AND rv.month = m.month
    LEFT JOIN labor_cm AS l ON l.client_id = r.client_id AND l.month = m.month
    LEFT JOIN license_cm AS lc ON lc.client_id = r.client_id AND lc.month = m.month
    LEFT JOIN expense_cm AS e ON e.client_id = r.client_id AND e.month = m.month
),
profit AS (
    SELECT
        *,
        labor_cost + license_cost + other_cost AS total_cost,
        revenue - (labor_cost + license_cost + other_cost) AS gross_profit
    FROM measured
)
SELECT
    CAST(client_id AS VARCHAR) AS client_id,
    CAST(client_name AS VARCHAR) AS client_name,
    CAST(month AS DATE) AS month,
    CAST(revenue AS DECIMAL(18, 2)) AS revenue,
    CAST(recurring_revenue AS DECIMAL(18, 2)) AS recurring_revenue,
    CAST(labor_hours AS DECIMAL(18, 2)) AS labor_hours,
    CAST(billable_hours AS DECIMAL(18, 2)) AS billable_hours,
    CAST(labor_cost AS DECIMAL(18, 2)) AS labor_cost,
    CAST(labor_cost_unknown_hours AS DECIMAL(18, 2)) AS labor_cost_unknown_hours,
    CAST(license_cost AS DECIMAL(18, 2)) AS license_cost,
    CAST(other_cost AS DECIMAL(18, 2)) AS other_cost,
    CAST(total_cost AS DECIMAL(18, 2)) AS total_cost,
    CAST(gross_profit AS DECIMAL(18, 2)) AS gross_profit,
    CAST(CASE WHEN revenue > 0 THEN div_round4(gross_profit, revenue) END AS DECIMAL(18, 4))
        AS gross_margin,
    CAST(div_round2(revenue - license_cost - other_cost, labor_hours) AS DECIMAL(18, 2))
        AS effective_hourly_rate
FROM profit;

-- ---------------------------------------------------------------- license_utilization
CREATE OR REPLACE TABLE marts.license_utilization AS
WITH counted AS (
    SELECT
        client_id,
        vendor,
        product,
        CAST(date_trunc('month', snapshot_date) AS DATE) AS month,
        seats_purchased,
        seats_assigned,
        seats_active,
        seats_billed,
        unit_cost,
        unit_price,
        term_end_date,
        greatest(seats_purchased - seats_active, 0) AS unused_seats,
        CASE WHEN seats_billed IS NOT NULL THEN greatest(seats_assigned - seats_billed, 0) END
            AS unbilled_seats,
        div_round4(seats_assigned, seats_purchased) AS assignment_rate,
        div_round4(seats_active, seats_purchased) AS utilization_rate
    FROM {raw}.licenses
)
SELECT
    CAST(client_id AS VARCHAR) AS client_id,
    CAST(vendor AS VARCHAR) AS vendor,
    CAST(product AS VARCHAR) AS product,
    month,
    CAST(seats_purchased AS BIGINT) AS seats_purchased,
    CAST(seats_assigned AS BIGINT) AS seats_assigned,
    CAST(seats_active AS BIGINT) AS seats_active,
    CAST(seats_billed AS BIGINT) AS seats_billed,
    CAST(round(unit_cost, 2) AS DECIMAL(18, 2)) AS unit_cost,
    CAST(round(unit_price, 2) AS DECIMAL(18, 2)) AS unit_price,
    CAST(assignment_rate AS DECIMAL(18, 4)) AS assignment_rate,
    CAST(utilization_rate AS DECIMAL(18, 4)) AS utilization_rate,
    CAST(unused_seats AS BIGINT) AS unused_seats,
    CAST(round(unused_seats * unit_cost, 2) AS DECIMAL(18, 2)) AS monthly_waste,
    CAST(unbilled_seats AS BIGINT) AS unbilled_seats,
    CAST(round(unbilled_seats * unit_price, 2) AS DECIMAL(18, 2)) AS monthly_leakage,
    CAST(CASE
        WHEN utilization_rate IS NULL THEN NULL
        WHEN utilization_rate >= 0.8 THEN 'optimal'
        WHEN utilization_rate >= 0.5 THEN 'moderate'
        WHEN utilization_rate >= 0.3 THEN 'under'
        ELSE 'critical'
    END AS VARCHAR) AS utilization_band,
    CAST(CASE
        WHEN seats_assigned > seats_purchased THEN 'true_up'
        WHEN unbilled_seats > 0 THEN 'bill_client'
        WHEN unused_seats >= 1 AND utilization_rate < 0.8 THEN 'reclaim'
        ELSE 'ok'
    END AS VARCHAR) AS recommendation,
    CAST(term_end_date AS DATE) AS term_end_date
FROM counted;

-- ---------------------------------------------------------------- staff_utilization
CREATE OR REPLACE TABLE marts.staff_utilization AS
WITH hours_sm AS (
    SELECT
        staff_id,
        month,
        sum(CASE WHEN NOT is_absence THEN hours ELSE 0 END) AS logged_hours,
        sum(CASE WHEN NOT is_absence AND is_billable THEN hours ELSE 0 END) AS billable_hours,
        sum(CASE WHEN is_absence THEN hours ELSE 0 END) AS absence_hours
    FROM te
    GROUP BY ALL
),
members AS (
    SELECT
        staff_id, coalesce(staff_name, staff_id) AS staff_name, true AS in_file,
        hourly_cost, weekly_hours, billable_target, start_date, end_date
    FROM {raw}.staff
    UNION ALL
    SELECT DISTINCT
        h.staff_id, h.staff_id, false, NULL, NULL, NULL, CAST(NULL AS DATE), CAST(NULL AS DATE)
    FROM hours_sm AS h
    ANTI JOIN {raw}.staff AS s ON s.staff_id = h.staff_id
    WHERE h.staff_id IS NOT NULL
),
te_range AS (SELECT min(month) AS first_month, max(month) AS last_month FROM hours_sm),
staff_months AS (
    SELECT m.staff_id, mo.month
    FROM members AS m, te_range AS r, months AS mo
    WHERE m.in_file
        AND mo.month >= greatest(
            r.first_month, coalesce(CAST(date_trunc('month', m.start_date) AS DATE), r.first_month))
        AND mo.month <= least(
            r.last_month, coalesce(CAST(date_trunc('month', m.end_date) AS DATE), r.last_month))
    UNION
    SELECT staff_id, month FROM hours_sm
),
weekdays AS (
    SELECT sm.staff_id, sm.month, count(c.day) AS employed_weekdays
    FROM staff_months AS sm
    JOIN members AS m USING (staff_id)
    LEFT JOIN calendar AS c
        ON c.month = sm.month
        AND c.is_weekday
        AND (m.start_date IS NULL OR c.day >= m.start_date)
        AND (m.end_date IS NULL OR c.day <= m.end_date)
    GROUP BY ALL
),
measured AS (
    SELECT
        m.staff_id,
        m.staff_name,
        w.month,
        m.billable_target,
        CASE WHEN m.in_file THEN round(greatest(
            CAST(w.employed_weekdays * m.weekly_hours * 0.2 AS DECIMAL(18, 6))
                - coalesce(h.absence_hours, 0),
            0), 2) END AS available_hours,
        round(coalesce(h.logged_hours, 0), 2) AS logged_hours,
        round(coalesce(h.billable_hours, 0), 2) AS billable_hours
    FROM weekdays AS w
    JOIN members AS m USING (staff_id)
    LEFT JOIN hours_sm AS h ON h.staff_id = w.staff_id AND h.month = w.month
),
rated AS (
    SELECT
        *,
        CASE WHEN available_hours > 0 THEN div_round4(billable_hours, available_hours) END
            AS utilization,
        CASE WHEN available_hours > 0 THEN div_round4(logged_hours, available_hours) END
            AS logged_ratio,
        CASE WHEN available_hours IS NOT NULL THEN greatest(logged_hours - available_hours, 0)
        END AS overtime_hours,
        round(available_hours * billable_target - billable_hours, 2) AS capacity_gap_hours
    FROM measured
)
SELECT
    CAST(staff_id AS VARCHAR) AS staff_id,
    CAST(staff_name AS VARCHAR) AS staff_name,
    CAST(month AS DATE) AS month,
    CAST(available_hours AS DECIMAL(18, 2)) AS available_hours,
    CAST(logged_hours AS DECIMAL(18, 2)) AS logged_hours,
    CAST(billable_hours AS DECIMAL(18, 2)) AS billable_hours,
    CAST(utilization AS DECIMAL(18, 4)) AS utilization,
    CAST(logged_ratio AS DECIMAL(18, 4)) AS logged_ratio,
    CAST(overtime_hours AS DECIMAL(18, 2)) AS overtime_hours,
    CAST(capacity_gap_hours AS DECIMAL(18, 2)) AS capacity_gap_hours,
    CAST(CASE
        WHEN logged_ratio IS NULL OR utilization IS NULL THEN NULL
        WHEN logged_ratio > 1.1 THEN 'overloaded'
        WHEN billable_target IS NULL THEN NULL
        WHEN utilization < billable_target - 0.15 THEN 'under'
        WHEN utilization >= billable_target - 0.05 THEN 'on_target'
        ELSE 'near'
    END AS VARCHAR) AS band
FROM rated;
