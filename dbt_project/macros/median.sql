{#
    The median of a numeric expression as a double, on DuckDB and PostgreSQL alike
    (PostgreSQL has no median(); both have the ordered-set percentile_cont, which averages
    the two middle values of an even count, as DuckDB's median does).
#}
{% macro median(expression) -%}
    percentile_cont(0.5) within group (order by cast({{ expression }} as double precision))
{%- endmacro %}
