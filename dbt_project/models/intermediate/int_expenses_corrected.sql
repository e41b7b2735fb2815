{#
    Expenses with the analysts' corrections applied (docs/trust.md#corrections): an excluded
    expense is gone, a set column has its new value (a corrected client_id counts as given,
    not held). is_overridden marks expenses with any active correction. Every model
    downstream reads expenses from here, never from staging.
#}

with

expenses as (

    select * from {{ ref('stg_raw__expenses') }}

),

row_overrides as (

    {{ row_overrides_pivoted(
        'expenses', ['expense_id'], ['client_id', 'expense_date', 'amount', 'category']
    ) }}

),

expenses_corrected as (

    select
        expenses.expense_id,
        {{ overridden('client_id', dbt.type_string(), 'expenses.client_id') }} as client_id,
        expenses.client_source,
        expenses.client_key,
        expenses.supplier,
        case
            when row_overrides.sets_client_id = 1 and row_overrides.client_id_value is null
                then 'none'
            when row_overrides.sets_client_id = 1 then 'given'
            else expenses.client_resolution
        end as client_resolution,
        case when row_overrides.sets_client_id = 1 then false else expenses.is_held end as is_held,
        {{ overridden('category', dbt.type_string(), 'expenses.expense_category') }}
            as expense_category,
        {{ overridden('amount', 'numeric(18, 4)', 'expenses.amount') }} as amount,
        {{ overridden('expense_date', 'date', 'expenses.expense_date') }} as expense_date,
        row_overrides.expense_id is not null as is_overridden,
        expenses.source_upload_id,
        expenses.source_row_number

    from expenses
    left join row_overrides
        on expenses.expense_id = row_overrides.expense_id
    where {{ not_excluded() }}

)

select * from expenses_corrected
