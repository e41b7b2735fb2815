{#
    Time entries with the analysts' corrections applied (docs/trust.md#corrections): an
    excluded entry is gone, a set column has its new value, and the flags that derive from
    corrected columns (billable, no-charge, absence) are derived again, the same way
    stg_raw__time_entries derives them from the file. A corrected client_id counts as given
    (not held). is_overridden marks entries with any active correction. Every model
    downstream reads time entries from here, never from staging.
    Incremental: a build replaces the months of file_work_month it is given
    (macros/time_entry_months.sql).
#}

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_time_entry_months() }}",
) }}

with

time_entries as (

    select * from {{ ref('stg_raw__time_entries') }}
    {{ time_entry_months_filter(month_start('work_date')) }}

),

row_overrides as (

    {{ row_overrides_pivoted(
        'time_entries', ['entry_id'],
        ['staff_id', 'client_id', 'work_date', 'hours', 'billable', 'work_type',
         'billing_option', 'bill_rate']
    ) }}

),

time_entries_overridden as (

    select
        time_entries.entry_id,
        {{ overridden('staff_id', dbt.type_string(), 'time_entries.staff_id') }} as staff_id,
        {{ overridden('client_id', dbt.type_string(), 'time_entries.client_id') }} as client_id,
        time_entries.client_source,
        time_entries.client_key,
        case
            when row_overrides.sets_client_id = 1 and row_overrides.client_id_value is null
                then 'none'
            when row_overrides.sets_client_id = 1 then 'given'
            else time_entries.client_resolution
        end as client_resolution,
        case
            when row_overrides.sets_client_id = 1 then false else time_entries.is_held
        end as is_held,
        time_entries.ticket_id,
        {{ overridden('work_type', dbt.type_string(), 'time_entries.work_type') }} as work_type,
        {{ overridden('billing_option', dbt.type_string(), 'time_entries.billing_option') }}
            as billing_option,
        {{ overridden('billable', dbt.type_boolean(), 'time_entries.is_billable_in_file') }}
            as is_billable_in_file,
        {{ overridden('hours', 'numeric(18, 4)', 'time_entries.hours') }} as hours,
        {{ overridden('bill_rate', 'numeric(18, 4)', 'time_entries.bill_rate') }} as bill_rate,
        {{ overridden('work_date', 'date', 'time_entries.work_date') }} as work_date,
        {{ month_start('time_entries.work_date') }} as file_work_month,
        row_overrides.entry_id is not null as is_overridden,
        time_entries.source_upload_id,
        time_entries.source_row_number

    from time_entries
    left join row_overrides
        on time_entries.entry_id = row_overrides.entry_id
    where {{ not_excluded() }}

),

time_entries_corrected as (

    select
        entry_id,
        staff_id,
        client_id,
        client_source,
        client_key,
        client_resolution,
        is_held,
        ticket_id,
        work_type,
        billing_option,
        {{ absence_kind('work_type') }} as absence_kind,
        hours,
        bill_rate,
        case
            when billing_option in ('no_charge', 'do_not_bill') then false
            when billing_option = 'billable' then true
            else is_billable_in_file
        end as is_billable,
        coalesce(billing_option = 'no_charge', false) as is_no_charge,
        {{ absence_kind('work_type') }} is not null as is_absence,
        work_date,
        file_work_month,
        is_overridden,
        source_upload_id,
        source_row_number

    from time_entries_overridden

)

select * from time_entries_corrected
