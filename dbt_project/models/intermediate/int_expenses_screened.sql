{#
    Every expense, screened for license bills (vendor-exports spec, "Never counted twice").
    A license bill is an expense whose account (expense_category) the account_map maps to
    `license`, or whose supplier's normalised name begins with a whole word of a listed
    license supplier (MOATMETRICS_LICENSE_SUPPLIERS). A license bill is left out of the
    client's cost in a month where license facts carry that client's seat cost (a license
    row with seats purchased and a unit cost, from the canonical licenses file, which is a
    complete fact, or assembled from vendor facts): the seats are in license_cost
    already, and counting the bill as well would count them twice. Per client and month; a
    bill with no license facts behind it stays an expense. left_out_reason says why a row
    is left out (NULL = counted); int_expenses_excluded lists those rows.
#}

with

expenses as (

    select * from {{ ref('int_expenses_corrected') }}

),

account_map as (

    select * from {{ ref('stg_raw__account_map') }}
    where account_category = 'license'

),

license_facts_costed as (

    select distinct
        client_id,
        {{ month_start('snapshot_date') }} as month
    from {{ ref('int_license_snapshots_unioned') }}
    where seats_purchased is not null and unit_cost is not null

),

license_accounts as (

    select distinct
        expenses.expense_id
    from expenses
    inner join account_map
        on lower(trim(expenses.expense_category)) = account_map.account_normalized
        and (
            expenses.client_source is null
            or lower(trim(expenses.client_source)) = lower(trim(account_map.account_source))
        )

),

screened as (

    select
        expenses.*,
        {{ month_start('expenses.expense_date') }} as expense_month,
        case
            when license_accounts.expense_id is not null then 'license_account'
            when {{ is_license_supplier('expenses.supplier') }} then 'license_supplier'
        end as license_bill_kind,
        license_facts_costed.client_id is not null as has_license_facts
    from expenses
    left join license_accounts
        on expenses.expense_id = license_accounts.expense_id
    left join license_facts_costed
        on expenses.client_id = license_facts_costed.client_id
        and {{ month_start('expenses.expense_date') }} = license_facts_costed.month

)

select
    *,
    cast(
        case
            when not has_license_facts then null
            when license_bill_kind = 'license_account' then
                'account mapped to license (account_map); license facts carry the'
                || ' client''s seat cost this month'
            when license_bill_kind = 'license_supplier' then
                'license supplier (MOATMETRICS_LICENSE_SUPPLIERS); license facts carry the'
                || ' client''s seat cost this month'
        end as {{ dbt.type_string() }}
    ) as left_out_reason
from screened
