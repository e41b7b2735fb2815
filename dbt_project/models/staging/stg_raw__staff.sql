with

source as (

    select * from {{ source('raw', 'staff') }}

),

renamed as (

    select

        ----------  ids
        cast(staff_id as {{ dbt.type_string() }}) as staff_id,

        ---------- text
        cast(staff_name as {{ dbt.type_string() }}) as staff_name,
        cast(role as {{ dbt.type_string() }}) as staff_role,

        ---------- numerics
        cast(hourly_cost as numeric(18, 4)) as hourly_cost,
        cast(weekly_hours as numeric(18, 4)) as weekly_hours,
        cast(billable_target as numeric(18, 4)) as billable_target,

        ---------- dates
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,

        ---------- lineage
        cast(_upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(_row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source

)

select * from renamed
