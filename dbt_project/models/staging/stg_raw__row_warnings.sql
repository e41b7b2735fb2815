{#
    The accepted input rows that carry a data-quality warning, by the upload and row they
    came from: the evidence models count them per mart row.
#}

with

source as (

    select * from {{ source('raw', 'row_warnings') }}

),

renamed as (

    select

        ---------- lineage
        cast(upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source

)

select * from renamed
