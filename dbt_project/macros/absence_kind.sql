{#
    Absence work types by name (MOATMETRICS_ABSENCE_WORK_TYPES): PSAs name absence in their
    own words (ConnectWise "Vacation", Autotask "Paid Time Off"), so the names that mean
    absence are configuration, not code. The variable reads `kind: name, name; kind: ...`
    with kind pto or holiday; names match case-insensitively, spaces and hyphens as `_`
    (the way ingest types the work_type column).
#}
{% macro absence_work_types() -%}
    {%- set text = env_var(
        'MOATMETRICS_ABSENCE_WORK_TYPES',
        'pto: pto, vacation, paid time off, sick, leave; holiday: holiday, public holiday'
    ) -%}
    {%- set mapping = {} -%}
    {%- for group in text.split(';') if group.strip() -%}
        {%- set parts = group.split(':', 1) -%}
        {%- set kind = parts[0].strip().lower() -%}
        {%- if parts | length != 2 or kind not in ('pto', 'holiday') -%}
            {{ exceptions.raise_compiler_error(
                "MOATMETRICS_ABSENCE_WORK_TYPES: '" ~ group.strip() ~ "' is not 'pto: name, name'"
                ~ " or 'holiday: name, name'; write e.g. 'pto: pto, vacation; holiday: holiday'"
            ) }}
        {%- endif -%}
        {%- for name in parts[1].split(',') if name.strip() -%}
            {%- do mapping.update({
                name.strip().lower().replace(' ', '_').replace('-', '_'): kind
            }) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(mapping) }}
{%- endmacro %}

{# The absence kind (pto / holiday) of a work type, NULL for work. #}
{% macro absence_kind(work_type_expression) -%}
    {%- set mapping = absence_work_types() -%}
    {%- set normalized = "replace(replace(lower(trim(" ~ work_type_expression ~ ")), ' ', '_'), '-', '_')" -%}
    {%- if mapping -%}
    case {{ normalized }}
        {%- for name, kind in mapping.items() | sort %}
        when '{{ name | replace("'", "''") }}' then '{{ kind }}'
        {%- endfor %}
    end
    {%- else -%}
    cast(null as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}
