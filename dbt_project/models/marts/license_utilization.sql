with

license_snapshots as (

    select * from {{ ref('int_license_snapshots_corrected') }}

),

license_months as (

    select
        client_id,
        vendor,
        product,
        {{ month_start('snapshot_date') }} as month,
        seats_purchased,
        seats_assigned,
        seats_active,
        seats_billed,
        unit_cost,
        unit_price,
        term_end_date,
        -- the mart row is the snapshot itself: 1 when an analyst corrected it
        case when is_overridden then 1 else 0 end as overridden_rows,
        license_source,
        missing_facts
    from license_snapshots

),

license_months_counted as (

    select
        *,
        greatest(seats_purchased - seats_active, 0) as unused_seats,
        -- unknown when the client's billed seats are unknown
        case
            when seats_billed is not null then greatest(seats_assigned - seats_billed, 0)
        end as unbilled_seats
    from license_months

),

license_months_rated as (

    select
        *,
        {{ divide_and_round('seats_assigned', 'seats_purchased', 4) }} as assignment_rate,
        {{ divide_and_round('seats_active', 'seats_purchased', 4) }} as utilization_rate,
        round(unused_seats * unit_cost, 2) as monthly_waste,
        -- NULL when unbilled_seats or unit_price is unknown
        round(unbilled_seats * unit_price, 2) as monthly_leakage
    from license_months_counted

),

{# Bands and recommendations read the published (4-place) utilization_rate. A comparison
   with an unknown value does not apply. #}
license_months_recommended as (

    select
        *,
        case
            when utilization_rate is null then null
            when utilization_rate >= 0.8 then 'optimal'
            when utilization_rate >= 0.5 then 'moderate'
            when utilization_rate >= 0.3 then 'under'
            else 'critical'
        end as utilization_band,
        case
            when seats_assigned > seats_purchased then 'true_up'
            when unbilled_seats > 0 then 'bill_client'
            when unused_seats >= 1 and utilization_rate < 0.8 then 'reclaim'
            else 'ok'
        end as recommendation
    from license_months_rated

),

final as (

    select
        cast(client_id as varchar) as client_id,
        cast(vendor as varchar) as vendor,
        cast(product as varchar) as product,
        cast(month as date) as month,
        cast(seats_purchased as bigint) as seats_purchased,
        cast(seats_assigned as bigint) as seats_assigned,
        cast(seats_active as bigint) as seats_active,
        cast(seats_billed as bigint) as seats_billed,
        cast(round(unit_cost, 2) as numeric(18, 2)) as unit_cost,
        cast(round(unit_price, 2) as numeric(18, 2)) as unit_price,
        cast(assignment_rate as numeric(18, 4)) as assignment_rate,
        cast(utilization_rate as numeric(18, 4)) as utilization_rate,
        cast(unused_seats as bigint) as unused_seats,
        cast(monthly_waste as numeric(18, 2)) as monthly_waste,
        cast(unbilled_seats as bigint) as unbilled_seats,
        cast(monthly_leakage as numeric(18, 2)) as monthly_leakage,
        cast(utilization_band as varchar) as utilization_band,
        cast(recommendation as varchar) as recommendation,
        cast(term_end_date as date) as term_end_date,
        cast(overridden_rows as bigint) as overridden_rows,
        cast(license_source as varchar) as license_source,
        cast(missing_facts as varchar) as missing_facts

    from license_months_recommended

)

select * from final
