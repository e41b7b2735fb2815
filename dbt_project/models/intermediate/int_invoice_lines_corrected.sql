{#
    Invoice lines with the analysts' corrections applied (docs/trust.md#corrections): an
    excluded line is gone, a set column has its new value (a corrected client_id counts as
    given, not held). is_overridden marks lines with any active correction. Every model
    downstream reads invoice lines from here, never from staging.
#}

with

invoice_lines as (

    select * from {{ ref('int_invoice_lines_categorized') }}

),

row_overrides as (

    {{ row_overrides_pivoted(
        'invoices', ['invoice_id', 'line_no'],
        ['client_id', 'invoice_date', 'due_date', 'status', 'category', 'amount']
    ) }}

),

invoice_lines_corrected as (

    select
        invoice_lines.invoice_id,
        invoice_lines.line_no,
        {{ overridden('client_id', dbt.type_string(), 'invoice_lines.client_id') }} as client_id,
        invoice_lines.client_source,
        invoice_lines.client_key,
        case
            when row_overrides.sets_client_id = 1 and row_overrides.client_id_value is null
                then 'none'
            when row_overrides.sets_client_id = 1 then 'given'
            else invoice_lines.client_resolution
        end as client_resolution,
        case
            when row_overrides.sets_client_id = 1 then false else invoice_lines.is_held
        end as is_held,
        invoice_lines.sku,
        {{ overridden('status', dbt.type_string(), 'invoice_lines.invoice_status') }}
            as invoice_status,
        {{ overridden('category', dbt.type_string(), 'invoice_lines.line_category') }}
            as line_category,
        invoice_lines.is_category_unmapped,
        invoice_lines.account_code,
        invoice_lines.currency_code,
        invoice_lines.quantity,
        invoice_lines.unit_price,
        {{ overridden('amount', 'numeric(18, 4)', 'invoice_lines.amount') }} as amount,
        {{ overridden('invoice_date', 'date', 'invoice_lines.invoice_date') }} as invoice_date,
        {{ overridden('due_date', 'date', 'invoice_lines.due_date') }} as due_date,
        row_overrides.invoice_id is not null as is_overridden,
        invoice_lines.source_upload_id,
        invoice_lines.source_row_number

    from invoice_lines
    left join row_overrides
        on invoice_lines.invoice_id = row_overrides.invoice_id
        and invoice_lines.line_no = row_overrides.line_no
    where {{ not_excluded() }}

)

select * from invoice_lines_corrected
