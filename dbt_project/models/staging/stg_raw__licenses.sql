with

source as (

    select * from {{ source('raw', 'licenses') }}

),

renamed as (

    select

        ----------  ids
        cast(client_id as {{ dbt.type_string() }}) as client_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- text
        cast(vendor as {{ dbt.type_string() }}) as vendor,
        cast(product as {{ dbt.type_string() }}) as product,

        ---------- numerics
        cast(seats_purchased as {{ dbt.type_bigint() }}) as seats_purchased,
        cast(seats_assigned as {{ dbt.type_bigint() }}) as seats_assigned,
        cast(seats_active as {{ dbt.type_bigint() }}) as seats_active,
        cast(seats_billed as {{ dbt.type_bigint() }}) as seats_billed,
        cast(unit_cost as numeric(18, 4)) as unit_cost,
        cast(unit_price as numeric(18, 4)) as unit_price,

        ---------- dates
        cast(snapshot_date as date) as snapshot_date,
        cast(term_end_date as date) as term_end_date,

        ---------- lineage
        cast(_upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(_row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source

)

select * from renamed
