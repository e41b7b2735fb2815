{#
    Everyone who is staff: the staff file, plus staff ids that appear only in time entries
    (MoatMetrics 1.x exports have no staff file and name staff in time entries). The latter
    have no known cost, contract hours, target or employment dates. staff_name falls back
    to the staff id.
#}

with

staff as (

    select * from {{ ref('int_staff_members_corrected') }}

),

time_entries as (

    select * from {{ ref('int_time_entries_corrected') }}

),

staff_known_only_from_time_entries as (

    select distinct time_entries.staff_id
    from time_entries
    left join staff
        on time_entries.staff_id = staff.staff_id
    where staff.staff_id is null
        and time_entries.staff_id is not null

),

staff_members_unioned as (

    select
        staff_id,
        coalesce(staff_name, staff_id) as staff_name,
        true as is_in_staff_file,
        hourly_cost,
        weekly_hours,
        billable_target,
        start_date,
        end_date
    from staff

    union all

    select
        staff_id,
        staff_id as staff_name,
        false as is_in_staff_file,
        cast(null as numeric(18, 4)) as hourly_cost,
        cast(null as numeric(18, 4)) as weekly_hours,
        cast(null as numeric(18, 4)) as billable_target,
        cast(null as date) as start_date,
        cast(null as date) as end_date
    from staff_known_only_from_time_entries

)

select * from staff_members_unioned
