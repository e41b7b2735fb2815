with

client_months_measured as (

    select * from {{ ref('int_client_months_measured') }}

),

{# Every component is rounded to cents first; totals and ratios derive from the rounded
   components, so the published columns add up exactly. #}
client_months_rounded as (

    select
        client_id,
        client_name,
        month,
        round(revenue, 2) as revenue,
        round(recurring_revenue, 2) as recurring_revenue,
        round(labor_hours, 2) as labor_hours,
        round(billable_hours, 2) as billable_hours,
        round(no_charge_hours, 2) as no_charge_hours,
        round(labor_cost, 2) as labor_cost,
        round(labor_cost_unknown_hours, 2) as labor_cost_unknown_hours,
        round(license_cost, 2) as license_cost,
        round(other_cost, 2) as other_cost,
        overridden_rows
    from client_months_measured

),

client_months_totaled as (

    select
        *,
        labor_cost + license_cost + other_cost as total_cost
    from client_months_rounded

),

client_months_profit as (

    select
        *,
        revenue - total_cost as gross_profit
    from client_months_totaled

),

final as (

    select
        cast(client_id as varchar) as client_id,
        cast(client_name as varchar) as client_name,
        cast(month as date) as month,
        cast(revenue as numeric(18, 2)) as revenue,
        cast(recurring_revenue as numeric(18, 2)) as recurring_revenue,
        cast(labor_hours as numeric(18, 2)) as labor_hours,
        cast(billable_hours as numeric(18, 2)) as billable_hours,
        cast(no_charge_hours as numeric(18, 2)) as no_charge_hours,
        cast(labor_cost as numeric(18, 2)) as labor_cost,
        cast(labor_cost_unknown_hours as numeric(18, 2)) as labor_cost_unknown_hours,
        cast(license_cost as numeric(18, 2)) as license_cost,
        cast(other_cost as numeric(18, 2)) as other_cost,
        cast(total_cost as numeric(18, 2)) as total_cost,
        cast(gross_profit as numeric(18, 2)) as gross_profit,
        cast(
            case
                when revenue > 0 then {{ divide_and_round('gross_profit', 'revenue', 4) }}
            end
            as numeric(18, 4)
        ) as gross_margin,
        cast(
            {{ divide_and_round('revenue - license_cost - other_cost', 'labor_hours', 2) }}
            as numeric(18, 2)
        ) as effective_hourly_rate,
        cast(overridden_rows as bigint) as overridden_rows

    from client_months_profit

)

select * from final
