{#
    What the trust layer scores each staff_utilization row by (docs/trust.md): the row
    itself, the time entries it rests on (absence excluded, by the project's absence work
    types, as the mart counts it) and how many carry a data-quality warning, the days with
    logged work and with absence, the staff member's contract for the month, their trailing
    three months and the spread of their previous six, and the team's median utilization.
#}

with

staff_utilization as (

    select * from {{ ref('staff_utilization') }}

),

staff_months as (

    select * from {{ ref('int_staff_months_expanded') }}

),

costed_time_entries as (

    select * from {{ ref('int_time_entries_costed') }}

),

row_warnings as (

    select * from {{ ref('stg_raw__row_warnings') }}

),

time_entries_warned as (

    select
        costed_time_entries.staff_id,
        costed_time_entries.work_month as month,
        costed_time_entries.work_date,
        costed_time_entries.is_absence,
        row_warnings.source_upload_id is not null as is_warned
    from costed_time_entries
    left join row_warnings
        on costed_time_entries.source_upload_id = row_warnings.source_upload_id
        and costed_time_entries.source_row_number = row_warnings.source_row_number
    where costed_time_entries.staff_id is not null

),

time_entries_by_staff_month as (

    select
        staff_id,
        month,
        count(*) filter (where not is_absence) as input_rows,
        count(*) filter (where not is_absence and is_warned) as warned_rows,
        count(distinct work_date) filter (where not is_absence) as logged_days,
        count(distinct work_date) filter (where is_absence) as absence_days
    from time_entries_warned
    group by
        staff_id,
        month

),

{# The staff member's trailing three months and previous six (macros/evidence_history.sql). #}
staff_months_with_history as (

    select
        staff_utilization.*,
        {{ trailing_averages(['logged_hours', 'billable_hours', 'available_hours']) }},
        {{ history_spreads(['logged_ratio', 'utilization', 'logged_hours', 'billable_hours']) }}
    from staff_utilization
    {{ history_windows(['staff_id']) }}

),

team_months as (

    select
        month,
        count(*) as portfolio_staff,
        {{ median('utilization') }} as median_utilization
    from staff_utilization
    where utilization is not null
    group by month

),

final as (

    select
        staff_months_with_history.*,
        coalesce(time_entries_by_staff_month.input_rows, 0) as input_rows,
        coalesce(time_entries_by_staff_month.warned_rows, 0) as warned_rows,
        coalesce(time_entries_by_staff_month.logged_days, 0) as logged_days,
        coalesce(time_entries_by_staff_month.absence_days, 0) as absence_days,
        staff_months.employed_weekdays,
        staff_months.billable_target,
        team_months.portfolio_staff,
        team_months.median_utilization
    from staff_months_with_history
    left join time_entries_by_staff_month
        on staff_months_with_history.staff_id = time_entries_by_staff_month.staff_id
        and staff_months_with_history.month = time_entries_by_staff_month.month
    left join staff_months
        on staff_months_with_history.staff_id = staff_months.staff_id
        and staff_months_with_history.month = staff_months.month
    left join team_months
        on staff_months_with_history.month = team_months.month

)

select * from final
