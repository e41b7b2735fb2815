{#
    One row per client and month, for every month from the client's first to last month
    with any invoice line (any status), time entry (any work type), license snapshot or
    expense. Client ids come from the facts, so a client missing from the clients file still
    gets its months; internal time and overhead expenses (no client) are not client activity.
#}

with

invoice_lines as (

    select * from {{ ref('int_invoice_lines_corrected') }}

),

time_entries as (

    select * from {{ ref('int_time_entries_corrected') }}

),

license_snapshots as (

    select * from {{ ref('int_license_snapshots_corrected') }}

),

expenses as (

    select * from {{ ref('int_expenses_corrected') }}

),

calendar_days as (

    select * from {{ ref('int_calendar_days_spined') }}

),

client_activity_months as (

    select client_id, {{ month_start('invoice_date') }} as activity_month
    from invoice_lines
    union all
    select client_id, {{ month_start('work_date') }} as activity_month
    from time_entries
    union all
    select client_id, {{ month_start('snapshot_date') }} as activity_month
    from license_snapshots
    union all
    select client_id, {{ month_start('expense_date') }} as activity_month
    from expenses

),

client_activity_ranges as (

    select
        client_id,
        min(activity_month) as first_month,
        max(activity_month) as last_month
    from client_activity_months
    where client_id is not null
    group by client_id

),

calendar_months as (

    select distinct calendar_month from calendar_days

),

client_months_spined as (

    select
        client_activity_ranges.client_id,
        calendar_months.calendar_month as month

    from client_activity_ranges
    inner join calendar_months
        on calendar_months.calendar_month >= client_activity_ranges.first_month
        and calendar_months.calendar_month <= client_activity_ranges.last_month

)

select * from client_months_spined
