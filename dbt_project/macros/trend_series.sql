{#
    marts.trends is incremental by series: a build recomputes a series (an entity's metric)
    from the first month where its inputs differ from the rows trends already holds, and
    leaves every other row as the last build made it.

    A trends row is computed from its series' values of the 11 months before it and its own,
    each with its month's completeness, and from its own descriptive columns (entity name,
    client, staff, vendor, product). All of those are columns of trends itself, copied
    exactly (value is decimal(18, 4) in both), so comparing the series with what trends holds
    finds every row whose result can differ: a value that changed, appeared or went away, a
    month that became complete, a renamed client. A month's rows depend only on earlier
    months, so recomputing a series from its first changed month on is enough: a day's upload
    recomputes the current month of the series it touched instead of every row (the 10m
    demo: about 50k of 4.7M rows).

    What the comparison cannot see, the follow-up list (trend_metrics seed) and the model's
    own SQL, is code: the pipeline rebuilds every incremental model when code changes
    (moatmetrics/warehouse/incremental_months.py); by hand, run dbt with --full-refresh.
#}

{# The series trends follows, each row with its month's completeness. #}
{% macro trend_series_select() -%}
    select
        series.*,
        coalesce(calendar_months.is_complete, false) as month_is_complete
    from {{ ref('int_metric_months_unioned') }} as series
    left join {{ ref('month_completeness') }} as calendar_months
        on series.month = calendar_months.month
{%- endmacro %}

{# The pre-hook of an incremental build: every series' rows from its first changed month on
   go, to be computed again by the model (which recomputes what trends no longer holds). #}
{% macro delete_changed_trend_series() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as built
    where exists (
        select 1
        from (
            select
                coalesce(series.entity_type, trends.entity_type) as entity_type,
                coalesce(series.entity_key, trends.entity_key) as entity_key,
                coalesce(series.metric, trends.metric) as metric,
                min(coalesce(series.month, trends.month)) as from_month
            from ({{ trend_series_select() }}) as series
            full outer join {{ this }} as trends
                on series.entity_type = trends.entity_type
                and series.entity_key = trends.entity_key
                and series.metric = trends.metric
                and series.month = trends.month
            where series.month is null
                or trends.month is null
                or series.value is distinct from trends.value
                or series.month_is_complete is distinct from trends.month_is_complete
                or series.entity_name is distinct from trends.entity_name
                or series.client_id is distinct from trends.client_id
                or series.staff_id is distinct from trends.staff_id
                or series.vendor is distinct from trends.vendor
                or series.product is distinct from trends.product
            group by 1, 2, 3
        ) as changed
        where changed.entity_type = built.entity_type
            and changed.entity_key = built.entity_key
            and changed.metric = built.metric
            and built.month >= changed.from_month
    )
    {%- endif -%}
{%- endmacro %}
