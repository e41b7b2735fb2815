{#
    Product map (contract v2): a vendor's item code or name, per source family, to one
    product identity (vendor, product, category).
#}

with

source as (

    select * from {{ source('raw', 'product_map') }}

),

renamed as (

    select

        ----------  ids
        cast(source as {{ dbt.type_string() }}) as product_source,
        cast(source_product as {{ dbt.type_string() }}) as source_product,
        cast(lower(trim(source_product)) as {{ dbt.type_string() }}) as source_product_normalized,

        ---------- text
        cast(vendor as {{ dbt.type_string() }}) as vendor,
        cast(product as {{ dbt.type_string() }}) as product,
        cast(category as {{ dbt.type_string() }}) as product_category,

        ---------- lineage
        cast(_upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(_row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source

)

select * from renamed
