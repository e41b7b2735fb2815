{#
    The staff file with the analysts' corrections of its attributes applied
    (docs/trust.md#corrections): a set column (an hourly cost, contracted hours, dates) has
    its new value. A staff member is never excluded. is_overridden marks members with any
    active correction. Every model downstream reads the staff file from here, never from
    staging.
#}

with

staff as (

    select * from {{ ref('stg_raw__staff') }}

),

row_overrides as (

    {{ row_overrides_pivoted(
        'staff', ['staff_id'],
        ['staff_name', 'role', 'hourly_cost', 'weekly_hours', 'billable_target', 'start_date',
         'end_date']
    ) }}

),

staff_corrected as (

    select
        staff.staff_id,
        {{ overridden('staff_name', dbt.type_string(), 'staff.staff_name') }} as staff_name,
        {{ overridden('role', dbt.type_string(), 'staff.staff_role') }} as staff_role,
        {{ overridden('hourly_cost', 'numeric(18, 4)', 'staff.hourly_cost') }} as hourly_cost,
        {{ overridden('weekly_hours', 'numeric(18, 4)', 'staff.weekly_hours') }} as weekly_hours,
        {{ overridden('billable_target', 'numeric(18, 4)', 'staff.billable_target') }}
            as billable_target,
        {{ overridden('start_date', 'date', 'staff.start_date') }} as start_date,
        {{ overridden('end_date', 'date', 'staff.end_date') }} as end_date,
        row_overrides.staff_id is not null as is_overridden,
        staff.source_upload_id,
        staff.source_row_number

    from staff
    left join row_overrides
        on staff.staff_id = row_overrides.staff_id

)

select * from staff_corrected
