{#
    Account map (contract v2): an accounting account code or item name, per source family,
    to an invoice category (recurring / project / labor / license / hardware / other).
#}

with

source as (

    select * from {{ source('raw', 'account_map') }}

),

renamed as (

    select

        ----------  ids
        cast(source as {{ dbt.type_string() }}) as account_source,
        cast(account as {{ dbt.type_string() }}) as account,
        cast(lower(trim(account)) as {{ dbt.type_string() }}) as account_normalized,

        ---------- text
        cast(category as {{ dbt.type_string() }}) as account_category,

        ---------- lineage
        cast(_upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(_row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source

)

select * from renamed
