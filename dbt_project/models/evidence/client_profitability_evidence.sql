{#
    What the trust layer scores each client_profitability row by (docs/trust.md): the row
    itself, the input rows it rests on and how many of them carry a data-quality warning,
    license snapshot coverage, the client's trailing three months and the spread of its
    previous six, and the portfolio medians of the month.

    Input rows are the rows the mart aggregates, counted by the same rules: recognized
    invoice lines, client time that is not absence, license snapshots, and the expenses that
    count as other cost, each in the month and under the client (aliases resolved) the mart
    puts it. Everything but the portfolio medians belongs to the row's own client, and the
    medians feed explanations only: one client's data never changes another's confidence.
#}

with

client_profitability as (

    select * from {{ ref('client_profitability') }}

),

costed_time_entries as (

    select * from {{ ref('int_time_entries_costed') }}

),

recognized_invoice_lines as (

    select * from {{ ref('int_invoice_lines_recognized') }}

),

license_snapshots as (

    select * from {{ ref('int_license_snapshots_corrected') }}

),

expenses as (

    select * from {{ ref('int_expenses_screened') }}

),

row_warnings as (

    select * from {{ ref('stg_raw__row_warnings') }}

),

input_rows as (

    select client_id, work_month as month, source_upload_id, source_row_number
    from costed_time_entries
    where client_id is not null
        and not is_absence

    union all

    select client_id, invoice_month, source_upload_id, source_row_number
    from recognized_invoice_lines
    where client_id is not null

    union all

    select client_id, {{ month_start('snapshot_date') }}, source_upload_id, source_row_number
    from license_snapshots

    union all

    select client_id, {{ month_start('expense_date') }}, source_upload_id, source_row_number
    from expenses
    where client_id is not null
        and left_out_reason is null

),

input_rows_by_client_month as (

    select
        input_rows.client_id,
        input_rows.month,
        count(*) as input_rows,
        count(row_warnings.source_upload_id) as warned_rows
    from input_rows
    left join row_warnings
        on input_rows.source_upload_id = row_warnings.source_upload_id
        and input_rows.source_row_number = row_warnings.source_row_number
    group by
        input_rows.client_id,
        input_rows.month

),

license_products as (

    select distinct
        client_id,
        vendor,
        product,
        {{ month_start('snapshot_date') }} as month
    from license_snapshots

),

{# A product is expected in a month when the client has its snapshot that month, the month
   before or the month after: a hole in the series (or a missing latest export) shows. #}
license_products_expected as (

    select distinct
        license_products.client_id,
        license_products.vendor,
        license_products.product,
        cast({{ dbt.dateadd('month', 'shifts.shift', 'license_products.month') }} as date) as month
    from license_products
    cross join (values (-1), (0), (1)) as shifts (shift)

),

license_coverage as (

    select
        license_products_expected.client_id,
        license_products_expected.month,
        count(*) as products_expected,
        count(license_products.product) as products_covered
    from license_products_expected
    left join license_products
        on license_products_expected.client_id = license_products.client_id
        and license_products_expected.vendor is not distinct from license_products.vendor
        and license_products_expected.product = license_products.product
        and license_products_expected.month = license_products.month
    group by
        license_products_expected.client_id,
        license_products_expected.month

),

{# The client's trailing three months and previous six (macros/evidence_history.sql). #}
client_months_with_history as (

    select
        client_profitability.*,
        {{ trailing_averages(['revenue', 'labor_cost', 'license_cost', 'other_cost', 'total_cost', 'labor_hours']) }},
        {{ history_spreads(['revenue', 'total_cost', 'labor_hours']) }}
    from client_profitability
    {{ history_windows(['client_id']) }}

),

portfolio_months as (

    select
        month,
        count(*) as portfolio_clients,
        {{ median('gross_margin') }} as median_gross_margin,
        {{ median('cast(labor_cost as double precision) / cast(revenue as double precision)') }}
            as median_labor_share,
        {{ median('cast(license_cost as double precision) / cast(revenue as double precision)') }}
            as median_license_share,
        {{ median('cast(other_cost as double precision) / cast(revenue as double precision)') }}
            as median_other_share,
        {{ median('effective_hourly_rate') }} as median_effective_hourly_rate
    from client_profitability
    where revenue > 0
    group by month

),

final as (

    select
        client_months_with_history.*,
        coalesce(input_rows_by_client_month.input_rows, 0) as input_rows,
        coalesce(input_rows_by_client_month.warned_rows, 0) as warned_rows,
        coalesce(license_coverage.products_expected, 0) as products_expected,
        coalesce(license_coverage.products_covered, 0) as products_covered,
        portfolio_months.portfolio_clients,
        portfolio_months.median_gross_margin,
        portfolio_months.median_labor_share,
        portfolio_months.median_license_share,
        portfolio_months.median_other_share,
        portfolio_months.median_effective_hourly_rate
    from client_months_with_history
    left join input_rows_by_client_month
        on client_months_with_history.client_id = input_rows_by_client_month.client_id
        and client_months_with_history.month = input_rows_by_client_month.month
    left join license_coverage
        on client_months_with_history.client_id = license_coverage.client_id
        and client_months_with_history.month = license_coverage.month
    left join portfolio_months
        on client_months_with_history.month = portfolio_months.month

)

select * from final
