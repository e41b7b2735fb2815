{#
    Accounts and items of vendor invoice lines that no account_map row maps: their lines
    count as category `other` (not recurring revenue) until one does. One row per source
    and account (or item name where the line has no account), for the run's summary.
#}

with

invoice_lines as (

    select * from {{ ref('int_invoice_lines_categorized') }}
    where is_category_unmapped

)

select
    client_source,
    coalesce(account_code, sku) as account,
    count(*) as invoice_lines,
    sum(amount) as amount
from invoice_lines
group by client_source, coalesce(account_code, sku)
