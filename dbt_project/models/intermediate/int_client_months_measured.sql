{#
    What each client did and cost in each month of its spine, as unrounded sums: the one
    place the client-month measures are defined. client_profitability rounds them to cents
    and derives its totals and ratios; int_client_months_featured turns them into the churn
    model's windows and trends.

    Revenue counts every recognized line (credits included); labour is client work only
    (internal time has no client; absence is not work); reactive hours are the work types
    of the project variable `reactive_work_types` (default remote_support, onsite); license
    cost is seats purchased x unit cost of the month's snapshots; other cost is the client's
    expenses (overhead has no client; license bills whose seats license facts carry are left
    out, int_expenses_excluded). overridden_rows counts the input rows behind the month an
    analyst corrected (docs/trust.md#corrections). The types are the sums' own scales
    (hours, money, seats x unit cost: 4 places; labour cost: 8), declared so DuckDB and
    PostgreSQL agree on them.
#}

{%- set reactive_work_types = var('reactive_work_types', ['remote_support', 'onsite']) %}

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
        sum(case when is_recurring then amount else 0 end) as recurring_revenue,
        count(distinct invoice_id) as invoices,
        count(distinct case when invoice_status = 'overdue' then invoice_id end)
            as overdue_invoices
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
        sum(
            case
                when work_type in (
                    {%- for work_type in reactive_work_types %}
                    '{{ work_type }}'{{ "," if not loop.last }}
                    {%- endfor %}
                ) then hours
                else 0
            end
        ) as reactive_hours,
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

licenses_by_client_month as (

    select
        client_id,
        {{ month_start('snapshot_date') }} as month,
        sum(seats_purchased) as license_seats,
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

overridden_rows_by_client_month as (

    {{ overridden_rows_by_month('client_months', 'client_id') }}

),

final as (

    select
        client_months.client_id,
        client_months.month,
        clients.client_name,
        clients.client_status,
        clients.contract_type,
        clients.contract_end_date,
        clients.managed_users,
        cast(coalesce(revenue_by_client_month.revenue, 0) as numeric(38, 4)) as revenue,
        cast(coalesce(revenue_by_client_month.recurring_revenue, 0) as numeric(38, 4))
            as recurring_revenue,
        cast(coalesce(revenue_by_client_month.invoices, 0) as bigint) as invoices,
        cast(coalesce(revenue_by_client_month.overdue_invoices, 0) as bigint) as overdue_invoices,
        cast(coalesce(labor_by_client_month.labor_hours, 0) as numeric(38, 4)) as labor_hours,
        cast(coalesce(labor_by_client_month.billable_hours, 0) as numeric(38, 4)) as billable_hours,
        cast(coalesce(labor_by_client_month.no_charge_hours, 0) as numeric(38, 4)) as no_charge_hours,
        cast(coalesce(labor_by_client_month.reactive_hours, 0) as numeric(38, 4)) as reactive_hours,
        cast(coalesce(labor_by_client_month.labor_cost, 0) as numeric(38, 8)) as labor_cost,
        cast(coalesce(labor_by_client_month.labor_cost_unknown_hours, 0) as numeric(38, 4))
            as labor_cost_unknown_hours,
        cast(coalesce(licenses_by_client_month.license_seats, 0) as bigint) as license_seats,
        cast(coalesce(licenses_by_client_month.license_cost, 0) as numeric(38, 4)) as license_cost,
        cast(coalesce(other_cost_by_client_month.other_cost, 0) as numeric(38, 4)) as other_cost,
        cast(coalesce(overridden_rows_by_client_month.overridden_rows, 0) as bigint) as overridden_rows

    from client_months
    left join clients
        on client_months.client_id = clients.client_id
    left join revenue_by_client_month
        on client_months.client_id = revenue_by_client_month.client_id
        and client_months.month = revenue_by_client_month.month
    left join labor_by_client_month
        on client_months.client_id = labor_by_client_month.client_id
        and client_months.month = labor_by_client_month.month
    left join licenses_by_client_month
        on client_months.client_id = licenses_by_client_month.client_id
        and client_months.month = licenses_by_client_month.month
    left join other_cost_by_client_month
        on client_months.client_id = other_cost_by_client_month.client_id
        and client_months.month = other_cost_by_client_month.month
    left join overridden_rows_by_client_month
        on client_months.client_id = overridden_rows_by_client_month.client_id
        and client_months.month = overridden_rows_by_client_month.month

)

select * from final
