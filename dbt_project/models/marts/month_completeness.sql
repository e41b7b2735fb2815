{#
    One row per month of the data: how many rows each source sent for it and whether the
    month is complete, i.e. every source that usually reports has reported.

    A source is expected in a month when it has rows in at least 2 of the 3 calendar months
    before it ("usually reports"). An expected source with no rows in the month is missing.
    Time entries arrive day by day, so they must also reach half their usual volume (the
    average row count of those of the 3 previous months that had rows): a month with 10 time
    entries where staff usually log 1,200 is still in progress. A month is complete when no
    expected source is missing or short. The first months (no history) are complete; a
    source that has never reported (no expenses file) is never expected.
#}

{%- set min_reported_months = 2 %}
{%- set min_time_entry_share = 0.5 %}

with

invoice_lines as (

    select * from {{ ref('stg_raw__invoices') }}

),

time_entries as (

    select * from {{ ref('stg_raw__time_entries') }}

),

license_snapshots as (

    {# both inputs: the canonical licenses file and the rows assembled from vendor facts #}
    select * from {{ ref('int_license_snapshots_unioned') }}

),

expenses as (

    select * from {{ ref('stg_raw__expenses') }}

),

calendar_days as (

    select * from {{ ref('int_calendar_days_spined') }}

),

calendar_months as (

    select distinct calendar_month as month from calendar_days

),

sources as (

    select 'invoices' as source
    union all
    select 'time entries'
    union all
    select 'license snapshots'
    union all
    select 'expenses'

),

source_rows as (

    select 'invoices' as source, {{ month_start('invoice_date') }} as month, count(*) as row_count
    from invoice_lines
    group by {{ month_start('invoice_date') }}
    union all
    select 'time entries', {{ month_start('work_date') }}, count(*)
    from time_entries
    group by {{ month_start('work_date') }}
    union all
    select 'license snapshots', {{ month_start('snapshot_date') }}, count(*)
    from license_snapshots
    group by {{ month_start('snapshot_date') }}
    union all
    select 'expenses', {{ month_start('expense_date') }}, count(*)
    from expenses
    group by {{ month_start('expense_date') }}

),

{# The calendar has no gaps, so a frame of 3 rows is the 3 calendar months before. #}
source_months as (

    select
        calendar_months.month,
        sources.source,
        coalesce(source_rows.row_count, 0) as row_count
    from calendar_months
    cross join sources
    left join source_rows
        on source_rows.source = sources.source
        and source_rows.month = calendar_months.month

),

source_months_usual as (

    select
        *,
        coalesce(
            sum(case when row_count > 0 then 1 else 0 end) over previous_months, 0
        ) as reported_months,
        sum(row_count) over previous_months as previous_rows
    from source_months
    window previous_months as (
        partition by source order by month rows between 3 preceding and 1 preceding
    )

),

source_months_judged as (

    select
        *,
        case
            when reported_months > 0
                then cast(previous_rows as numeric(18, 2)) / reported_months
        end as usual_rows,
        reported_months >= {{ min_reported_months }} as is_expected
    from source_months_usual

),

source_months_status as (

    select
        *,
        case
            when not is_expected then 'not_expected'
            when row_count = 0 then 'missing'
            when source = 'time entries'
                and row_count < {{ min_time_entry_share }} * usual_rows then 'short'
            else 'reported'
        end as status
    from source_months_judged

),

months_pivoted as (

    select
        month,
        sum(case when source = 'invoices' then row_count else 0 end) as invoice_lines,
        sum(case when source = 'time entries' then row_count else 0 end) as time_entries,
        sum(case when source = 'license snapshots' then row_count else 0 end)
            as license_snapshots,
        sum(case when source = 'expenses' then row_count else 0 end) as expenses,
        max(case when source = 'time entries' then usual_rows end) as usual_time_entries,
        max(case when source = 'invoices' then status end) as invoices_status,
        max(case when source = 'time entries' then status end) as time_entries_status,
        max(case when source = 'license snapshots' then status end) as licenses_status,
        max(case when source = 'expenses' then status end) as expenses_status
    from source_months_status
    group by month

),

months_described as (

    select
        *,
        concat_ws(
            ', ',
            case when invoice_lines > 0 then 'invoices' end,
            case when time_entries > 0 then 'time entries' end,
            case when license_snapshots > 0 then 'license snapshots' end,
            case when expenses > 0 then 'expenses' end
        ) as reported_sources,
        concat_ws(
            ', ',
            case when invoices_status = 'missing' then 'invoices' end,
            case when time_entries_status = 'missing' then 'time entries' end,
            case when licenses_status = 'missing' then 'license snapshots' end,
            case when expenses_status = 'missing' then 'expenses' end
        ) as missing_sources,
        case when time_entries_status = 'short' then 'time entries' else '' end as short_sources
    from months_pivoted

),

final as (

    select
        cast(month as date) as month,
        cast(invoice_lines as {{ dbt.type_bigint() }}) as invoice_lines,
        cast(time_entries as {{ dbt.type_bigint() }}) as time_entries,
        cast(license_snapshots as {{ dbt.type_bigint() }}) as license_snapshots,
        cast(expenses as {{ dbt.type_bigint() }}) as expenses,
        cast(round(usual_time_entries, 2) as numeric(18, 2)) as usual_time_entries,
        cast(nullif(reported_sources, '') as varchar) as reported_sources,
        cast(nullif(missing_sources, '') as varchar) as missing_sources,
        cast(nullif(short_sources, '') as varchar) as short_sources,
        cast(missing_sources = '' and short_sources = '' as boolean) as is_complete

    from months_described

)

select * from final
