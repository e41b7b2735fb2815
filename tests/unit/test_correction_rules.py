"""What a correction may say: values in the contract's types and suites, keys in canonical
form, and refusals that name the column, the value and the fix."""

from __future__ import annotations

import pytest

from moatmetrics.quality.corrections import CorrectionRefused, check


@pytest.mark.parametrize(
    ("entity", "key", "column", "value", "stored"),
    [
        ("time_entries", {"entry_id": "T1"}, "hours", "7.50", "7.5"),
        ("time_entries", {"entry_id": "T1"}, "billable", "No", "false"),
        ("time_entries", {"entry_id": "T1"}, "work_type", "Remote Support", "remote_support"),
        ("time_entries", {"entry_id": "T1"}, "client_id", "", None),
        ("invoices", {"invoice_id": "I1", "line_no": "2"}, "status", "Paid", "paid"),
        ("staff", {"staff_id": "S1"}, "end_date", "2025-03-14", "2025-03-14"),
    ],
)
def test_values_are_stored_in_canonical_form(entity, key, column, value, stored) -> None:
    assert check(entity, key, "set", column, value).value == stored


def test_a_license_row_is_named_by_its_month() -> None:
    key = {"client_id": "C1", "vendor": "", "product": "M365 E3", "month": "2025-03"}
    assert check("licenses", key, "exclude", None, None).row_key == (
        '{"client_id":"C1","month":"2025-03-01","product":"M365 E3","vendor":null}'
    )


@pytest.mark.parametrize(
    ("entity", "key", "action", "column", "value", "message"),
    [
        ("time_entries", {"entry_id": "T1"}, "set", "hours", "0",
         "time_entries column hours: value '0' is out of range; fix: give a value above 0 and"
         " at most 24"),
        ("invoices", {"invoice_id": "I1", "line_no": 1}, "set", "category", "misc",
         "invoices column category: value 'misc' is not allowed; fix: use one of recurring,"
         " project, labor, license, hardware, other"),
        ("time_entries", {"entry_id": "T1"}, "set", "hours", "",
         "time_entries column hours cannot be empty (the data contract requires it); fix: give"
         " a value, or exclude the row instead"),
        ("time_entries", {"entry_id": "T1"}, "set", "ticket_id", "X",
         "time_entries column 'ticket_id' cannot be set; fix: use one of staff_id, client_id,"
         " work_date, hours, billable, work_type, billing_option, bill_rate"),
        ("invoices", {"invoice_id": "I1"}, "exclude", None, None,
         "invoices rows are named by invoice_id, line_no; missing line_no; fix: give exactly"
         " invoice_id, line_no"),
        ("staff", {"staff_id": "S1"}, "exclude", None, None,
         "staff rows cannot be excluded (their facts would lose their staff_id, not"
         " disappear); fix: set a column instead"),
    ],
)  # fmt: skip
def test_refusals_name_column_value_and_fix(entity, key, action, column, value, message) -> None:
    with pytest.raises(CorrectionRefused) as refused:
        check(entity, key, action, column, value)
    assert str(refused.value) == message
