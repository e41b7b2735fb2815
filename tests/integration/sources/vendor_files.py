# ruff: noqa: E501  (vendor header lines are kept as the vendors write them)
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


def header_list(line: str) -> list[str]:
    return line.split(",")


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


# -- QuickBooks Online (title block, group rows, subtotals, $1,200.00, US dates) -------------

QBO_SALES_CLASSIC = """Sales by Customer Detail
Ridgeline Tree Co
All Dates

,Date,Transaction Type,Num,Product/Service,Memo/Description,Qty,Sales Price,Amount,Balance
"Riverside Dental, PC",,,,,,,,,
,03/02/2026,Invoice,1001,Managed Services,Monthly plan,1,"1,200.00","$1,200.00","1,200.00"
,03/02/2026,Invoice,1001,M365 Business Premium,Seats,10,22.00,220.00,"1,420.00"
,03/15/2026,Credit Memo,1002,Managed Services,Credit,1,-50.00,-50.00,"1,370.00"
"Total for Riverside Dental, PC",,,,,,,,"$1,370.00",
Bridges of Pine Creek:BOPC Pebble,,,,,,,,,
,03/05/2026,Sales Receipt,1003,Hardware,Firewall,1,899.99,899.99,899.99
Total for Bridges of Pine Creek:BOPC Pebble,,,,,,,,$899.99,
TOTAL,,,,,,,,"$2,269.99",


Accrual Basis Monday, April 6, 2026 09:12 AM GMT-07:00
"""

QBO_SALES_MODERN = """Sales by Customer Detail
Ridgeline Tree Co
All Dates

Transaction date,Transaction type,Num,Product/Service full name,Memo/Description,Quantity,Sales price,Amount,Balance
"Riverside Dental, PC",,,,,,,,
03/02/2026,Invoice,1001,Managed Services,Monthly plan,1,"1,200.00","$1,200.00","1,200.00"
03/02/2026,Invoice,1001,M365 Business Premium,Seats,10,22.00,220.00,"1,420.00"
03/15/2026,Credit Memo,1002,Managed Services,Credit,1,-50.00,-50.00,"1,370.00"
"Total for Riverside Dental, PC",,,,,,,"$1,370.00",
Bridges of Pine Creek:BOPC Pebble,,,,,,,,
03/05/2026,Sales Receipt,1003,Hardware,Firewall,1,899.99,899.99,899.99
Total for Bridges of Pine Creek:BOPC Pebble,,,,,,,$899.99,
TOTAL,,,,,,,"$2,269.99",


Cash Basis Monday, April 6, 2026 09:12 AM GMT-07:00
"""

QBO_INVOICE_LIST = """PPSOH LLC
Invoice List by Date
January 1-August 13, 2026

,Transaction date,Transaction type,Num,Customer,Due date,Amount,Open balance
,03/02/2026,Invoice,1001,"Riverside Dental, PC",04/01/2026,"$1,420.00",0.00
,03/20/2026,Invoice,1004,Bridges of Pine Creek:BOPC Pebble,04/19/2026,300.00,300.00
,03/21/2026,Invoice,1005,Acme,12/31/2099,"$2,000.00","2,000.00"
TOTAL,,,,,,"$3,720.00","$2,300.00"


Accrual Basis Thursday, August 13, 2026 10:00 AM GMT-05:00
"""

# -- Microsoft 365 ----------------------------------------------------------------------------

M365_USERS_A_HEADER = header_list(
    "Display name,DirSyncEnabled,User principal name,Object Id,First name,Last name,When created,"
    "Soft deletion time stamp,Title,Department,Preferred data location,City,CountryOrRegion,"
    "Office,StateOrProvince,Usage location,Last dirsync time,Block credential,Licenses,"
    "Password never expires,Last password change time stamp,Mobile Phone,Phone number,"
    "Postal code,Preferred language,Street address,Fax,Proxy addresses"
)

M365_USERS_B_HEADER = [
    "Block credential", "City", "Country/Region", "Department", "DirSyncEnabled", "Display name",
    "Fax", "First name", "Last dirsync time", "Last name", "Last password change time stamp",
    "License assignment details", "Licenses", "Mobile Phone", "Oath token meta data",
    "Object Id", "Office", "Password never expires", "Phone number", "Postal code",
    "Preferred data location", "Preferred language", "Proxy addresses", "Release track",
    "Soft deletion time stamp", "State", "Street address", "Strong password required", "Title",
    "Usage location", "User principal name", "When created",
]  # fmt: skip

M365_USERS = [
    ("Adele Vance", "AdeleV@contoso.com", "Microsoft 365 Business Premium+Microsoft Teams Phone Standard", "False"),
    ("Alex Wilber", "AlexW@contoso.com", "Microsoft 365 Business Premium", "True"),
    ("Admin", "admin@contoso.com", "Unlicensed", "False"),
    ("Guest Person", "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com", "Microsoft 365 Business Basic", "False"),
]  # fmt: skip


def m365_users_csv(layout: str = "A", users=M365_USERS) -> str:
    rows = []
    for name, upn, licenses, blocked in users:
        first, _, last = name.partition(" ")
        row = {
            "Display name": name,
            "User principal name": upn,
            "First name": first,
            "Last name": last,
            "When created": "2022-03-18 19:49:35Z",
            "Block credential": blocked,
            "Usage location": "US",
            "Proxy addresses": f"SMTP:{upn}",
            "Mobile Phone": "+1 555 0100",
            "DirSyncEnabled": "False",
            "Password never expires": "False",
        }
        if layout == "A":
            row["Licenses"] = licenses
            header = M365_USERS_A_HEADER
        else:  # in one fixture the product is only in License assignment details
            row["License assignment details"] = licenses
            row["Licenses"] = ""
            header = M365_USERS_B_HEADER
        rows.append(row)
    return csv_text(header, rows)


M365_ACTIVE_HEADER = header_list(
    "Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,"
    "Has Exchange License,Has OneDrive License,Has SharePoint License,"
    "Has Skype For Business License,Has Yammer License,Has Teams License,"
    "Exchange Last Activity Date,OneDrive Last Activity Date,SharePoint Last Activity Date,"
    "Skype For Business Last Activity Date,Yammer Last Activity Date,Teams Last Activity Date,"
    "Exchange License Assign Date,OneDrive License Assign Date,SharePoint License Assign Date,"
    "Skype For Business License Assign Date,Yammer License Assign Date,"
    "Teams License Assign Date,Assigned Products"
)


def m365_active_csv(rows: list[dict]) -> str:
    full = []
    for row in rows:
        base = {"Report Refresh Date": "2026-06-30", "Is Deleted": "False"}
        base.update(row)
        full.append(base)
    return csv_text(M365_ACTIVE_HEADER, full)


# -- Partner Center new-commerce reconciliation ----------------------------------------------

PARTNER_CENTER_HEADER = header_list(
    "PartnerId,CustomerId,CustomerName,CustomerDomainName,CustomerCountry,InvoiceNumber,MpnId,"
    "ResellerMpnId,OrderId,OrderDate,ProductId,SkuId,AvailabilityId,SkuName,ProductName,"
    "ChargeType,UnitPrice,Quantity,Subtotal,TaxTotal,Total,Currency,PriceAdjustmentDescription,"
    "PublisherName,PublisherId,SubscriptionDescription,SubscriptionId,ChargeStartDate,"
    "ChargeEndDate,TermAndBillingCycle,EffectiveUnitPrice,UnitType,AlternateId,"
    "BillableQuantity,BillingFrequency,PricingCurrency,PCToBCExchangeRate,"
    "PCToBCExchangeRateDate,MeterDescription,ReservationOrderId,CreditReasonCode,"
    "SubscriptionStartDate,SubscriptionEndDate,ReferenceId,ProductQualifiers,PromotionId"
)


def partner_center_csv(rows: list[dict]) -> str:
    full = []
    for row in rows:
        base = {
            "PartnerId": "3b8c0a5e-0000-4000-8000-000000000001",
            "CustomerId": "6F3B1C2A-1111-4222-8333-444455556666",
            "CustomerName": "Contoso Dental LLC",
            "CustomerDomainName": "contosodental.onmicrosoft.com",
            "CustomerCountry": "US",
            "InvoiceNumber": "G012345678",
            "OrderId": "b2f6c1e0a9d8",
            "OrderDate": "6/1/2026",
            "ProductId": "CFQ7TTC0LCHC",
            "SkuId": "0002",
            "SkuName": "Microsoft 365 Business Premium",
            "ProductName": "Microsoft 365 Business Premium",
            "ChargeType": "new",
            "UnitPrice": "22.00",
            "Quantity": "10",
            "Currency": "USD",
            "PublisherName": "Microsoft Corporation",
            "SubscriptionId": "sub-1",
            "ChargeStartDate": "6/1/2026",
            "ChargeEndDate": "6/30/2026",
            "TermAndBillingCycle": "One-Year commitment for monthly billing",
            "EffectiveUnitPrice": "19.80",
            "UnitType": "Licenses",
            "BillableQuantity": "10",
            "BillingFrequency": "Monthly",
            "PricingCurrency": "USD",
            "PCToBCExchangeRate": "1",
            "SubscriptionStartDate": "6/1/2026",
            "SubscriptionEndDate": "5/31/2027",
        }
        base.update(row)
        full.append(base)
    return csv_text(PARTNER_CENTER_HEADER, full)


# -- PSA additions and Autotask ---------------------------------------------------------------


def cw_addition(addition_id: int, company: str, product: str, quantity: float, **extra) -> dict:
    """An agreement addition as the API returns it, with the agreement's company added."""
    base = {
        "id": addition_id,
        "product": {"id": 31, "identifier": product},
        "quantity": quantity,
        "lessIncluded": 0,
        "unitPrice": 25.0,
        "unitCost": 19.8,
        "billCustomer": "Billable",
        "effectiveDate": "2026-01-01T00:00:00Z",
        "cancelledDate": None,
        "taxableFlag": False,
        "description": "Microsoft 365 Business Premium",
        "agreementId": 77,
        "company": {"id": 250, "identifier": company, "name": f"{company} Inc"},
        "_info": {"lastUpdated": "2026-01-01T00:00:00Z"},
    }
    base.update(extra)
    return base


def autotask_entry(entry_id: int, **extra) -> dict:
    base = {
        "id": entry_id,
        "resourceID": 29682885,
        "companyID": 174,
        "ticketID": 7001,
        "billingCodeID": 29682801,
        "billingCodeName": "Remote Support",
        "dateWorked": "2026-07-06T00:00:00Z",
        "startDateTime": "2026-07-06T14:00:00Z",
        "endDateTime": "2026-07-06T15:30:00Z",
        "hoursWorked": 1.5,
        "hoursToBill": 1.5,
        "isNonBillable": False,
        "showOnInvoice": True,
        "summaryNotes": "Replaced the switch",
    }
    base.update(extra)
    return base


AUTOTASK_CSU_HEADER = [
    "Id", "ApproveAndPostDate", "ContractID", "ContractServiceID", "Cost", "EndDate",
    "InternalCurrencyPrice", "OrganizationalLevelAssociationID", "Price", "ServiceID",
    "StartDate", "Units", "VendorCompanyID", "companyID",
]  # fmt: skip

HALO_HEADER = [
    "Action ID", "Ticket ID", "Agent ID", "Client", "Work Date", "Hours Worked", "Billable",
    "Charge Type",
]  # fmt: skip
