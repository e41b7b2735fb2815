with

source as (

    select * from {{ source('raw', 'invoices') }}

),

renamed as (

    select

        ----------  ids
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(line_no as {{ dbt.type_bigint() }}) as line_no,
        {{ client_identity_columns('source') }}
        cast(sku as {{ dbt.type_string() }}) as sku,

        ---------- text
        cast(status as {{ dbt.type_string() }}) as invoice_status,
        cast(category as {{ dbt.type_string() }}) as line_category,
        cast(currency as {{ dbt.type_string() }}) as currency_code,
        cast(account as {{ dbt.type_string() }}) as account_code,

        ---------- numerics
        cast(quantity as numeric(18, 4)) as quantity,
        cast(unit_price as numeric(18, 4)) as unit_price,
        cast(amount as numeric(18, 4)) as amount,

        ---------- dates
        cast(invoice_date as date) as invoice_date,
        cast(due_date as date) as due_date,

        ---------- lineage
        cast(_upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(_row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source
    {{ client_identity_join('source') }}

)

select * from renamed
