"""Vendor export fixtures written from the vendors' documented headers.

Headers are copied from docs/sources.md (vendor-formats-reference.md): never our canonical
files renamed. Each builder returns the file text.
"""

from __future__ import annotations

import csv
import io
import json

XERO_HEADER = [
    "ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "SAAddressLine1",
    "SAAddressLine2",
    "SAAddressLine3",
    "SAAddressLine4",
    "SACity",
    "SARegion",
    "SAPostalCode",
    "SACountry",
    "InvoiceNumber",
    "Reference",
    "InvoiceDate",
    "DueDate",
    "PlannedDate",
    "Total",
    "TaxTotal",
    "InvoiceAmountPaid",
    "InvoiceAmountDue",
    "InventoryItemCode",
    "Description",
    "Quantity",
    "UnitAmount",
    "Discount",
    "LineAmount",
    "AccountCode",
    "TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "Type",
    "Sent",
    "Status",
]


def csv_text(header: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in header})
    return out.getvalue()


def xero_line(**values) -> dict:
    base = {
        "EmailAddress": "accounts@example.com",
        "POAddressLine1": "1 Main St",
        "Sent": "Sent",
        "TaxType": "15% GST on Income",
        "Currency": "USD",
        "Type": "Sales invoice",
        "Status": "Paid",
        "Discount": "",
        "TaxAmount": "0.00",
    }
    base.update(values)
    return base


def xero_csv(lines: list[dict]) -> str:
    return csv_text(XERO_HEADER, lines)


def cw_entry(
    entry_id: int,
    company: str,
    member: str,
    start: str,
    hours: float,
    option: str = "Billable",
    work_type: str = "Remote Support",
    charge_to: str = "ServiceTicket",
    rate: float = 150.0,
) -> dict:
    """One time entry as ConnectWise's GET /time/entries returns it."""
    return {
        "id": entry_id,
        "company": {"id": 250, "identifier": company, "name": f"{company} Inc"},
        "chargeToId": 4100 + entry_id,
        "chargeToType": charge_to,
        "member": {"id": 7, "identifier": member, "name": "Jane Tech"},
        "workType": {"id": 3, "name": work_type},
        "workRole": {"id": 2, "name": "Engineer"},
        "timeStart": start,
        "timeEnd": start,
        "hoursDeduct": 0.0,
        "actualHours": hours,
        "billableOption": option,
        "notes": "Reset password for the user",
        "hoursBilled": hours,
        "enteredBy": member,
        "hourlyRate": rate,
        "status": "Open",
        "_info": {"lastUpdated": start},
    }


def cw_json(entries: list[dict]) -> str:
    return json.dumps(entries, indent=1)


def cw_flat_csv(entries: list[dict]) -> str:
    """The same entries flattened to CSV the way PSA scripts do: `company/identifier`."""
    flat = []
    for entry in entries:
        row = {}
        for key, value in entry.items():
            if isinstance(value, dict):
                for sub, inner in value.items():
                    row[f"{key}/{sub}"] = inner
            else:
                row[key] = value
        flat.append(row)
    header = list(dict.fromkeys(k for row in flat for k in row))
    return csv_text(header, flat)
