{#
    Clients with the analysts' corrections of their attributes applied
    (docs/trust.md#corrections): a set column has its new value. A client is never excluded
    (its facts would lose their client, not disappear). is_overridden marks clients with any
    active correction. Every model downstream reads clients from here, never from staging.
#}

with

clients as (

    select * from {{ ref('stg_raw__clients') }}

),

row_overrides as (

    {{ row_overrides_pivoted(
        'clients', ['client_id'],
        ['client_name', 'industry', 'status', 'contract_type', 'contract_start', 'contract_end',
         'monthly_contract_value', 'managed_users', 'managed_endpoints']
    ) }}

),

clients_corrected as (

    select
        clients.client_id,
        {{ overridden('client_name', dbt.type_string(), 'clients.client_name') }} as client_name,
        {{ overridden('industry', dbt.type_string(), 'clients.industry') }} as industry,
        {{ overridden('status', dbt.type_string(), 'clients.client_status') }} as client_status,
        {{ overridden('contract_type', dbt.type_string(), 'clients.contract_type') }}
            as contract_type,
        {{ overridden('monthly_contract_value', 'numeric(18, 4)', 'clients.monthly_contract_value') }}
            as monthly_contract_value,
        {{ overridden('managed_users', dbt.type_bigint(), 'clients.managed_users') }}
            as managed_users,
        {{ overridden('managed_endpoints', dbt.type_bigint(), 'clients.managed_endpoints') }}
            as managed_endpoints,
        {{ overridden('contract_start', 'date', 'clients.contract_start_date') }}
            as contract_start_date,
        {{ overridden('contract_end', 'date', 'clients.contract_end_date') }}
            as contract_end_date,
        row_overrides.client_id is not null as is_overridden,
        clients.source_upload_id,
        clients.source_row_number

    from clients
    left join row_overrides
        on clients.client_id = row_overrides.client_id

)

select * from clients_corrected
