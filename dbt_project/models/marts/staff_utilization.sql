with

staff_months as (

    select * from {{ ref('int_staff_months_expanded') }}

),

costed_time_entries as (

    select * from {{ ref('int_time_entries_costed') }}

),

row_overrides_located as (

    select * from {{ ref('int_row_overrides_located') }}

),

{# Input rows behind the month that an analyst corrected (docs/trust.md#corrections). #}
overridden_rows_by_staff_month as (

    {{ overridden_rows_by_month('staff_months', 'staff_id') }}

),

hours_by_staff_month as (

    select
        staff_id,
        work_month as month,
        sum(case when not is_absence then hours else 0 end) as logged_hours,
        sum(case when not is_absence and is_billable then hours else 0 end) as billable_hours,
        -- client work given away, held clients included (internal time is never charged)
        sum(
            case
                when not is_absence and is_no_charge and (client_id is not null or is_held)
                    then hours
                else 0
            end
        ) as no_charge_hours,
        sum(case when is_absence then hours else 0 end) as absence_hours
    from costed_time_entries
    group by
        staff_id,
        work_month

),

{# Hours are rounded to 2 places first; ratios, overtime and the capacity gap derive from
   the rounded hours, so the published columns are consistent with each other. #}
staff_months_measured as (

    select
        staff_months.staff_id,
        staff_months.staff_name,
        staff_months.month,
        staff_months.billable_target,
        -- NULL when the contract is unknown (staff not in the staff file); never below 0
        case
            when staff_months.contracted_hours is not null
                then round(
                    greatest(
                        staff_months.contracted_hours
                            - coalesce(hours_by_staff_month.absence_hours, 0),
                        0
                    ),
                    2
                )
        end as available_hours,
        round(coalesce(hours_by_staff_month.logged_hours, 0), 2) as logged_hours,
        round(coalesce(hours_by_staff_month.billable_hours, 0), 2) as billable_hours,
        round(coalesce(hours_by_staff_month.no_charge_hours, 0), 2) as no_charge_hours,
        coalesce(overridden_rows_by_staff_month.overridden_rows, 0) as overridden_rows

    from staff_months
    left join hours_by_staff_month
        on staff_months.staff_id = hours_by_staff_month.staff_id
        and staff_months.month = hours_by_staff_month.month
    left join overridden_rows_by_staff_month
        on staff_months.staff_id = overridden_rows_by_staff_month.staff_id
        and staff_months.month = overridden_rows_by_staff_month.month

),

{# A ratio with an unknown or zero denominator is NULL. #}
staff_months_rated as (

    select
        *,
        case
            when available_hours > 0
                then {{ divide_and_round('billable_hours', 'available_hours', 4) }}
        end as utilization,
        case
            when available_hours > 0
                then {{ divide_and_round('logged_hours', 'available_hours', 4) }}
        end as logged_ratio,
        case
            when available_hours is not null then greatest(logged_hours - available_hours, 0)
        end as overtime_hours,
        round(available_hours * billable_target - billable_hours, 2) as capacity_gap_hours
    from staff_months_measured

),

{# Bands read the published (4-place) ratios. #}
staff_months_banded as (

    select
        *,
        case
            when logged_ratio is null or utilization is null then null
            when logged_ratio > 1.1 then 'overloaded'
            when billable_target is null then null
            when utilization < billable_target - 0.15 then 'under'
            when utilization >= billable_target - 0.05 then 'on_target'
            else 'near'
        end as band
    from staff_months_rated

),

final as (

    select
        cast(staff_id as varchar) as staff_id,
        cast(staff_name as varchar) as staff_name,
        cast(month as date) as month,
        cast(available_hours as numeric(18, 2)) as available_hours,
        cast(logged_hours as numeric(18, 2)) as logged_hours,
        cast(billable_hours as numeric(18, 2)) as billable_hours,
        cast(no_charge_hours as numeric(18, 2)) as no_charge_hours,
        cast(utilization as numeric(18, 4)) as utilization,
        cast(logged_ratio as numeric(18, 4)) as logged_ratio,
        cast(overtime_hours as numeric(18, 2)) as overtime_hours,
        cast(capacity_gap_hours as numeric(18, 2)) as capacity_gap_hours,
        cast(band as varchar) as band,
        cast(overridden_rows as bigint) as overridden_rows

    from staff_months_banded

)

select * from final
