{#
    License facts (contract v2): one observed fact per row from a vendor export, with the
    resolved client (stg_raw__client_identities). Assembled into license rows by
    int_license_facts_assembled.
#}

with

source as (

    select * from {{ source('raw', 'license_facts') }}

),

renamed as (

    select

        ----------  ids
        {{ client_identity_columns('source') }}
        cast(source.sku as {{ dbt.type_string() }}) as sku,
        cast(source.subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(source.user_hash as {{ dbt.type_string() }}) as user_hash,

        ---------- text
        cast(source.source as {{ dbt.type_string() }}) as fact_source,
        cast(source.fact as {{ dbt.type_string() }}) as fact,
        cast(source.vendor as {{ dbt.type_string() }}) as vendor,
        cast(source.product as {{ dbt.type_string() }}) as product,
        cast(source.billing_frequency as {{ dbt.type_string() }}) as billing_frequency,
        cast(source.client_name as {{ dbt.type_string() }}) as vendor_client_name,

        ---------- numerics
        cast(source.quantity as numeric(18, 4)) as quantity,
        cast(source.unit_cost as numeric(18, 4)) as unit_cost,
        cast(source.unit_price as numeric(18, 4)) as unit_price,

        ---------- booleans
        coalesce(cast(source.deleted as boolean), false) as is_deleted,

        ---------- dates
        cast(source.as_of_date as date) as as_of_date,
        cast(source.effective_date as date) as effective_date,
        cast(source.cancelled_date as date) as cancelled_date,
        cast(source.term_end_date as date) as term_end_date,

        ---------- lineage
        cast(source._upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(source._row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source
    {{ client_identity_join('source') }}

)

select * from renamed
