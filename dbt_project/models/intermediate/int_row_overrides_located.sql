{#
    Where each corrected input row lands in the marts: one row per corrected row (entity and
    row_key) and place it touches, for the marts' overridden_rows column.

    A fact (time entry, invoice line, expense) is placed both where the file had it and
    where the correction puts it (a corrected client or date touches both months); an
    excluded fact only where it was. A license snapshot is placed at its own key. A client
    correction touches every month of the client (month NULL); a staff correction every
    month of the person (month NULL) and the client months the person's work costs
    (an hourly_cost is in their labour cost). A correction whose row is not in the data
    touches nothing (the app lists it as "row not found in the latest data").
#}

with

row_overrides as (

    select distinct
        entity,
        row_key,
        entry_id,
        invoice_id,
        line_no,
        expense_id,
        client_id,
        vendor,
        product,
        month,
        staff_id
    from {{ ref('stg_raw__row_overrides') }}

),

time_entries_as_filed as (

    select * from {{ ref('stg_raw__time_entries') }}

),

time_entries as (

    select * from {{ ref('int_time_entries_corrected') }}

),

invoice_lines_as_filed as (

    select * from {{ ref('stg_raw__invoices') }}

),

invoice_lines as (

    select * from {{ ref('int_invoice_lines_corrected') }}

),

expenses_as_filed as (

    select * from {{ ref('stg_raw__expenses') }}

),

expenses as (

    select * from {{ ref('int_expenses_corrected') }}

),

license_snapshots as (

    select * from {{ ref('stg_raw__licenses') }}

),

clients as (

    select * from {{ ref('stg_raw__clients') }}

),

staff as (

    select * from {{ ref('stg_raw__staff') }}

),

located as (

    select
        row_overrides.entity,
        row_overrides.row_key,
        time_entries_as_filed.client_id,
        time_entries_as_filed.staff_id,
        cast(null as {{ dbt.type_string() }}) as vendor,
        cast(null as {{ dbt.type_string() }}) as product,
        {{ month_start('time_entries_as_filed.work_date') }} as month
    from row_overrides
    inner join time_entries_as_filed
        on row_overrides.entity = 'time_entries'
        and time_entries_as_filed.entry_id = row_overrides.entry_id

    union all

    select
        row_overrides.entity,
        row_overrides.row_key,
        time_entries.client_id,
        time_entries.staff_id,
        null,
        null,
        {{ month_start('time_entries.work_date') }}
    from row_overrides
    inner join time_entries
        on row_overrides.entity = 'time_entries'
        and time_entries.entry_id = row_overrides.entry_id

    union all

    select
        row_overrides.entity,
        row_overrides.row_key,
        invoice_lines_as_filed.client_id,
        null,
        null,
        null,
        {{ month_start('invoice_lines_as_filed.invoice_date') }}
    from row_overrides
    inner join invoice_lines_as_filed
        on row_overrides.entity = 'invoices'
        and invoice_lines_as_filed.invoice_id = row_overrides.invoice_id
        and invoice_lines_as_filed.line_no = row_overrides.line_no

    union all

    select
        row_overrides.entity,
        row_overrides.row_key,
        invoice_lines.client_id,
        null,
        null,
        null,
        {{ month_start('invoice_lines.invoice_date') }}
    from row_overrides
    inner join invoice_lines
        on row_overrides.entity = 'invoices'
        and invoice_lines.invoice_id = row_overrides.invoice_id
        and invoice_lines.line_no = row_overrides.line_no

    union all

    select
        row_overrides.entity,
        row_overrides.row_key,
        expenses_as_filed.client_id,
        null,
        null,
        null,
        {{ month_start('expenses_as_filed.expense_date') }}
    from row_overrides
    inner join expenses_as_filed
        on row_overrides.entity = 'expenses'
        and expenses_as_filed.expense_id = row_overrides.expense_id

    union all

    select
        row_overrides.entity,
        row_overrides.row_key,
        expenses.client_id,
        null,
        null,
        null,
        {{ month_start('expenses.expense_date') }}
    from row_overrides
    inner join expenses
        on row_overrides.entity = 'expenses'
        and expenses.expense_id = row_overrides.expense_id

    union all

    select
        row_overrides.entity,
        row_overrides.row_key,
        license_snapshots.client_id,
        null,
        license_snapshots.vendor,
        license_snapshots.product,
        {{ month_start('license_snapshots.snapshot_date') }}
    from row_overrides
    inner join license_snapshots
        on row_overrides.entity = 'licenses'
        and license_snapshots.client_id = row_overrides.client_id
        and coalesce(license_snapshots.vendor, '') = coalesce(row_overrides.vendor, '')
        and license_snapshots.product = row_overrides.product
        and {{ month_start('license_snapshots.snapshot_date') }} = row_overrides.month

    union all

    select
        row_overrides.entity,
        row_overrides.row_key,
        clients.client_id,
        null,
        null,
        null,
        null
    from row_overrides
    inner join clients
        on row_overrides.entity = 'clients'
        and clients.client_id = row_overrides.client_id

    union all

    select
        row_overrides.entity,
        row_overrides.row_key,
        null,
        staff.staff_id,
        null,
        null,
        null
    from row_overrides
    inner join staff
        on row_overrides.entity = 'staff'
        and staff.staff_id = row_overrides.staff_id

    union all

    select distinct
        row_overrides.entity,
        row_overrides.row_key,
        time_entries.client_id,
        null,
        null,
        null,
        {{ month_start('time_entries.work_date') }}
    from row_overrides
    inner join staff
        on row_overrides.entity = 'staff'
        and staff.staff_id = row_overrides.staff_id
    inner join time_entries
        on time_entries.staff_id = staff.staff_id
    where time_entries.client_id is not null
        and not time_entries.is_absence

)

select distinct
    cast(entity as {{ dbt.type_string() }}) as override_entity,
    cast(row_key as {{ dbt.type_string() }}) as row_key,
    cast(client_id as {{ dbt.type_string() }}) as client_id,
    cast(staff_id as {{ dbt.type_string() }}) as staff_id,
    cast(vendor as {{ dbt.type_string() }}) as vendor,
    cast(product as {{ dbt.type_string() }}) as product,
    cast(month as date) as month
from located
