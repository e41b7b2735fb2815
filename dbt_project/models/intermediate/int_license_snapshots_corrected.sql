{#
    License snapshots with the analysts' corrections applied (docs/trust.md#corrections): an
    excluded snapshot is gone, a set seat count or price has its new value. A snapshot is
    named by client_id, vendor (empty = NULL), product and month of snapshot_date, the raw
    layer's key. Reads the canonical and the assembled snapshots (int_license_snapshots_unioned). is_overridden marks snapshots with any active correction. Every model
    downstream reads license snapshots from here, never from staging.
#}

with

license_snapshots as (

    select * from {{ ref('int_license_snapshots_unioned') }}

),

row_overrides as (

    {{ row_overrides_pivoted(
        'licenses', ['client_id', 'vendor', 'product', 'month'],
        ['seats_purchased', 'seats_assigned', 'seats_active', 'seats_billed', 'unit_cost',
         'unit_price']
    ) }}

),

license_snapshots_corrected as (

    select
        license_snapshots.client_id,
        license_snapshots.sku,
        license_snapshots.vendor,
        license_snapshots.product,
        {{ overridden('seats_purchased', dbt.type_bigint(), 'license_snapshots.seats_purchased') }}
            as seats_purchased,
        {{ overridden('seats_assigned', dbt.type_bigint(), 'license_snapshots.seats_assigned') }}
            as seats_assigned,
        {{ overridden('seats_active', dbt.type_bigint(), 'license_snapshots.seats_active') }}
            as seats_active,
        {{ overridden('seats_billed', dbt.type_bigint(), 'license_snapshots.seats_billed') }}
            as seats_billed,
        {{ overridden('unit_cost', 'numeric(18, 4)', 'license_snapshots.unit_cost') }}
            as unit_cost,
        {{ overridden('unit_price', 'numeric(18, 4)', 'license_snapshots.unit_price') }}
            as unit_price,
        license_snapshots.snapshot_date,
        license_snapshots.term_end_date,
        license_snapshots.license_source,
        license_snapshots.missing_facts,
        row_overrides.product is not null as is_overridden,
        license_snapshots.source_upload_id,
        license_snapshots.source_row_number

    from license_snapshots
    left join row_overrides
        on license_snapshots.client_id = row_overrides.client_id
        and coalesce(license_snapshots.vendor, '') = coalesce(row_overrides.vendor, '')
        and license_snapshots.product = row_overrides.product
        and {{ month_start('license_snapshots.snapshot_date') }} = row_overrides.month
    where {{ not_excluded() }}

)

select * from license_snapshots_corrected
