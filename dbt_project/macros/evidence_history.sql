{#
    The history windows of the evidence models (models/evidence): what the trust layer
    compares a mart row with. Calendar months before the row's month, as a range, so a gap
    in the entity's months shortens its history: three for the averages the explanations
    compare with (`trailing_months`), six for the spread consistency is judged by
    (`previous_six_months`). Averages and spreads are doubles on both databases.
#}

{# history_months, then avg_<column> over the three months before, per column. #}
{% macro trailing_averages(columns) -%}
    count(*) over trailing_months as history_months
    {%- for column in columns %},
        cast(avg({{ column }}) over trailing_months as double precision) as avg_{{ column }}
    {%- endfor %}
{%- endmacro %}

{# hist_n, then hist_avg_<column> and hist_sd_<column> over the six months before. #}
{% macro history_spreads(columns) -%}
    count(*) over previous_six_months as hist_n
    {%- for column in columns %},
        cast(avg({{ column }}) over previous_six_months as double precision)
            as hist_avg_{{ column }},
        cast(stddev_samp({{ column }}) over previous_six_months as double precision)
            as hist_sd_{{ column }}
    {%- endfor %}
{%- endmacro %}

{# The WINDOW clause naming both, per entity (`partition_by`: its key columns). #}
{% macro history_windows(partition_by) -%}
    window
        trailing_months as (
            partition by {{ partition_by | join(', ') }} order by month
            range between interval '3 months' preceding and interval '1 month' preceding
        ),
        previous_six_months as (
            partition by {{ partition_by | join(', ') }} order by month
            range between interval '6 months' preceding and interval '1 month' preceding
        )
{%- endmacro %}
