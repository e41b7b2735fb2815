{#
    The first day of the calendar month of a date, as a DATE (date_trunc returns a
    timestamp on some databases, e.g. PostgreSQL).
#}
{% macro month_start(date_expression) -%}
    cast({{ dbt.date_trunc('month', date_expression) }} as date)
{%- endmacro %}

{#
    The last day of the calendar month of a date, as a DATE.
#}
{% macro month_end(date_expression) -%}
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, month_start(date_expression))) }} as date)
{%- endmacro %}
