{#
    The MSP's own figures beside the industry reference bands of reference.benchmark_bands,
    month by month: one row per month, metric and band. The figures are the marts' own
    formulas over the portfolio (int_metric_months_unioned's portfolio series, and for licenses
    the seats active / purchased of every license row with both facts); a metric without a band
    in the reference table has no row, so nothing is compared with a made-up value.

    position: below (under low), above (over high) or within; an open side never rules a
    value out.
#}

with

portfolio_series as (

    select * from {{ ref('int_metric_months_unioned') }}

),

licenses as (

    select * from {{ ref('license_utilization') }}

),

bands as (

    select * from {{ ref('benchmark_bands') }}

),

license_portfolio as (

    select
        month,
        'license_utilization' as metric,
        {{ divide_and_round('sum(seats_active)', 'sum(seats_purchased)', 4) }} as value
    from licenses
    where seats_active is not null and seats_purchased > 0
    group by month

),

msp_figures as (

    select month, metric, value
    from portfolio_series
    where entity_type = 'portfolio'
        and metric in ('gross_margin', 'utilization', 'effective_hourly_rate')

    union all

    select month, metric, value from license_portfolio

),

compared as (

    select
        msp_figures.month,
        msp_figures.metric,
        bands.band,
        msp_figures.value,
        bands.low,
        bands.high,
        bands.unit,
        bands.source,
        bands.source_url,
        bands.finding,
        case
            when bands.low is not null and msp_figures.value < bands.low then 'below'
            when bands.high is not null and msp_figures.value > bands.high then 'above'
            else 'within'
        end as position
    from msp_figures
    inner join bands
        on bands.metric = msp_figures.metric
    where msp_figures.value is not null

),

labelled as (

    select
        *,
        case metric
            when 'gross_margin' then 'Gross margin'
            when 'utilization' then 'Technician utilisation'
            when 'effective_hourly_rate' then 'Effective hourly rate'
            else 'License utilisation'
        end as label,
        case
            when low is null then 'up to ' || {{ unit_value_text('unit', 'high') }}
            when high is null then {{ unit_value_text('unit', 'low') }} || ' or more'
            else {{ unit_value_text('unit', 'low') }} || ' to ' || {{ unit_value_text('unit', 'high') }}
        end as band_text
    from compared

),

final as (

    select
        cast(month as date) as month,
        cast(metric as {{ dbt.type_string() }}) as metric,
        cast(band as {{ dbt.type_string() }}) as band,
        cast(label as {{ dbt.type_string() }}) as label,
        cast(value as numeric(18, 4)) as value,
        cast(low as numeric(18, 4)) as low,
        cast(high as numeric(18, 4)) as high,
        cast(unit as {{ dbt.type_string() }}) as unit,
        cast(position as {{ dbt.type_string() }}) as position,
        cast(
            label || ' of the portfolio in ' || {{ month_label('month') }} || ': '
            || {{ unit_value_text('unit', 'value') }} || ', ' || position || ' the '
            || replace(band, '_', ' ') || ' band (' || band_text || ') of ' || source || '.'
            as {{ dbt.type_string() }}
        ) as explanation,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(source_url as {{ dbt.type_string() }}) as source_url,
        cast(finding as {{ dbt.type_string() }}) as finding
    from labelled

)

select * from final
