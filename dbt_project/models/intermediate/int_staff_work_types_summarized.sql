{#
    Work per staff member, month and work type: the hours behind staff_utilization's
    logged_hours (absence left out), which a staff hours anomaly names as its drivers
    ("internal 108 h, usually 12 h", moatmetrics.insights.anomalies).
    Incremental by month: a build replaces the months whose time entries changed and
    the months corrections move entries into (macros/time_entry_months.sql).
#}

-- depends_on: {{ ref('stg_raw__row_overrides') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_time_entry_work_months() }}",
) }}

with

time_entries as (

    select * from {{ ref('int_time_entries_corrected') }}
    {{ time_entry_work_months_filter(month_start('work_date')) }}

),

staff_work as (

    select
        staff_id,
        {{ month_start('work_date') }} as month,
        work_type,
        hours
    from time_entries
    where not is_absence

),

staff_work_types_summarized as (

    select
        staff_id,
        month,
        work_type,
        cast(sum(hours) as numeric(18, 2)) as hours
    from staff_work
    group by
        staff_id,
        month,
        work_type

)

select * from staff_work_types_summarized
