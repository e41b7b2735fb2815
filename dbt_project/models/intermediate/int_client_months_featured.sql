{#
    Churn features and label per client and month (the churn-risk model's training table).

    Every feature of month M is computed from months up to M only (no look-ahead): the
    "recent" window is M and the two months before it, the "previous" window the three
    months before that. Trends compare the two windows and are NULL until a client has six
    months of history. The month's measures come from int_client_months_measured, as
    doubles: reactive work there is time whose work_type is one of the project variable
    `reactive_work_types` (default remote_support, onsite: break-fix tickets, not planned
    maintenance or projects). Invoice status is as of the latest export.

    Label: the client has status churned and its churn month (month of contract_end, else
    its last month with any activity) is M or one of the two months after M, i.e. the
    client leaves within the next three months. The label of month M is known only when
    M + 2 months is not after the last month of data (is_label_known); later months are
    censored, not negative.

    The Python churn asset reads it in full.
#}

with

client_months_measured as (

    select
        client_id,
        month,
        client_name,
        client_status,
        contract_type,
        contract_end_date,
        managed_users,
        cast(revenue as double precision) as revenue,
        invoices,
        overdue_invoices,
        cast(labor_hours as double precision) as labor_hours,
        cast(reactive_hours as double precision) as reactive_hours,
        cast(labor_cost as double precision) as labor_cost,
        cast(license_seats as double precision) as license_seats,
        cast(license_cost as double precision) as license_cost,
        cast(other_cost as double precision) as other_cost
    from {{ ref('int_client_months_measured') }}

),

{# The spine has no gaps, so a frame of N rows is a window of N months. #}
client_months_windowed as (

    select
        *,
        count(*) over recent_months as recent_months,
        count(*) over previous_months as previous_months,
        sum(revenue) over recent_months as revenue_recent,
        sum(revenue) over previous_months as revenue_previous,
        sum(labor_hours) over recent_months as labor_hours_recent,
        sum(labor_hours) over previous_months as labor_hours_previous,
        sum(reactive_hours) over recent_months as reactive_hours_recent,
        sum(reactive_hours) over previous_months as reactive_hours_previous,
        sum(labor_cost + license_cost + other_cost) over recent_months as total_cost_recent,
        sum(labor_cost + license_cost + other_cost) over previous_months as total_cost_previous,
        sum(license_cost + other_cost) over recent_months as pass_through_cost_recent,
        sum(license_cost + other_cost) over previous_months as pass_through_cost_previous,
        sum(license_seats) over recent_months as license_seats_recent,
        sum(license_seats) over previous_months as license_seats_previous,
        sum(invoices) over recent_months as invoices_recent,
        sum(overdue_invoices) over recent_months as overdue_invoices_recent,
        row_number() over (partition by client_id order by month) - 1 as tenure_months,
        max(month) over (partition by client_id) as last_active_month,
        max(month) over () as data_last_month

    from client_months_measured
    window
        recent_months as (
            partition by client_id order by month rows between 2 preceding and current row
        ),
        previous_months as (
            partition by client_id order by month rows between 5 preceding and 3 preceding
        )

),

client_months_ratios as (

    select
        *,
        case
            when revenue_recent > 0 then (revenue_recent - total_cost_recent) / revenue_recent
        end as gross_margin_recent,
        case
            when previous_months = 3 and revenue_previous > 0
                then (revenue_previous - total_cost_previous) / revenue_previous
        end as gross_margin_previous,
        (revenue_recent - pass_through_cost_recent) / nullif(labor_hours_recent, 0)
            as effective_hourly_rate_recent,
        case
            when previous_months = 3
                then (revenue_previous - pass_through_cost_previous)
                    / nullif(labor_hours_previous, 0)
        end as effective_hourly_rate_previous

    from client_months_windowed

),

{# A trend is the relative change of the recent window against the previous one. #}
client_months_featured as (

    select
        client_id,
        month,
        client_name,
        client_status,
        contract_type,
        cast(tenure_months as {{ dbt.type_bigint() }}) as tenure_months,
        gross_margin_recent as gross_margin_3m,
        gross_margin_recent - gross_margin_previous as gross_margin_trend,
        effective_hourly_rate_recent as effective_hourly_rate_3m,
        (effective_hourly_rate_recent - effective_hourly_rate_previous)
            / nullif(abs(effective_hourly_rate_previous), 0) as effective_hourly_rate_trend,
        labor_hours_recent / recent_months / nullif(managed_users, 0)
            as hours_per_managed_user_3m,
        reactive_hours_recent / nullif(labor_hours_recent, 0) as reactive_hours_share_3m,
        case
            when previous_months = 3
                then (reactive_hours_recent - reactive_hours_previous)
                    / nullif(reactive_hours_previous, 0)
        end as reactive_hours_trend,
        case
            when previous_months = 3
                then (license_seats_recent - license_seats_previous)
                    / nullif(license_seats_previous, 0)
        end as license_seats_trend,
        cast(overdue_invoices_recent as double precision) / nullif(invoices_recent, 0)
            as overdue_invoice_share_3m,
        case
            when previous_months = 3 and revenue_previous > 0
                then (revenue_recent - revenue_previous) / revenue_previous
        end as revenue_trend,
        last_active_month,
        data_last_month,
        case
            when client_status = 'churned'
                then coalesce({{ month_start('contract_end_date') }}, last_active_month)
        end as churn_month

    from client_months_ratios

),

final as (

    select
        *,
        coalesce(
            churn_month >= month
            and churn_month <= cast({{ dbt.dateadd('month', 2, 'month') }} as date),
            false
        ) as churned_within_3m,
        cast({{ dbt.dateadd('month', 2, 'month') }} as date) <= data_last_month
            as is_label_known

    from client_months_featured

)

select * from final
