{#
    ISO day of the week of a date: 1 = Monday ... 7 = Sunday.
#}
{% macro iso_day_of_week(date_expression) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'moatmetrics')(date_expression)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_expression) -%}
    cast(extract(isodow from {{ date_expression }}) as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro duckdb__iso_day_of_week(date_expression) -%}
    cast(isodow({{ date_expression }}) as {{ dbt.type_bigint() }})
{%- endmacro %}
