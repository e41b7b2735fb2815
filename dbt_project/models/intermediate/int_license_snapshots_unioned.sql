{#
    License snapshots from both inputs: the canonical `licenses` file (one complete fact per
    row) and the rows assembled from vendor facts (int_license_facts_assembled). Where both
    name the same client, vendor, product and month, the canonical row wins: the MSP wrote
    it as the whole truth of that month, and adding the vendor facts would count the seats
    twice. license_source says which input a row came from; missing_facts lists the facts
    (purchased, assigned, active, billed) a row lacks, comma-separated, '' when none (a
    canonical row can only lack billed: its other seats are required).
#}

with

canonical as (

    select * from {{ ref('stg_raw__licenses') }}

),

assembled as (

    select * from {{ ref('int_license_facts_assembled') }}

),

canonical_months as (

    select distinct
        client_id,
        vendor,
        lower(trim(product)) as product_key,
        {{ month_start('snapshot_date') }} as month
    from canonical

),

unioned as (

    select
        client_id,
        vendor,
        product,
        sku,
        snapshot_date,
        seats_purchased,
        seats_assigned,
        seats_active,
        seats_billed,
        unit_cost,
        unit_price,
        term_end_date,
        'licenses' as license_source,
        source_upload_id,
        source_row_number
    from canonical

    union all

    select
        assembled.client_id,
        assembled.vendor,
        assembled.product,
        assembled.sku,
        assembled.snapshot_date,
        assembled.seats_purchased,
        assembled.seats_assigned,
        assembled.seats_active,
        assembled.seats_billed,
        assembled.unit_cost,
        assembled.unit_price,
        assembled.term_end_date,
        'license_facts' as license_source,
        cast(null as {{ dbt.type_string() }}) as source_upload_id,
        cast(null as {{ dbt.type_bigint() }}) as source_row_number
    from assembled
    left join canonical_months
        on assembled.client_id = canonical_months.client_id
        and coalesce(assembled.vendor, '') = coalesce(canonical_months.vendor, '')
        and lower(trim(assembled.product)) = canonical_months.product_key
        and {{ month_start('assembled.snapshot_date') }} = canonical_months.month
    where canonical_months.client_id is null

)

select
    cast(client_id as {{ dbt.type_string() }}) as client_id,
    cast(vendor as {{ dbt.type_string() }}) as vendor,
    cast(product as {{ dbt.type_string() }}) as product,
    cast(sku as {{ dbt.type_string() }}) as sku,
    cast(snapshot_date as date) as snapshot_date,
    cast(seats_purchased as {{ dbt.type_bigint() }}) as seats_purchased,
    cast(seats_assigned as {{ dbt.type_bigint() }}) as seats_assigned,
    cast(seats_active as {{ dbt.type_bigint() }}) as seats_active,
    cast(seats_billed as {{ dbt.type_bigint() }}) as seats_billed,
    cast(unit_cost as numeric(18, 4)) as unit_cost,
    cast(unit_price as numeric(18, 4)) as unit_price,
    cast(term_end_date as date) as term_end_date,
    cast(license_source as {{ dbt.type_string() }}) as license_source,
    cast(
        rtrim({{ dbt.concat([
            "case when seats_purchased is null then 'purchased,' else '' end",
            "case when seats_assigned is null then 'assigned,' else '' end",
            "case when seats_active is null then 'active,' else '' end",
            "case when seats_billed is null then 'billed,' else '' end",
        ]) }}, ',') as {{ dbt.type_string() }}
    ) as missing_facts,
    cast(source_upload_id as {{ dbt.type_string() }}) as source_upload_id,
    cast(source_row_number as {{ dbt.type_bigint() }}) as source_row_number
from unioned
