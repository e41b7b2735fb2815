{#
    The first day of the calendar month of a date, as a DATE (date_trunc returns a
    timestamp on some databases, e.g. PostgreSQL).
#}
{% macro month_start(date_expression) -%}
    cast({{ dbt.date_trunc('month', date_expression) }} as date)
{%- endmacro %}
