{#
    Time entries with their month and labor cost: hours x the staff member's hourly_cost.
    Hours of a staff member missing from the staff file, or with no hourly_cost, have an
    unknown cost: they add 0 to labor_cost and count in cost_unknown_hours.
    Incremental, partitioned as int_time_entries_corrected (macros/time_entry_months.sql).
#}

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_time_entry_months() }}",
) }}

with

time_entries as (

    select * from {{ ref('int_time_entries_corrected') }}
    {{ time_entry_months_filter('file_work_month') }}

),

staff as (

    select * from {{ ref('int_staff_members_corrected') }}

),

time_entries_costed as (

    select
        time_entries.entry_id,
        time_entries.staff_id,
        time_entries.client_id,
        time_entries.work_date,
        {{ month_start('time_entries.work_date') }} as work_month,
        time_entries.file_work_month,
        time_entries.work_type,
        time_entries.is_absence,
        time_entries.is_billable,
        time_entries.is_no_charge,
        time_entries.is_held,
        time_entries.hours,
        staff.hourly_cost,
        staff.hourly_cost is not null as is_cost_known,
        cast(
            case
                when staff.hourly_cost is not null then time_entries.hours * staff.hourly_cost
                else 0
            end
            as numeric(38, 8)
        ) as labor_cost,
        cast(
            case when staff.hourly_cost is null then time_entries.hours else 0 end
            as numeric(18, 4)
        ) as cost_unknown_hours,
        time_entries.source_upload_id,
        time_entries.source_row_number

    from time_entries
    left join staff
        on time_entries.staff_id = staff.staff_id

)

select * from time_entries_costed
