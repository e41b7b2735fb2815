with

source as (

    select * from {{ source('raw', 'time_entries') }}

),

renamed as (

    select

        ----------  ids
        cast(entry_id as {{ dbt.type_string() }}) as entry_id,
        cast(staff_id as {{ dbt.type_string() }}) as staff_id,
        {{ client_identity_columns('source') }}
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,

        ---------- text
        cast(work_type as {{ dbt.type_string() }}) as work_type,
        -- the PSA's billing option (contract v2): billable / do_not_bill / no_charge
        cast(lower(trim(billing_option)) as {{ dbt.type_string() }}) as billing_option,
        {{ absence_kind('work_type') }} as absence_kind,

        ---------- numerics
        cast(hours as numeric(18, 4)) as hours,
        cast(bill_rate as numeric(18, 4)) as bill_rate,

        ---------- booleans
        -- the file's billable column as it is (a correction of billing_option re-derives
        -- is_billable from it, int_time_entries_corrected)
        cast(billable as {{ dbt.type_boolean() }}) as is_billable_in_file,
        -- Both non-billable billing options are not billable whatever `billable` says;
        -- without a billing option the file's billable column decides.
        case
            when lower(trim(billing_option)) in ('no_charge', 'do_not_bill') then false
            when lower(trim(billing_option)) = 'billable' then true
            else cast(billable as {{ dbt.type_boolean() }})
        end as is_billable,
        -- client work given away: done, not billed, and the client is told it is free
        coalesce(lower(trim(billing_option)) = 'no_charge', false) as is_no_charge,
        -- Absence (paid time off, public holidays; MOATMETRICS_ABSENCE_WORK_TYPES) is not
        -- work: it lowers available hours.
        {{ absence_kind('work_type') }} is not null as is_absence,

        ---------- dates
        cast(work_date as date) as work_date,

        ---------- lineage
        cast(_upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(_row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source
    {{ client_identity_join('source') }}

)

select * from renamed
