{#
    Client work per client, month and work type: the hours and the tickets they were logged
    on. The detail an hours anomaly names as its drivers ("project 61 h over 3 tickets",
    moatmetrics.insights.anomalies). Same rows as client_profitability's labor_hours: client
    work only (internal time has no client), absence left out.
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

client_work as (

    select
        client_id,
        {{ month_start('work_date') }} as month,
        work_type,
        hours,
        ticket_id
    from time_entries
    where client_id is not null
        and not is_absence

),

client_work_types_summarized as (

    select
        client_id,
        month,
        work_type,
        cast(sum(hours) as numeric(18, 2)) as hours,
        count(distinct ticket_id) as tickets
    from client_work
    group by
        client_id,
        month,
        work_type

)

select * from client_work_types_summarized
