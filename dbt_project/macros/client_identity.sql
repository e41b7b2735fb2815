{#
    The resolved client of a fact row (stg_raw__client_identities): the file's client_id
    when given, else the identity of its (client_source, client_key). `fact` is the alias
    of the raw rows in the staging model.
#}
{% macro client_identity_join(fact) -%}
    left join {{ ref('stg_raw__client_identities') }} as client_identities
        on {{ fact }}.client_id is null
        and coalesce({{ fact }}.client_source, '') = coalesce(client_identities.client_source, '')
        and {{ fact }}.client_key = client_identities.client_key
{%- endmacro %}

{# client_id, client_source, client_key, client_resolution, is_held of a fact row. #}
{% macro client_identity_columns(fact) -%}
        cast(coalesce({{ fact }}.client_id, client_identities.client_id) as {{ dbt.type_string() }})
            as client_id,
        cast({{ fact }}.client_source as {{ dbt.type_string() }}) as client_source,
        cast({{ fact }}.client_key as {{ dbt.type_string() }}) as client_key,
        -- given (client_id in the file) / none (no client: internal or overhead) / alias /
        -- name_match (automatic) / internal (alias `-`) / held
        cast(
            case
                when {{ fact }}.client_id is not null then 'given'
                when {{ fact }}.client_key is null then 'none'
                else client_identities.resolution
            end
            as {{ dbt.type_string() }}
        ) as client_resolution,
        coalesce({{ fact }}.client_id is null and client_identities.resolution = 'held', false)
            as is_held,
{%- endmacro %}
