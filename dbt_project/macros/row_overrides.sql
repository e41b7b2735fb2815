{#
    Analysts' corrections (stg_raw__row_overrides) of one entity, one row per corrected input
    row: its key columns, is_excluded, and for each settable column whether a correction
    sets it (sets_<column>) and the new value as text (<column>_value, NULL = empty). The
    app refuses two active corrections of the same column of a row, so max() picks the one.
#}
{% macro row_overrides_pivoted(entity, key_columns, settable_columns) -%}
    select
        {%- for key in key_columns %}
        {{ key }},
        {%- endfor %}
        max(case when action = 'exclude' then 1 else 0 end) as is_excluded
        {%- for column in settable_columns %},
        max(case when action = 'set' and column_name = '{{ column }}' then 1 else 0 end)
            as sets_{{ column }},
        max(case when action = 'set' and column_name = '{{ column }}' then value end)
            as {{ column }}_value
        {%- endfor %}
    from {{ ref('stg_raw__row_overrides') }}
    where entity = '{{ entity }}'
    group by {{ key_columns | join(', ') }}
{%- endmacro %}

{# The corrected value of `column`: the correction's value cast to `sql_type`, else `original`. #}
{% macro overridden(column, sql_type, original) -%}
    case
            when row_overrides.sets_{{ column }} = 1
                then cast(row_overrides.{{ column }}_value as {{ sql_type }})
            else {{ original }}
        end
{%- endmacro %}

{# Keep a row unless a correction excludes it (rows without a correction have no match). #}
{% macro not_excluded() -%}
    coalesce(row_overrides.is_excluded, 0) = 0
{%- endmacro %}

{#
    How many of the input rows behind each month of `months` (a CTE with `key_column` and
    `month`) an analyst corrected (docs/trust.md#corrections): the located overrides of that
    key in that month, and those without a month (a client or staff row: every month).
    The select of a CTE, grouped by key and month; months without a correction have no row.
#}
{% macro overridden_rows_by_month(months, key_column) -%}
    select
        {{ months }}.{{ key_column }},
        {{ months }}.month,
        count(distinct row_overrides_located.override_entity || ':' || row_overrides_located.row_key)
            as overridden_rows
    from {{ months }}
    inner join row_overrides_located
        on row_overrides_located.{{ key_column }} = {{ months }}.{{ key_column }}
        and (
            row_overrides_located.month = {{ months }}.month
            or row_overrides_located.month is null
        )
    group by
        {{ months }}.{{ key_column }},
        {{ months }}.month
{%- endmacro %}
