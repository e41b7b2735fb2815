{#
    Analysts' corrections (docs/trust.md#corrections): the active row overrides, copied from
    the app database into raw.row_overrides by every pipeline run (empty when there are
    none). A row is named by its entity's natural key; the key columns of other entities
    are NULL. action exclude removes the row; set replaces column_name with value (canonical
    text, checked against the data contract when the correction was made).
#}

with

source as (

    select * from {{ source('raw', 'row_overrides') }}

),

renamed as (

    select

        ----------  ids
        cast(override_id as {{ dbt.type_bigint() }}) as override_id,
        cast(entity as {{ dbt.type_string() }}) as entity,
        cast(row_key as {{ dbt.type_string() }}) as row_key,
        cast(entry_id as {{ dbt.type_string() }}) as entry_id,
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(line_no as {{ dbt.type_bigint() }}) as line_no,
        cast(expense_id as {{ dbt.type_string() }}) as expense_id,
        cast(client_id as {{ dbt.type_string() }}) as client_id,
        cast(vendor as {{ dbt.type_string() }}) as vendor,
        cast(product as {{ dbt.type_string() }}) as product,
        cast(staff_id as {{ dbt.type_string() }}) as staff_id,

        ---------- text
        cast(action as {{ dbt.type_string() }}) as action,
        cast(column_name as {{ dbt.type_string() }}) as column_name,
        cast(value as {{ dbt.type_string() }}) as value,

        ---------- dates
        cast(month as date) as month

    from source

)

select * from renamed
