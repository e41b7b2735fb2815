{#
    Held client keys: vendor rows whose client no alias names and no normalised name
    matches, one row per source and key with the rows waiting in each entity. Their rows are
    in the warehouse and out of every client's numbers (held time still counts for the staff
    member); an alias for the key brings them in on the next run.
#}

with

client_identities as (

    select * from {{ ref('stg_raw__client_identities') }}

)

select
    client_source,
    client_key,
    time_entry_rows,
    invoice_line_rows,
    expense_rows,
    coalesce(license_fact_rows, 0) as license_fact_rows,
    time_entry_rows + invoice_line_rows + expense_rows + coalesce(license_fact_rows, 0)
        as held_rows
from client_identities
where resolution = 'held'
