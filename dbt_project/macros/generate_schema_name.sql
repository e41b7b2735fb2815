{#
    Custom schemas are used literally: staging models land in `staging`, intermediate
    models in `intermediate` and marts in `marts` (not `<target schema>_marts`, dbt's
    default). BI tools, the API and the snapshot publisher read `marts.<name>`.
    In PostgreSQL mode MoatMetrics sets MOATMETRICS_DBT_SCHEMA_PREFIX=warehouse_ so the
    pipeline's layers are `warehouse_staging`, `warehouse_marts`..., and `marts` in that
    database stays the schema of the stable views on the published snapshot.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ env_var('MOATMETRICS_DBT_SCHEMA_PREFIX', '') }}{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
