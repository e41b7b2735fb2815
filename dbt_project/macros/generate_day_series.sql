{#
    A set-returning select-list expression: one row per day from start_date to end_date
    (both inclusive), as a TIMESTAMP. Use it as a top-level item of a select list, e.g.

        select {{ generate_day_series('first_day', 'last_day') }} as day_at from bounds

    and cast the result to DATE in the next CTE. No rows when a bound is NULL.
#}
{% macro generate_day_series(start_date, end_date) -%}
    {{ return(adapter.dispatch('generate_day_series', 'moatmetrics')(start_date, end_date)) }}
{%- endmacro %}

{# PostgreSQL (and the default): generate_series is a set-returning function. #}
{% macro default__generate_day_series(start_date, end_date) -%}
    generate_series(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp),
        interval '1 day'
    )
{%- endmacro %}

{# DuckDB: generate_series returns a list; unnest turns it into rows. #}
{% macro duckdb__generate_day_series(start_date, end_date) -%}
    unnest(generate_series(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp),
        interval '1 day'
    ))
{%- endmacro %}
