{#
    A day calendar covering every month with any dated fact (invoice, time entry, license
    snapshot, expense): from the first day of the first such month to the last day of the
    last. It is the month spine of the client and staff marts and counts weekdays for
    available hours. Empty when there are no facts.
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

fact_dates as (

    select invoice_date as fact_date from invoice_lines
    union all
    select work_date as fact_date from time_entries
    union all
    select snapshot_date as fact_date from license_snapshots
    union all
    select expense_date as fact_date from expenses

),

calendar_bounds as (

    select
        {{ month_start('min(fact_date)') }} as first_calendar_day,
        {{ dbt.last_day('max(fact_date)', 'month') }} as last_calendar_day
    from fact_dates

),

days_generated as (

    select
        {{ generate_day_series('first_calendar_day', 'last_calendar_day') }} as day_at
    from calendar_bounds
    where first_calendar_day is not null

),

calendar_days as (

    select
        cast(day_at as date) as date_day,
        {{ month_start('cast(day_at as date)') }} as calendar_month,
        {{ iso_day_of_week('cast(day_at as date)') }} <= 5 as is_weekday
    from days_generated

)

select * from calendar_days
