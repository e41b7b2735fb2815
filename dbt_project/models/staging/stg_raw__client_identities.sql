{#
    Client identity of vendor rows (contract v2): every (client_source, client_key) that
    names a client by the vendor's key (client_id empty) in time entries, invoices,
    expenses or license facts, with how it resolves, in the spec's order:
      1. an alias row for (source, key) (case-insensitive key): `alias`, or `internal` for
         alias client_id `-` (the MSP itself: client_id NULL);
      2. else an exact match of the normalised name (client_name_normalized; `X T/A Y` tries
         X and Y on both sides) to exactly one client: `name_match` (automatic). The name is
         the key itself, or the vendor's own name of the client where the file has one
         (Partner Center: the key is the tenant CustomerId, the name CustomerName);
      3. else `held`: the rows stay in the warehouse with client_id NULL and are left out
         of every client's numbers until an alias names the client.
    A normalised name shared by two clients, or a key whose parts match two different
    clients, is ambiguous: held, never guessed.
    The staging models of the facts join this model, so every model downstream sees the
    resolved client_id. It reads the raw tables (not the staging models) to stay upstream
    of them.
#}

with

vendor_rows as (

    select client_source, client_key, cast(null as {{ dbt.type_string() }}) as client_name,
        'time_entries' as entity
    from {{ source('raw', 'time_entries') }}
    where client_id is null and client_key is not null
    union all
    select client_source, client_key, cast(null as {{ dbt.type_string() }}) as client_name,
        'invoices' as entity
    from {{ source('raw', 'invoices') }}
    where client_id is null and client_key is not null
    union all
    select client_source, client_key, cast(null as {{ dbt.type_string() }}) as client_name,
        'expenses' as entity
    from {{ source('raw', 'expenses') }}
    where client_id is null and client_key is not null
    union all
    select client_source, client_key, client_name, 'license_facts' as entity
    from {{ source('raw', 'license_facts') }}
    where client_id is null and client_key is not null

),

vendor_keys as (

    select
        client_source,
        client_key,
        coalesce(lower(trim(client_source)), '') as client_source_normalized,
        lower(trim(client_key)) as client_key_normalized,
        -- the name compared with client names: the vendor's own name, else the key
        coalesce(max(client_name), client_key) as vendor_client_name,
        sum(case when entity = 'time_entries' then 1 else 0 end) as time_entry_rows,
        sum(case when entity = 'invoices' then 1 else 0 end) as invoice_line_rows,
        sum(case when entity = 'expenses' then 1 else 0 end) as expense_rows,
        sum(case when entity = 'license_facts' then 1 else 0 end) as license_fact_rows
    from vendor_rows
    group by
        client_source,
        client_key

),

aliases as (

    select * from {{ ref('stg_raw__client_aliases') }}

),

clients as (

    select client_id, client_name from {{ source('raw', 'clients') }}

),

key_names as (

    select client_source, client_key,
        {{ client_name_normalized(client_name_trading_part('vendor_client_name', 1)) }}
            as name_normalized
    from vendor_keys
    union
    select client_source, client_key,
        {{ client_name_normalized(client_name_trading_part('vendor_client_name', 2)) }}
            as name_normalized
    from vendor_keys

),

client_names as (

    select client_id,
        {{ client_name_normalized(client_name_trading_part('client_name', 1)) }} as name_normalized
    from clients
    union
    select client_id,
        {{ client_name_normalized(client_name_trading_part('client_name', 2)) }} as name_normalized
    from clients

),

unambiguous_client_names as (

    select
        name_normalized,
        min(client_id) as client_id
    from client_names
    where name_normalized <> ''
    group by name_normalized
    having count(distinct client_id) = 1

),

name_matches as (

    select
        key_names.client_source,
        key_names.client_key,
        min(unambiguous_client_names.client_id) as client_id
    from key_names
    inner join unambiguous_client_names
        on key_names.name_normalized = unambiguous_client_names.name_normalized
    where key_names.name_normalized <> ''
    group by
        key_names.client_source,
        key_names.client_key
    having count(distinct unambiguous_client_names.client_id) = 1

),

resolved as (

    select
        vendor_keys.client_source,
        vendor_keys.client_key,
        vendor_keys.client_source_normalized,
        case
            when aliases.client_source is not null then aliases.client_id
            else name_matches.client_id
        end as client_id,
        case
            when aliases.client_source is not null and aliases.is_internal then 'internal'
            when aliases.client_source is not null then 'alias'
            when name_matches.client_id is not null then 'name_match'
            else 'held'
        end as resolution,
        vendor_keys.time_entry_rows,
        vendor_keys.invoice_line_rows,
        vendor_keys.expense_rows,
        vendor_keys.license_fact_rows

    from vendor_keys
    left join aliases
        on vendor_keys.client_source_normalized = aliases.client_source
        and vendor_keys.client_key_normalized = aliases.source_key_normalized
    left join name_matches
        on coalesce(vendor_keys.client_source, '') = coalesce(name_matches.client_source, '')
        and vendor_keys.client_key = name_matches.client_key

)

select
    cast(client_source as {{ dbt.type_string() }}) as client_source,
    cast(client_key as {{ dbt.type_string() }}) as client_key,
    cast(client_source_normalized as {{ dbt.type_string() }}) as client_source_normalized,
    cast(client_id as {{ dbt.type_string() }}) as client_id,
    cast(resolution as {{ dbt.type_string() }}) as resolution,
    cast(time_entry_rows as {{ dbt.type_bigint() }}) as time_entry_rows,
    cast(invoice_line_rows as {{ dbt.type_bigint() }}) as invoice_line_rows,
    cast(expense_rows as {{ dbt.type_bigint() }}) as expense_rows,
    cast(license_fact_rows as {{ dbt.type_bigint() }}) as license_fact_rows
from resolved
