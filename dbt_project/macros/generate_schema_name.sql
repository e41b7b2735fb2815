{#
    Custom schemas are used literally: staging models land in `staging`, intermediate
    models in `intermediate` and marts in `marts` (not `<target schema>_marts`, dbt's
    default). BI tools, the API and the snapshot publisher read `marts.<name>`.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
