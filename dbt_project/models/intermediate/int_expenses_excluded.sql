{#
    The expenses left out of client cost, with why (int_expenses_screened): license bills
    of a client and month whose seat cost license facts carry. Read it to check what
    "never counted twice" removed; the run's upload report points here.
#}

select
    expense_id,
    client_id,
    expense_date,
    expense_month,
    amount,
    expense_category,
    supplier,
    license_bill_kind,
    left_out_reason,
    source_upload_id,
    source_row_number
from {{ ref('int_expenses_screened') }}
where left_out_reason is not null
