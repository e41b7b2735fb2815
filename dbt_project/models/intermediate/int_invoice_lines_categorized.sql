{#
    Invoice lines with their category (vendor-exports spec, "account_map"). An accounting
    export names no category of ours: a vendor line (one with a client_source) takes the
    category its source's account_map gives its account code (Xero AccountCode), else its item
    name (QuickBooks Product/Service, which has no account column), compared
    case-insensitively. A vendor line no account_map row maps keeps the ingest default
    (other) and is flagged is_category_unmapped, so the run names the account to map
    (int_invoice_accounts_unmapped). Canonical lines keep the category they were given.
#}

with

invoice_lines as (

    select * from {{ ref('stg_raw__invoices') }}

),

account_map as (

    select * from {{ ref('stg_raw__account_map') }}

),

invoice_lines_categorized as (

    select
        invoice_lines.invoice_id,
        invoice_lines.line_no,
        invoice_lines.client_id,
        invoice_lines.client_source,
        invoice_lines.client_key,
        invoice_lines.client_resolution,
        invoice_lines.is_held,
        invoice_lines.sku,
        invoice_lines.invoice_status,
        coalesce(
            by_account.account_category, by_item.account_category, invoice_lines.line_category
        ) as line_category,
        invoice_lines.client_source is not null
            and coalesce(invoice_lines.account_code, invoice_lines.sku) is not null
            and by_account.account_category is null
            and by_item.account_category is null as is_category_unmapped,
        invoice_lines.account_code,
        invoice_lines.currency_code,
        invoice_lines.quantity,
        invoice_lines.unit_price,
        invoice_lines.amount,
        invoice_lines.invoice_date,
        invoice_lines.due_date,
        invoice_lines.source_upload_id,
        invoice_lines.source_row_number

    from invoice_lines
    left join account_map as by_account
        on lower(trim(invoice_lines.account_code)) = by_account.account_normalized
        and lower(invoice_lines.client_source) = lower(by_account.account_source)
    left join account_map as by_item
        on by_account.account_category is null
        and lower(trim(invoice_lines.sku)) = by_item.account_normalized
        and lower(invoice_lines.client_source) = lower(by_item.account_source)

)

select * from invoice_lines_categorized
