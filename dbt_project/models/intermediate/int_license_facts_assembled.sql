{#
    License rows assembled from vendor facts (vendor-exports spec, "Licenses assembled from
    facts"): one row per (client, vendor, product, month) from whichever facts exist.
      - seats_purchased, unit_cost, term_end_date: Partner Center `purchased` facts in force
        on the month's last day, one charge row per subscription (latest effective_date =
        ChargeStartDate, then latest as_of_date = OrderDate), quantities summed per product;
        unit cost seat-weighted, divided by 12 when the billing frequency is annual;
      - seats_assigned: distinct users holding the product in the client's latest m365_users
        export of the month;
      - seats_active: distinct users holding it in the client's latest usage report of the
        month whose latest activity is at most 30 days before the refresh date, deleted
        users excluded;
      - seats_billed, unit_price: PSA `billed` facts in force on the month's last day.
    In force on day D: effective_date <= D and (no cancelled_date or cancelled_date >= D).
    Months run up to the files' horizon, the month of the newest dated row of any input: an
    annual plan's charge row, in force for a year, gives no rows for months no file reaches.
    A fact kind the client has for the month but not for this product counts 0 (the file
    was uploaded and the product is not in it); a kind the client has no fact of for the
    month is NULL (unknown). Rows come from purchase, assignment or usage facts: billing
    facts alone create none. Held facts (no client) are left out.
    Products: the product_map row of the fact's source family (or profile) where one exists,
    else Microsoft's catalogue (seed microsoft_products: display, usage report or SKU part
    number, case-insensitive), else the name as given; Microsoft names compare
    case-insensitively. sku: Microsoft's SKU part number, else the fact's own sku.
#}

with

license_facts as (

    select * from {{ ref('stg_raw__license_facts') }}
    where client_id is not null

),

product_map as (

    select * from {{ ref('stg_raw__product_map') }}

),

microsoft_products as (

    select
        product_display_name,
        sku_part_number,
        lower(trim(product_display_name)) as display_name_normalized,
        lower(trim(usage_report_name)) as usage_name_normalized,
        lower(trim(sku_part_number)) as sku_normalized
    from {{ ref('microsoft_products') }}

),

facts_identified as (

    select
        license_facts.client_id,
        license_facts.fact,
        license_facts.user_hash,
        license_facts.subscription_id,
        license_facts.quantity,
        license_facts.unit_cost,
        license_facts.unit_price,
        license_facts.billing_frequency,
        license_facts.is_deleted,
        license_facts.as_of_date,
        license_facts.effective_date,
        license_facts.cancelled_date,
        license_facts.term_end_date,
        coalesce(product_map.vendor, license_facts.vendor) as vendor,
        coalesce(
            product_map.product,
            microsoft_products.product_display_name,
            license_facts.product
        ) as product,
        lower(trim(coalesce(
            product_map.product,
            microsoft_products.product_display_name,
            license_facts.product
        ))) as product_key,
        coalesce(microsoft_products.sku_part_number, license_facts.sku) as sku
    from license_facts
    left join product_map
        on lower(trim(license_facts.product)) = product_map.source_product_normalized
        and lower(product_map.product_source) in (
            lower(license_facts.client_source), lower(license_facts.fact_source)
        )
    left join microsoft_products
        on product_map.product is null
        and lower(trim(license_facts.product)) in (
            microsoft_products.display_name_normalized,
            microsoft_products.usage_name_normalized,
            microsoft_products.sku_normalized
        )

),

{# ---------------------------------------------------------------- purchases (Partner Center) #}

{# The files' horizon: the last day of the month of the newest dated row of any input (a
   license fact's as_of_date, a work date, an invoice or expense date). A charge that runs on
   (an annual plan paid up front) gives rows up to there, never into months no file reaches:
   those would show a year of seat cost against no revenue. #}
horizon as (

    select {{ month_end('max(day_at)') }} as horizon_date
    from (
        select max(as_of_date) as day_at from license_facts
        union all
        select max(work_date) from {{ ref('stg_raw__time_entries') }}
        union all
        select max(invoice_date) from {{ ref('stg_raw__invoices') }}
        union all
        select max(expense_date) from {{ ref('stg_raw__expenses') }}
    ) as newest

),

purchase_days as (

    select
        facts_identified.client_id, facts_identified.vendor, facts_identified.product_key,
        {{ generate_day_series(
            'facts_identified.effective_date',
            'least(horizon.horizon_date, coalesce(facts_identified.cancelled_date,'
            ~ ' case when facts_identified.as_of_date > facts_identified.effective_date'
            ~ ' then facts_identified.as_of_date else facts_identified.effective_date end))'
        ) }} as day_at
    from facts_identified
    cross join horizon
    where facts_identified.fact = 'purchased' and facts_identified.effective_date is not null

),

purchase_months as (

    select distinct
        client_id, vendor, product_key,
        {{ month_start('day_at') }} as month
    from purchase_days

),

snapshot_months as (

    select distinct client_id, vendor, product_key, {{ month_start('as_of_date') }} as month
    from facts_identified
    where fact in ('assigned', 'active')

),

row_months as (

    select *,
        {{ month_end('month') }} as month_end
    from (
        select client_id, vendor, product_key, month from purchase_months
        union
        select client_id, vendor, product_key, month from snapshot_months
    ) as months

),

{# Charge rows and PSA additions in force on the last day of a client month, one per
   subscription: the latest effective_date, then the latest as_of_date. #}
in_force as (

    select
        client_months.client_id,
        client_months.month,
        facts_identified.fact,
        facts_identified.vendor,
        facts_identified.product_key,
        facts_identified.quantity,
        facts_identified.unit_cost,
        facts_identified.unit_price,
        facts_identified.billing_frequency,
        facts_identified.term_end_date,
        row_number() over (
            partition by
                client_months.client_id,
                client_months.month,
                facts_identified.fact,
                facts_identified.vendor,
                facts_identified.product_key,
                facts_identified.subscription_id
            order by facts_identified.effective_date desc, facts_identified.as_of_date desc
        ) as charge_rank
    from (select distinct client_id, month, month_end from row_months) as client_months
    inner join facts_identified
        on facts_identified.client_id = client_months.client_id
        and facts_identified.fact in ('purchased', 'billed')
        and facts_identified.effective_date <= client_months.month_end
        and (
            facts_identified.cancelled_date is null
            or facts_identified.cancelled_date >= client_months.month_end
        )

),

charges_in_force as (

    select
        *,
        case
            when lower(billing_frequency) like '%annual%' then unit_cost / 12
            else unit_cost
        end as monthly_unit_cost
    from in_force
    where charge_rank = 1

),

purchased as (

    select
        client_id, month, vendor, product_key,
        sum(quantity) as seats_purchased,
        sum(quantity * monthly_unit_cost) / nullif(sum(case when monthly_unit_cost is not null then quantity end), 0)
            as unit_cost,
        max(term_end_date) as term_end_date
    from charges_in_force
    where fact = 'purchased'
    group by client_id, month, vendor, product_key

),

billed as (

    select
        client_id, month, vendor, product_key,
        sum(quantity) as seats_billed,
        sum(quantity * unit_price) / nullif(sum(case when unit_price is not null then quantity end), 0)
            as unit_price
    from charges_in_force
    where fact = 'billed'
    group by client_id, month, vendor, product_key

),

{# --------------------------------------------------------------- Microsoft 365 snapshots #}

{# The client's latest export of each kind in the month (a re-export replaces the earlier). #}
latest_snapshots as (

    select
        client_id,
        fact,
        {{ month_start('as_of_date') }} as month,
        max(as_of_date) as as_of_date
    from facts_identified
    where fact in ('assigned', 'active')
    group by client_id, fact, {{ month_start('as_of_date') }}

),

snapshot_facts as (

    select facts_identified.*, latest_snapshots.month
    from facts_identified
    inner join latest_snapshots
        on facts_identified.client_id = latest_snapshots.client_id
        and facts_identified.fact = latest_snapshots.fact
        and facts_identified.as_of_date = latest_snapshots.as_of_date

),

assigned as (

    select
        client_id, month, vendor, product_key,
        count(distinct user_hash) as seats_assigned
    from snapshot_facts
    where fact = 'assigned'
    group by client_id, month, vendor, product_key

),

active as (

    select
        client_id, month, vendor, product_key,
        count(distinct case
            when not coalesce(is_deleted, false)
                and effective_date >= {{ dbt.dateadd('day', -30, 'as_of_date') }}
            then user_hash
        end) as seats_active
    from snapshot_facts
    where fact = 'active'
    group by client_id, month, vendor, product_key

),

{# Which fact kinds each client has for a month (NULL vs 0, see above). #}
client_month_kinds as (

    select distinct client_id, month, fact
    from (
        select client_id, month, fact from charges_in_force
        union all
        select client_id, month, fact from latest_snapshots
    ) as kinds

),

product_names as (

    select client_id, vendor, product_key, max(product) as product, max(sku) as sku
    from facts_identified
    group by client_id, vendor, product_key

),

assembled as (

    select
        row_months.client_id,
        row_months.vendor,
        product_names.product,
        product_names.sku,
        row_months.month_end as snapshot_date,
        case
            when has_purchased.fact is not null then coalesce(purchased.seats_purchased, 0)
        end as seats_purchased,
        case
            when has_assigned.fact is not null then coalesce(assigned.seats_assigned, 0)
        end as seats_assigned,
        case
            when has_active.fact is not null then coalesce(active.seats_active, 0)
        end as seats_active,
        case
            when has_billed.fact is not null then coalesce(billed.seats_billed, 0)
        end as seats_billed,
        purchased.unit_cost,
        billed.unit_price,
        purchased.term_end_date,
        purchased.seats_purchased is not null as has_purchase_fact,
        assigned.seats_assigned is not null as has_assignment_fact,
        active.seats_active is not null as has_usage_fact
    from row_months
    inner join product_names
        on row_months.client_id = product_names.client_id
        and coalesce(row_months.vendor, '') = coalesce(product_names.vendor, '')
        and row_months.product_key = product_names.product_key
    {% for kind, alias in [('purchased', 'has_purchased'), ('assigned', 'has_assigned'),
                           ('active', 'has_active'), ('billed', 'has_billed')] %}
    left join client_month_kinds as {{ alias }}
        on {{ alias }}.client_id = row_months.client_id
        and {{ alias }}.month = row_months.month
        and {{ alias }}.fact = '{{ kind }}'
    {% endfor %}
    {% for fact in ['purchased', 'assigned', 'active', 'billed'] %}
    left join {{ fact }}
        on {{ fact }}.client_id = row_months.client_id
        and {{ fact }}.month = row_months.month
        and coalesce({{ fact }}.vendor, '') = coalesce(row_months.vendor, '')
        and {{ fact }}.product_key = row_months.product_key
    {% endfor %}

)

select
    cast(client_id as {{ dbt.type_string() }}) as client_id,
    cast(vendor as {{ dbt.type_string() }}) as vendor,
    cast(product as {{ dbt.type_string() }}) as product,
    cast(sku as {{ dbt.type_string() }}) as sku,
    cast(snapshot_date as date) as snapshot_date,
    cast(seats_purchased as {{ dbt.type_bigint() }}) as seats_purchased,
    cast(seats_assigned as {{ dbt.type_bigint() }}) as seats_assigned,
    cast(seats_active as {{ dbt.type_bigint() }}) as seats_active,
    cast(seats_billed as {{ dbt.type_bigint() }}) as seats_billed,
    cast(unit_cost as numeric(18, 4)) as unit_cost,
    cast(unit_price as numeric(18, 4)) as unit_price,
    cast(term_end_date as date) as term_end_date
from assembled
-- billing facts alone create no row; purchase months where nothing was in force either
where has_purchase_fact or has_assignment_fact or has_usage_fact
