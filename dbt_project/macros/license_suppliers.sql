{#
    License suppliers by name (MOATMETRICS_LICENSE_SUPPLIERS, comma-separated; default
    Microsoft, Pax8, Sherweb, Ingram Micro, TD SYNNEX): bills from them are license bills
    (vendor-exports spec, "Never counted twice"). Configuration, not code, because every MSP
    buys from its own distributors.
#}
{% macro license_suppliers() -%}
    {%- set text = env_var(
        'MOATMETRICS_LICENSE_SUPPLIERS', 'Microsoft, Pax8, Sherweb, Ingram Micro, TD SYNNEX'
    ) -%}
    {{ return(text.split(',') | map('trim') | reject('equalto', '') | list) }}
{%- endmacro %}

{# True when the normalised supplier name is a listed supplier or begins with one followed
   by a space: whole words at the start (`Microsoft Ireland Operations Ltd` matches
   Microsoft, `Microsoftware` does not). Both sides are normalised alike. #}
{% macro is_license_supplier(supplier_expression) -%}
    {%- set suppliers = license_suppliers() -%}
    {%- if suppliers -%}
    (
        {%- for name in suppliers %}
        {%- set literal = "'" ~ (name | replace("'", "''")) ~ "'" %}
        {{ "or " if not loop.first }}{{ client_name_normalized(supplier_expression) }} = {{ client_name_normalized(literal) }}
        or {{ client_name_normalized(supplier_expression) }} like {{ client_name_normalized(literal) }} || ' %'
        {%- endfor %}
    )
    {%- else -%}
    false
    {%- endif -%}
{%- endmacro %}
