{#
    Client aliases (contract v2): the vendor's key of a client, per source family, to a
    client_id. client_id `-` is the MSP itself: rows resolved to it are internal time or
    overhead. source_key_normalized is the key as identity compares it (trimmed, case-folded).
#}

with

source as (

    select * from {{ source('raw', 'client_aliases') }}

),

renamed as (

    select

        ----------  ids
        cast(source as {{ dbt.type_string() }}) as client_source,
        cast(source_key as {{ dbt.type_string() }}) as source_key,
        cast(lower(trim(source_key)) as {{ dbt.type_string() }}) as source_key_normalized,
        cast(case when trim(client_id) = '-' then null else client_id end as {{ dbt.type_string() }})
            as client_id,

        ---------- booleans
        coalesce(trim(client_id) = '-', false) as is_internal,

        ---------- lineage
        cast(_upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(_row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source

)

select * from renamed
