{#
    Numbers as explanation sentences show them, the same digits on DuckDB and PostgreSQL
    (the trust layer's rules, moatmetrics/trust/formatting.py): fractions as whole percents,
    money as whole dollars with thousands separators, hours with one decimal; rounding half
    away from zero on exact decimals. Each returns NULL for a NULL value.
#}

{% macro thousands(whole_number) -%}
    {{ return(adapter.dispatch('thousands', 'moatmetrics')(whole_number)) }}
{%- endmacro %}

{% macro default__thousands(whole_number) -%}
    to_char(cast({{ whole_number }} as bigint), 'FM999,999,999,999,999,990')
{%- endmacro %}

{% macro duckdb__thousands(whole_number) -%}
    format('{:,}', cast({{ whole_number }} as bigint))
{%- endmacro %}

{# '+' above zero, '-' below, '' at zero, after rounding. #}
{% macro sign_text(rounded) -%}
    (case when {{ rounded }} > 0 then '+' when {{ rounded }} < 0 then '-' else '' end)
{%- endmacro %}

{# 1234.5 -> '$1,235'; -80 -> '-$80'; signed: '+$1,235'. #}
{% macro money_text(amount, signed=false) -%}
    {%- set rounded = "round(cast(" ~ amount ~ " as decimal(18, 4)), 0)" -%}
    ({% if signed %}{{ sign_text(rounded) }}{% else %}(case when {{ rounded }} < 0 then '-' else '' end){% endif %}
        || '$' || {{ thousands("abs(" ~ rounded ~ ")") }})
{%- endmacro %}

{# 0.4162 -> '42%'. #}
{% macro percent_text(fraction) -%}
    (cast(cast(round(cast({{ fraction }} as decimal(18, 4)) * 100, 0) as bigint) as {{ dbt.type_string() }}) || '%')
{%- endmacro %}

{# A change of a fraction in percentage points: 0.0125 -> '+1.3 points'. #}
{% macro points_text(fraction_change) -%}
    {%- set rounded = "round(cast(" ~ fraction_change ~ " as decimal(18, 4)) * 100, 1)" -%}
    ({{ sign_text(rounded) }} || cast(abs({{ rounded }}) as {{ dbt.type_string() }}) || ' points')
{%- endmacro %}

{# 92 -> '92.0 h'; signed: '+3.5 h'. #}
{% macro hours_text(hours, signed=false) -%}
    {%- set rounded = "round(cast(" ~ hours ~ " as decimal(18, 4)), 1)" -%}
    ({% if signed %}{{ sign_text(rounded) }} || cast(abs({{ rounded }}) as {{ dbt.type_string() }}){% else %}cast({{ rounded }} as {{ dbt.type_string() }}){% endif %} || ' h')
{%- endmacro %}

{# A value of a trend_metrics unit (money, ratio, hours), as a level or as a change. #}
{% macro unit_value_text(unit_column, value) -%}
    (case {{ unit_column }}
        when 'money' then {{ money_text(value) }}
        when 'ratio' then {{ percent_text(value) }}
        else {{ hours_text(value) }}
    end)
{%- endmacro %}

{% macro unit_change_text(unit_column, change) -%}
    (case {{ unit_column }}
        when 'money' then {{ money_text(change, signed=true) }}
        when 'ratio' then {{ points_text(change) }}
        else {{ hours_text(change, signed=true) }}
    end)
{%- endmacro %}

{# 2025-11-01 -> 'Nov 2025'. #}
{% macro month_label(month) -%}
    {{ return(adapter.dispatch('month_label', 'moatmetrics')(month)) }}
{%- endmacro %}

{% macro default__month_label(month) -%}
    to_char({{ month }}, 'Mon YYYY')
{%- endmacro %}

{% macro duckdb__month_label(month) -%}
    strftime({{ month }}, '%b %Y')
{%- endmacro %}
