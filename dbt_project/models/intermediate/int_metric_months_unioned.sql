{#
    Every monthly series marts.trends follows, one row per entity, metric and month with a
    value: the marts' own published numbers (client, staff and license rows) and the
    portfolio's, summed from them with the marts' formulas. Only the series listed in the
    trend_metrics seed are kept; a month whose value is NULL (a margin without revenue, a
    utilisation without available hours) has no row.

    entity_key names the entity in one column (client_id, staff_id, or
    client_id / vendor / product); the mart's own key columns stay beside it.
#}

with

client_months as (

    select * from {{ ref('client_profitability') }}

),

license_months as (

    select * from {{ ref('license_utilization') }}

),

staff_months as (

    select * from {{ ref('staff_utilization') }}

),

followed_metrics as (

    select * from {{ ref('trend_metrics') }}

),

client_names as (

    select
        client_id,
        max(client_name) as client_name
    from client_months
    group by client_id

),

license_money_by_client_month as (

    select
        client_id,
        month,
        sum(monthly_waste) as waste,
        sum(monthly_leakage) as leakage
    from license_months
    group by
        client_id,
        month

),

client_values as (

    select
        client_months.client_id,
        client_months.client_name,
        client_months.month,
        client_months.revenue,
        client_months.gross_margin,
        client_months.labor_hours,
        client_months.effective_hourly_rate,
        license_money_by_client_month.waste,
        license_money_by_client_month.leakage
    from client_months
    left join license_money_by_client_month
        on client_months.client_id = license_money_by_client_month.client_id
        and client_months.month = license_money_by_client_month.month

),

portfolio_client_totals as (

    select
        month,
        sum(revenue) as revenue,
        sum(gross_profit) as gross_profit,
        sum(labor_hours) as labor_hours,
        sum(revenue - license_cost - other_cost) as revenue_after_costs
    from client_months
    group by month

),

portfolio_license_totals as (

    select
        month,
        sum(monthly_waste) as waste,
        sum(monthly_leakage) as leakage
    from license_months
    group by month

),

portfolio_staff_totals as (

    select
        month,
        sum(billable_hours) as billable_hours,
        sum(available_hours) as available_hours
    from staff_months
    where available_hours > 0
    group by month

),

portfolio_months as (

    select month from portfolio_client_totals
    union
    select month from portfolio_license_totals
    union
    select month from portfolio_staff_totals

),

{# The marts' formulas over the portfolio's sums (docs/metrics.md). #}
portfolio_values as (

    select
        portfolio_months.month,
        portfolio_client_totals.revenue,
        case
            when portfolio_client_totals.revenue > 0
                then {{ divide_and_round('portfolio_client_totals.gross_profit', 'portfolio_client_totals.revenue', 4) }}
        end as gross_margin,
        portfolio_client_totals.labor_hours,
        case
            when portfolio_client_totals.labor_hours > 0
                then {{ divide_and_round('portfolio_client_totals.revenue_after_costs', 'portfolio_client_totals.labor_hours', 2) }}
        end as effective_hourly_rate,
        portfolio_license_totals.waste,
        portfolio_license_totals.leakage,
        {{ divide_and_round('portfolio_staff_totals.billable_hours', 'portfolio_staff_totals.available_hours', 4) }}
            as utilization
    from portfolio_months
    left join portfolio_client_totals
        on portfolio_months.month = portfolio_client_totals.month
    left join portfolio_license_totals
        on portfolio_months.month = portfolio_license_totals.month
    left join portfolio_staff_totals
        on portfolio_months.month = portfolio_staff_totals.month

),

{# Each entity's key columns beside its metrics, named as trend_metrics names them. #}
client_series as (

    select
        'client' as entity_type,
        client_id as entity_key,
        coalesce(client_name, client_id) as entity_name,
        client_id,
        cast(null as {{ dbt.type_string() }}) as staff_id,
        cast(null as {{ dbt.type_string() }}) as vendor,
        cast(null as {{ dbt.type_string() }}) as product,
        month,
        revenue,
        gross_margin,
        labor_hours,
        effective_hourly_rate,
        waste,
        leakage
    from client_values

),

staff_series as (

    select
        'staff' as entity_type,
        staff_id as entity_key,
        coalesce(staff_name, staff_id) as entity_name,
        cast(null as {{ dbt.type_string() }}) as client_id,
        staff_id,
        cast(null as {{ dbt.type_string() }}) as vendor,
        cast(null as {{ dbt.type_string() }}) as product,
        month,
        logged_hours as labor_hours,
        utilization
    from staff_months

),

license_series as (

    select
        'license' as entity_type,
        {# the vendor may be unknown (NULL): the key keeps its place empty #}
        license_months.client_id || ' / ' || coalesce(license_months.vendor, '') || ' / '
            || coalesce(license_months.product, '') as entity_key,
        coalesce(license_months.product, 'a license')
            || coalesce(' (' || license_months.vendor || ')', '') || ' at '
            || coalesce(client_names.client_name, license_months.client_id) as entity_name,
        license_months.client_id,
        cast(null as {{ dbt.type_string() }}) as staff_id,
        license_months.vendor,
        license_months.product,
        license_months.month,
        license_months.utilization_rate as utilization,
        license_months.monthly_waste as waste,
        license_months.monthly_leakage as leakage
    from license_months
    left join client_names
        on license_months.client_id = client_names.client_id

),

portfolio_series as (

    select
        'portfolio' as entity_type,
        'portfolio' as entity_key,
        'the portfolio' as entity_name,
        cast(null as {{ dbt.type_string() }}) as client_id,
        cast(null as {{ dbt.type_string() }}) as staff_id,
        cast(null as {{ dbt.type_string() }}) as vendor,
        cast(null as {{ dbt.type_string() }}) as product,
        portfolio_values.*
    from portfolio_values

),

{%- set series_metrics = [
    ('client_series', ['revenue', 'gross_margin', 'labor_hours', 'effective_hourly_rate', 'waste', 'leakage']),
    ('staff_series', ['labor_hours', 'utilization']),
    ('license_series', ['utilization', 'waste', 'leakage']),
    ('portfolio_series', ['revenue', 'gross_margin', 'labor_hours', 'effective_hourly_rate', 'waste', 'leakage', 'utilization']),
] %}

{# One row per entity, metric and month: the metric columns unpivoted. #}
series_values as (

    {% for relation, metrics in series_metrics %}
    {%- set outer = loop %}
    {% for metric in metrics %}
    select
        entity_type,
        entity_key,
        entity_name,
        client_id,
        staff_id,
        vendor,
        product,
        '{{ metric }}' as metric,
        month,
        cast({{ metric }} as decimal(18, 4)) as value
    from {{ relation }}
    {% if not (outer.last and loop.last) %}union all{% endif %}
    {% endfor %}
    {% endfor %}

)

select series_values.*
from series_values
inner join followed_metrics
    on series_values.entity_type = followed_metrics.entity_type
    and series_values.metric = followed_metrics.metric
where series_values.value is not null
