with

source as (

    select * from {{ source('raw', 'time_entries') }}

),

renamed as (

    select

        ----------  ids
        cast(entry_id as {{ dbt.type_string() }}) as entry_id,
        cast(staff_id as {{ dbt.type_string() }}) as staff_id,
        cast(client_id as {{ dbt.type_string() }}) as client_id,
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,

        ---------- text
        cast(work_type as {{ dbt.type_string() }}) as work_type,

        ---------- numerics
        cast(hours as numeric(18, 4)) as hours,
        cast(bill_rate as numeric(18, 4)) as bill_rate,

        ---------- booleans
        cast(billable as {{ dbt.type_boolean() }}) as is_billable,
        -- Absence (paid time off, public holidays) is not work: it lowers available hours.
        coalesce(work_type in ('pto', 'holiday'), false) as is_absence,

        ---------- dates
        cast(work_date as date) as work_date,

        ---------- lineage
        cast(_upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(_row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source

)

select * from renamed
