with

source as (

    select * from {{ source('raw', 'expenses') }}

),

renamed as (

    select

        ----------  ids
        cast(expense_id as {{ dbt.type_string() }}) as expense_id,
        {{ client_identity_columns('source') }}

        ---------- text
        cast(category as {{ dbt.type_string() }}) as expense_category,
        cast(supplier as {{ dbt.type_string() }}) as supplier,

        ---------- numerics
        cast(amount as numeric(18, 4)) as amount,

        ---------- dates
        cast(expense_date as date) as expense_date,

        ---------- lineage
        cast(_upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(_row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source
    {{ client_identity_join('source') }}

)

select * from renamed
