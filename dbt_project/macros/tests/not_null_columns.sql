{#
    Generic data test: none of the columns holds a NULL. One scan of the model for all of
    its required columns, where a `not_null` test per column scans it once each (a view is
    computed again per scan) and is one more dbt node and one more Dagster check per column.
    Fails with one row per column that has NULLs: the column's name and how many rows lack it.
#}
{% test not_null_columns(model, columns) %}

with null_counts as (

    select
        {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as null_rows_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}

)

{% for column in columns -%}
select '{{ column }}' as column_name, null_rows_{{ loop.index }} as null_rows
from null_counts
where null_rows_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif %}
{%- endfor %}

{% endtest %}
