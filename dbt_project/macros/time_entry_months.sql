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

{#
    The data tests of the time entries read only the months the build replaced. Their other
    months are the rows the last good build tested, from inputs unchanged since: the month
    plan rebuilds every month when anything else the time entries read changes (clients,
    aliases, staff, corrections, settings, code), and a row that moves from one month to
    another changes both months. So a unique test still sees both copies of a duplicated
    entry, and a row-wise test sees every changed row; a 10m warehouse plus one day tests
    one month of entries instead of every month.

    dbt calls get_where_subquery for the model a generic test reads; this version of it adds
    that bound, then the test's own `where` config, as dbt's own does. Only when executing:
    at parse time `ref` names the test itself, and reading the months there would make dbt
    re-parse every schema file whenever they change.
#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if execute -%}
        {%- set month_expressions = {
            'stg_raw__time_entries': month_start('work_date'),
            'int_time_entries_corrected': 'file_work_month',
            'int_time_entries_costed': 'file_work_month',
        } -%}
        {%- set month_expression = month_expressions.get(relation.identifier) -%}
        {%- set months = time_entry_month_list() if month_expression else none -%}
        {%- if months is not none -%}
            {%- do conditions.append(month_expression ~ ' in (' ~ months ~ ')') -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#
    The per-month summaries of time entries (int_client_work_types_summarized,
    int_staff_work_types_summarized) are incremental by the month of the *corrected* work
    date, which a correction may move out of the entry's partition (file_work_month). A
    build replaces the months the pipeline named and every month a correction moves an
    entry into: the partitions' months keep their summaries right for every entry that did
    not move, and the moved entries' months for those that did, whether the entry is still
    there or went with a replaced file (the month plan rebuilds every month when a
    correction changes, so the corrections a build sees are those the last one saw).
#}
{% macro time_entry_work_months_condition(month_expression) -%}
    {%- set months = time_entry_month_list() -%}
    (
        {{ month_expression }} in ({{ months }})
        or {{ month_expression }} in (
            select {{ month_start('cast(value as date)') }}
            from {{ ref('stg_raw__row_overrides') }}
            where entity = 'time_entries'
                and action = 'set'
                and column_name = 'work_date'
                and value is not null
        )
    )
{%- endmacro %}

{# The rows of an incremental build of a summary: those of the months it replaces. #}
{% macro time_entry_work_months_filter(month_expression) -%}
    {%- if is_incremental() and time_entry_month_list() is not none %}
    where {{ time_entry_work_months_condition(month_expression) }}
    {%- endif %}
{%- endmacro %}

{# The pre-hook of a summary's incremental build: the months it replaces go first. #}
{% macro delete_time_entry_work_months() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        {%- if time_entry_month_list() is not none %}
        where {{ time_entry_work_months_condition('month') }}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
