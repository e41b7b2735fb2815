{#
    One row per staff member and month, with the weekdays worked under contract and the
    contracted hours of that month.

    Months: for a member of the staff file, every month from the later of (the first month
    of any time entry in the warehouse, the month of start_date) to the earlier of (the last
    month of any time entry, the month of end_date), a NULL date being open; plus, for
    everyone, every month in which the person has time entries (absence included).

    employed_weekdays counts Monday-Friday days of the month inside [start_date, end_date];
    contracted_hours = employed_weekdays x weekly_hours / 5. Both are NULL for staff not in
    the staff file (their contract is unknown).
#}

with

staff_members as (

    select * from {{ ref('int_staff_members_unioned') }}

),

time_entries as (

    select * from {{ ref('int_time_entries_costed') }}

),

calendar_days as (

    select * from {{ ref('int_calendar_days_spined') }}

),

calendar_months as (

    select distinct calendar_month from calendar_days

),

time_entry_month_range as (

    select
        min(work_month) as first_month,
        max(work_month) as last_month
    from time_entries

),

employment_months as (

    select
        staff_members.staff_id,
        calendar_months.calendar_month as month

    from staff_members
    cross join time_entry_month_range
    inner join calendar_months
        on calendar_months.calendar_month >= greatest(
            time_entry_month_range.first_month,
            coalesce({{ month_start('staff_members.start_date') }}, time_entry_month_range.first_month)
        )
        and calendar_months.calendar_month <= least(
            time_entry_month_range.last_month,
            coalesce({{ month_start('staff_members.end_date') }}, time_entry_month_range.last_month)
        )
    where staff_members.is_in_staff_file

),

time_entry_months as (

    select distinct
        staff_id,
        work_month as month
    from time_entries

),

staff_months as (

    select staff_id, month from employment_months
    union
    select staff_id, month from time_entry_months

),

employed_weekdays_by_staff_month as (

    select
        staff_months.staff_id,
        staff_months.month,
        count(calendar_days.date_day) as employed_weekdays

    from staff_months
    inner join staff_members
        on staff_months.staff_id = staff_members.staff_id
    left join calendar_days
        on calendar_days.calendar_month = staff_months.month
        and calendar_days.is_weekday
        and (staff_members.start_date is null or calendar_days.date_day >= staff_members.start_date)
        and (staff_members.end_date is null or calendar_days.date_day <= staff_members.end_date)
    group by
        staff_months.staff_id,
        staff_months.month

),

staff_months_expanded as (

    select
        staff_members.staff_id,
        staff_members.staff_name,
        employed_weekdays_by_staff_month.month,
        staff_members.is_in_staff_file,
        staff_members.hourly_cost,
        staff_members.weekly_hours,
        staff_members.billable_target,
        case
            when staff_members.is_in_staff_file
                then cast(employed_weekdays_by_staff_month.employed_weekdays as {{ dbt.type_bigint() }})
        end as employed_weekdays,
        -- x 0.2 rather than / 5: exact decimal arithmetic on every database
        cast(
            case
                when staff_members.is_in_staff_file
                    then employed_weekdays_by_staff_month.employed_weekdays
                        * staff_members.weekly_hours * 0.2
            end
            as numeric(18, 6)
        ) as contracted_hours

    from employed_weekdays_by_staff_month
    inner join staff_members
        on employed_weekdays_by_staff_month.staff_id = staff_members.staff_id

)

select * from staff_months_expanded
