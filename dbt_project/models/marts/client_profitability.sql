with

client_months as (

    select * from {{ ref('int_client_months_spined') }}

),

clients as (

    select * from {{ ref('int_clients_corrected') }}

),

recognized_invoice_lines as (

    select * from {{ ref('int_invoice_lines_recognized') }}

),

costed_time_entries as (

    select * from {{ ref('int_time_entries_costed') }}

),

license_snapshots as (

    select * from {{ ref('int_license_snapshots_corrected') }}

),

expenses as (

    select * from {{ ref('int_expenses_screened') }}

),

row_overrides_located as (

    select * from {{ ref('int_row_overrides_located') }}

),

revenue_by_client_month as (

    select
        client_id,
        invoice_month as month,
        sum(amount) as revenue,
        sum(case when is_recurring then amount else 0 end) as recurring_revenue
    from recognized_invoice_lines
    group by
        client_id,
        invoice_month

),

labor_by_client_month as (

    select
        client_id,
        work_month as month,
        sum(hours) as labor_hours,
        sum(case when is_billable then hours else 0 end) as billable_hours,
        sum(case when is_no_charge then hours else 0 end) as no_charge_hours,
        sum(labor_cost) as labor_cost,
        sum(cost_unknown_hours) as labor_cost_unknown_hours
    from costed_time_entries
    -- internal time (no client) is not client work; absence is not work
    where client_id is not null
        and not is_absence
    group by
        client_id,
        work_month

),

license_cost_by_client_month as (

    select
        client_id,
        {{ month_start('snapshot_date') }} as month,
        sum(seats_purchased * unit_cost) as license_cost
    from license_snapshots
    group by
        client_id,
        {{ month_start('snapshot_date') }}

),

other_cost_by_client_month as (

    select
        client_id,
        {{ month_start('expense_date') }} as month,
        sum(amount) as other_cost
    from expenses
    -- expenses without a client are overhead
    where client_id is not null
        -- license bills whose seats license facts carry (int_expenses_excluded)
        and left_out_reason is null
    group by
        client_id,
        {{ month_start('expense_date') }}

),

{# Input rows behind the month that an analyst corrected (docs/trust.md#corrections). #}
overridden_rows_by_client_month as (

    select
        client_months.client_id,
        client_months.month,
        count(distinct row_overrides_located.override_entity || ':' || row_overrides_located.row_key)
            as overridden_rows
    from client_months
    inner join row_overrides_located
        on row_overrides_located.client_id = client_months.client_id
        and (
            row_overrides_located.month = client_months.month
            or row_overrides_located.month is null
        )
    group by
        client_months.client_id,
        client_months.month

),

{# Every component is rounded to cents first; totals and ratios derive from the rounded
   components, so the published columns add up exactly. #}
client_months_measured as (

    select
        client_months.client_id,
        clients.client_name,
        client_months.month,
        round(coalesce(revenue_by_client_month.revenue, 0), 2) as revenue,
        round(coalesce(revenue_by_client_month.recurring_revenue, 0), 2) as recurring_revenue,
        round(coalesce(labor_by_client_month.labor_hours, 0), 2) as labor_hours,
        round(coalesce(labor_by_client_month.billable_hours, 0), 2) as billable_hours,
        round(coalesce(labor_by_client_month.no_charge_hours, 0), 2) as no_charge_hours,
        round(coalesce(labor_by_client_month.labor_cost, 0), 2) as labor_cost,
        round(coalesce(labor_by_client_month.labor_cost_unknown_hours, 0), 2)
            as labor_cost_unknown_hours,
        round(coalesce(license_cost_by_client_month.license_cost, 0), 2) as license_cost,
        round(coalesce(other_cost_by_client_month.other_cost, 0), 2) as other_cost,
        coalesce(overridden_rows_by_client_month.overridden_rows, 0) as overridden_rows

    from client_months
    left join clients
        on client_months.client_id = clients.client_id
    left join revenue_by_client_month
        on client_months.client_id = revenue_by_client_month.client_id
        and client_months.month = revenue_by_client_month.month
    left join labor_by_client_month
        on client_months.client_id = labor_by_client_month.client_id
        and client_months.month = labor_by_client_month.month
    left join license_cost_by_client_month
        on client_months.client_id = license_cost_by_client_month.client_id
        and client_months.month = license_cost_by_client_month.month
    left join other_cost_by_client_month
        on client_months.client_id = other_cost_by_client_month.client_id
        and client_months.month = other_cost_by_client_month.month
    left join overridden_rows_by_client_month
        on client_months.client_id = overridden_rows_by_client_month.client_id
        and client_months.month = overridden_rows_by_client_month.month

),

client_months_totaled as (

    select
        *,
        labor_cost + license_cost + other_cost as total_cost
    from client_months_measured

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
