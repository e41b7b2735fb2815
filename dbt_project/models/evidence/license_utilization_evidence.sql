{#
    What the trust layer scores each license_utilization row by (docs/trust.md): the row
    itself, the snapshot rows it rests on (canonical rows and rows assembled from vendor
    facts, as the mart reads them) and how many carry a data-quality warning, how many
    months of snapshots the product has, its trailing three months and the spread of its
    previous six, and the portfolio median utilization of the product that month.
#}

with

license_utilization as (

    select * from {{ ref('license_utilization') }}

),

license_snapshots as (

    select * from {{ ref('int_license_snapshots_corrected') }}

),

row_warnings as (

    select * from {{ ref('stg_raw__row_warnings') }}

),

snapshot_rows_by_product_month as (

    select
        license_snapshots.client_id,
        license_snapshots.vendor,
        license_snapshots.product,
        {{ month_start('license_snapshots.snapshot_date') }} as month,
        count(*) as input_rows,
        count(row_warnings.source_upload_id) as warned_rows
    from license_snapshots
    left join row_warnings
        on license_snapshots.source_upload_id = row_warnings.source_upload_id
        and license_snapshots.source_row_number = row_warnings.source_row_number
    group by
        license_snapshots.client_id,
        license_snapshots.vendor,
        license_snapshots.product,
        {{ month_start('license_snapshots.snapshot_date') }}

),

{# The product's months so far, its trailing three months and previous six
   (macros/evidence_history.sql). #}
license_months_with_history as (

    select
        license_utilization.*,
        count(*) over (
            partition by client_id, vendor, product order by month rows unbounded preceding
        ) as snapshot_months,
        min(month) over (partition by client_id, vendor, product) as first_month,
        {{ trailing_averages(['seats_purchased', 'seats_active']) }},
        {{ history_spreads(['seats_purchased', 'seats_active']) }}
    from license_utilization
    {{ history_windows(['client_id', 'vendor', 'product']) }}

),

portfolio_product_months as (

    select
        vendor,
        product,
        month,
        count(*) as portfolio_clients,
        {{ median('utilization_rate') }} as median_utilization_rate
    from license_utilization
    where utilization_rate is not null
    group by
        vendor,
        product,
        month

),

final as (

    select
        license_months_with_history.*,
        -- months of the trailing window since the product's first snapshot: those should exist
        cast(
            least(3, {{ dbt.datediff('license_months_with_history.first_month', 'license_months_with_history.month', 'month') }})
            as {{ dbt.type_bigint() }}
        ) as expected_history_months,
        coalesce(snapshot_rows_by_product_month.input_rows, 0) as input_rows,
        coalesce(snapshot_rows_by_product_month.warned_rows, 0) as warned_rows,
        portfolio_product_months.portfolio_clients,
        portfolio_product_months.median_utilization_rate
    from license_months_with_history
    left join snapshot_rows_by_product_month
        on license_months_with_history.client_id = snapshot_rows_by_product_month.client_id
        and license_months_with_history.vendor is not distinct from snapshot_rows_by_product_month.vendor
        and license_months_with_history.product = snapshot_rows_by_product_month.product
        and license_months_with_history.month = snapshot_rows_by_product_month.month
    left join portfolio_product_months
        on license_months_with_history.vendor is not distinct from portfolio_product_months.vendor
        and license_months_with_history.product = portfolio_product_months.product
        and license_months_with_history.month = portfolio_product_months.month

)

select * from final
