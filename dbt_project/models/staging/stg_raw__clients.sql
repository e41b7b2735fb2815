with

source as (

    select * from {{ source('raw', 'clients') }}

),

renamed as (

    select

        ----------  ids
        cast(client_id as {{ dbt.type_string() }}) as client_id,

        ---------- text
        cast(client_name as {{ dbt.type_string() }}) as client_name,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(status as {{ dbt.type_string() }}) as client_status,
        cast(contract_type as {{ dbt.type_string() }}) as contract_type,

        ---------- numerics
        cast(monthly_contract_value as numeric(18, 4)) as monthly_contract_value,
        cast(managed_users as {{ dbt.type_bigint() }}) as managed_users,
        cast(managed_endpoints as {{ dbt.type_bigint() }}) as managed_endpoints,

        ---------- dates
        cast(contract_start as date) as contract_start_date,
        cast(contract_end as date) as contract_end_date,

        ---------- lineage
        cast(_upload_id as {{ dbt.type_string() }}) as source_upload_id,
        cast(_row_number as {{ dbt.type_bigint() }}) as source_row_number

    from source

)

select * from renamed
