{#
    One row per entity, metric and month with a value: where each series stands and where it
    is heading (docs/metrics.md#martstrends). Entities are clients, staff members, licenses
    (client, vendor, product) and the whole portfolio; the series and their thresholds are
    the trend_metrics seed.

    Windows are calendar months, not rows: a series with a gap (a license not reported one
    month) averages the months it has inside the window. The slope is the least-squares line
    through the values of the last 6 months (the month and the 5 before), in the metric's
    unit per month, computed exactly: slope = (n*Sxy - Sx*Sy) / (n*Sxx - Sx^2) with x the
    month number. Fewer than 3 values in the window: no slope, no direction, and the
    explanation says so.

    confidence is the share of the last 6 months that have a value and are complete
    (marts.month_completeness): six complete months of data are fully trusted, and each
    missing or still-arriving month takes a sixth off.

    Incremental by series (macros/trend_series.sql): a build recomputes each series from its
    first changed month on; a full refresh computes every row. A contract allows
    on_schema_change fail or append_new_columns; fail would also stop on PostgreSQL's text
    (the new rows) against character varying (the table), the same strings.
#}

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ delete_changed_trend_series() }}",
) }}

{%- set window_months = 6 %}
{%- set min_months_for_slope = 3 %}

with

series as (

    {{ trend_series_select() }}

),

followed_metrics as (

    select * from {{ ref('trend_metrics') }}

),

{% if is_incremental() %}
{# The series whose rows the pre-hook took out (or that are new), from their first month
   trends no longer holds: only their months from there on are computed. #}
series_to_compute as (

    select
        series.entity_type,
        series.entity_key,
        series.metric,
        min(series.month) as from_month
    from series
    left join {{ this }} as built
        on series.entity_type = built.entity_type
        and series.entity_key = built.entity_key
        and series.metric = built.metric
        and series.month = built.month
    where built.month is null
    group by
        series.entity_type,
        series.entity_key,
        series.metric

),
{% endif %}

series_numbered as (

    select
        series.*,
        cast(
            (extract(year from series.month) - 2000) * 12 + extract(month from series.month)
            as integer
        ) as month_number
        {%- if is_incremental() %},
        series_to_compute.from_month as compute_from_month
        {%- endif %}
    from series
    {% if is_incremental() %}
    {# the windows of a computed month reach 11 months back #}
    inner join series_to_compute
        on series.entity_type = series_to_compute.entity_type
        and series.entity_key = series_to_compute.entity_key
        and series.metric = series_to_compute.metric
    where series.month >= {{ dbt.dateadd('month', -11, 'series_to_compute.from_month') }}
    {% endif %}

),

series_windowed as (

    select
        *,
        sum(value) over previous_month as previous_value,
        count(value) over last_3_months as months_3,
        sum(value) over last_3_months as sum_3,
        count(value) over last_12_months as months_12,
        sum(value) over last_12_months as sum_12,
        count(value) over last_6_months as months_in_window,
        sum(case when month_is_complete then 1 else 0 end) over last_6_months
            as complete_months_in_window,
        sum(value) over last_6_months as sum_y,
        sum(month_number) over last_6_months as sum_x,
        sum(month_number * value) over last_6_months as sum_xy,
        sum(month_number * month_number) over last_6_months as sum_xx
    from series_numbered
    window
        series_months as (
            partition by entity_type, entity_key, metric order by month_number
        ),
        previous_month as (series_months range between 1 preceding and 1 preceding),
        last_3_months as (series_months range between 2 preceding and current row),
        last_6_months as (series_months range between {{ window_months - 1 }} preceding and current row),
        last_12_months as (series_months range between 11 preceding and current row)

),

series_measured as (

    select
        series_windowed.*,
        followed_metrics.label,
        followed_metrics.unit,
        followed_metrics.polarity,
        followed_metrics.threshold,
        followed_metrics.threshold_kind,
        value - previous_value as change,
        {{ divide_and_round('sum_3', 'months_3', 4) }} as trailing_3m_average,
        {{ divide_and_round('sum_12', 'months_12', 4) }} as trailing_12m_average,
        {{ divide_and_round('sum_y', 'months_in_window', 4) }} as window_average,
        case
            when months_in_window >= {{ min_months_for_slope }}
                then {{ divide_and_round(
                    'months_in_window * sum_xy - sum_x * sum_y',
                    'months_in_window * sum_xx - sum_x * sum_x',
                    4
                ) }}
        end as slope_6m
    from series_windowed
    inner join followed_metrics
        on series_windowed.entity_type = followed_metrics.entity_type
        and series_windowed.metric = followed_metrics.metric

),

{# Stable while the slope stays under the threshold: a share of the window's average level
   (relative) or the metric's own unit (absolute); then polarity names the way. #}
series_directed as (

    select
        *,
        case
            when slope_6m is null then null
            when threshold_kind = 'absolute' and abs(slope_6m) < threshold then 'stable'
            when threshold_kind = 'relative' and abs(slope_6m) < threshold * abs(window_average)
                then 'stable'
            when threshold_kind = 'relative' and slope_6m = 0 then 'stable'
            when polarity = 0 and slope_6m > 0 then 'rising'
            when polarity = 0 then 'falling'
            when slope_6m * polarity > 0 then 'improving'
            else 'worsening'
        end as direction
    from series_measured

),

series_explained as (

    select
        *,
        {{ divide_and_round('complete_months_in_window', window_months, 2) }} as confidence,
        case
            when slope_6m is null
                then label || ' of ' || entity_name || ' in ' || {{ month_label('month') }}
                    || ': ' || {{ unit_value_text('unit', 'value') }}
                    || '; not enough history for a trend (values in '
                    || cast(months_in_window as {{ dbt.type_string() }})
                    || ' of the last {{ window_months }} months, {{ min_months_for_slope }} needed).'
            else label || ' of ' || entity_name || ': ' || direction || ', '
                || {{ unit_change_text('unit', 'slope_6m') }} || ' a month over '
                || case
                    when months_in_window = {{ window_months }} then 'the last {{ window_months }} months'
                    else cast(months_in_window as {{ dbt.type_string() }}) || ' of the last {{ window_months }} months'
                end
                || ' (' || {{ unit_value_text('unit', 'value') }} || ' in ' || {{ month_label('month') }}
                || '; ' || {{ unit_value_text('unit', 'trailing_12m_average') }}
                || ' on average over its last ' || cast(months_12 as {{ dbt.type_string() }})
                || ' months).'
        end
        || case
            when month_is_complete then ''
            else ' ' || {{ month_label('month') }} || ' is not complete yet.'
        end as explanation
    from series_directed

)

select
    entity_type,
    entity_key,
    entity_name,
    client_id,
    staff_id,
    vendor,
    product,
    metric,
    month,
    cast(value as decimal(18, 4)) as value,
    cast(previous_value as decimal(18, 4)) as previous_value,
    cast(change as decimal(18, 4)) as change,
    cast(trailing_3m_average as decimal(18, 4)) as trailing_3m_average,
    cast(trailing_12m_average as decimal(18, 4)) as trailing_12m_average,
    cast(slope_6m as decimal(18, 4)) as slope_6m,
    cast(months_in_window as integer) as months_in_window,
    direction,
    month_is_complete,
    cast(confidence as decimal(18, 4)) as confidence,
    explanation
from series_explained
{% if is_incremental() %}
where month >= compute_from_month
{% endif %}
