{#
    The incremental time-entry models (int_time_entries_corrected, int_time_entries_costed)
    replace only the months the pipeline names in the environment variable
    MOATMETRICS_TIME_ENTRY_MONTHS (ISO dates of the months' first days, comma-separated;
    moatmetrics/warehouse/incremental_months.py decides which). A month is the month of the
    work date as the file gave it (file_work_month): a correction may move an entry's date,
    never its partition. Without the variable, or `all` (dbt run by hand on a built
    warehouse), every month is replaced; `--full-refresh` rebuilds the tables.
#}
{% macro time_entry_month_list() -%}
    {%- set named = env_var('MOATMETRICS_TIME_ENTRY_MONTHS', 'all') -%}
    {%- if named == 'all' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set months = named.split(',') | map('trim') | reject('equalto', '') | list -%}
    {%- if months | length == 0 -%}
        {{ return('cast(null as date)') }}
    {%- else -%}
        {%- set literals = [] -%}
        {%- for month in months -%}
            {%- do literals.append("cast('" ~ month ~ "' as date)") -%}
        {%- endfor -%}
        {{ return(literals | join(', ')) }}
    {%- endif -%}
{%- endmacro %}

{# The rows of an incremental build: those of the named months. #}
{% macro time_entry_months_filter(month_expression) -%}
    {%- set months = time_entry_month_list() -%}
    {%- if is_incremental() and months is not none %}
    where {{ month_expression }} in ({{ months }})
    {%- endif %}
{%- endmacro %}

{# The pre-hook of an incremental build: the named months' rows go before they are inserted again. #}
{% macro delete_time_entry_months() -%}
    {%- if is_incremental() -%}
        {%- set months = time_entry_month_list() -%}
        delete from {{ this }}
        {%- if months is not none %} where file_work_month in ({{ months }}){% endif %}
    {%- endif -%}
{%- endmacro %}
