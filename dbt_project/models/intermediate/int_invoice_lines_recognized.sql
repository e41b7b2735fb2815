{#
    Invoice lines that count as revenue: every status except draft and void (credit lines,
    with a negative amount, included), with their month and whether they are recurring
    revenue (category recurring or license).
#}

with

invoice_lines as (

    select * from {{ ref('int_invoice_lines_corrected') }}

),

invoice_lines_recognized as (

    select
        invoice_id,
        line_no,
        client_id,
        invoice_date,
        {{ month_start('invoice_date') }} as invoice_month,
        invoice_status,
        line_category,
        amount,
        coalesce(line_category in ('recurring', 'license'), false) as is_recurring,
        source_upload_id,
        source_row_number

    from invoice_lines
    where invoice_status not in ('draft', 'void')

)

select * from invoice_lines_recognized
