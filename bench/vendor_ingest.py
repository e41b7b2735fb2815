"""Vendor exports vs canonical CSV: ingest time of the same rows (not a timed test).

The 1m demo's time entries are written as ConnectWise time entries JSON (GET /time/entries
shape: nested company, member, workType; UTC timeStart) and its invoices as the Xero
44-column invoice export (day-first dates). Each variant is ingested into a fresh home
after the same clients and staff files; the figure is the wall time of ingesting the time
entries and invoices files (detection, reading, mapping, typing, validation, loading).

    .venv/bin/python bench/vendor_ingest.py [--scale 1m] [--out bench/results/...json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
XERO_HEADER = (
    "ContactName,EmailAddress,POAddressLine1,POAddressLine2,POAddressLine3,POAddressLine4,POCity,"
    "PORegion,POPostalCode,POCountry,SAAddressLine1,SAAddressLine2,SAAddressLine3,SAAddressLine4,"
    "SACity,SARegion,SAPostalCode,SACountry,InvoiceNumber,Reference,InvoiceDate,DueDate,"
    "PlannedDate,Total,TaxTotal,InvoiceAmountPaid,InvoiceAmountDue,InventoryItemCode,Description,"
    "Quantity,UnitAmount,Discount,LineAmount,AccountCode,TaxType,TaxAmount,TrackingName1,"
    "TrackingOption1,TrackingName2,TrackingOption2,Currency,Type,Sent,Status"
)
XERO_VALUES = {
    "ContactName": "client_id",
    "InvoiceNumber": "invoice_id",
    "InvoiceDate": "strftime(invoice_date, '%d/%m/%Y')",
    "DueDate": "strftime(due_date, '%d/%m/%Y')",
    "InventoryItemCode": "sku",
    "Quantity": "quantity",
    "UnitAmount": "unit_price",
    "LineAmount": "amount",
    "AccountCode": "category",
    "TaxAmount": "'0.00'",
    "Currency": "currency",
    "Type": "'Sales invoice'",
    "Sent": "'Sent'",
    "Status": "CASE status WHEN 'paid' THEN 'Paid' WHEN 'draft' THEN 'Draft'"
    " WHEN 'void' THEN 'Voided' ELSE 'Awaiting Payment' END",
}


def write_vendor_files(canonical: Path, out: Path) -> None:
    """The canonical demo's time entries and invoices, as ConnectWise JSON and Xero CSV."""
    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT entry_id AS id,
                   CASE WHEN client_id IS NULL THEN NULL
                        ELSE {{'id': 1, 'identifier': client_id, 'name': client_id}} END AS company,
                   ticket_id AS chargeToId,
                   CASE WHEN client_id IS NULL THEN 'ChargeCode' ELSE 'ServiceTicket' END
                       AS chargeToType,
                   {{'id': 1, 'identifier': staff_id, 'name': staff_id}} AS member,
                   {{'id': 1, 'name': work_type}} AS workType,
                   strftime(work_date, '%Y-%m-%dT12:00:00Z') AS timeStart,
                   hours AS actualHours,
                   CASE WHEN billable THEN 'Billable' ELSE 'DoNotBill' END AS billableOption,
                   hours AS hoursBilled,
                   bill_rate AS hourlyRate
            FROM read_csv('{canonical / "time_entries.csv"}', header = true)
        ) TO '{out / "cw_time_entries.json"}' (FORMAT JSON, ARRAY true)"""
    )
    selects = ", ".join(f'{XERO_VALUES.get(h, "NULL")} AS "{h}"' for h in XERO_HEADER.split(","))
    con.execute(
        f"COPY (SELECT {selects} FROM read_csv('{canonical / 'invoices.csv'}', header = true,"
        f" all_varchar = false) ORDER BY invoice_id, line_no)"
        f" TO '{out / 'Invoices.csv'}' (HEADER)"
    )
    con.close()


def ingest(home: Path, reference: list[Path], files: list[Path]) -> tuple[float, dict]:
    """Seconds to ingest ``files`` into a fresh home (after ``reference`` files)."""
    os.environ["MOATMETRICS_HOME"] = str(home)
    from moatmetrics.ingest.loader import Ingestor
    from moatmetrics.settings import ensure_home, get_settings
    from moatmetrics.warehouse.connection import warehouse_connection

    settings = get_settings()
    ensure_home(settings)
    with warehouse_connection(settings) as con:
        ingestor = Ingestor(con, settings)
        for path in reference:
            assert ingestor.ingest_file(path).ok
        results, per_file = [], {}
        started = time.perf_counter()
        for path in files:
            file_started = time.perf_counter()
            results.append(ingestor.ingest_file(path))
            per_file[f"{path.name} seconds"] = round(time.perf_counter() - file_started, 2)
        seconds = time.perf_counter() - started
        for result in results:
            assert result.ok, (result.file_name, result.message)
        rows = {r.file_name: r.rows_loaded for r in results} | per_file
        rows["raw.time_entries"] = con.execute("SELECT count(*) FROM raw.time_entries").fetchone()[
            0
        ]
        rows["raw.invoices"] = con.execute("SELECT count(*) FROM raw.invoices").fetchone()[0]
        # The same money and hours on both sides (a check that the mapping lost nothing).
        rows["sum(hours)"] = str(
            con.execute("SELECT sum(hours) FROM raw.time_entries").fetchone()[0]
        )
        rows["sum(amount)"] = str(con.execute("SELECT sum(amount) FROM raw.invoices").fetchone()[0])
    return seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="1m")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from moatmetrics.demo_data import generate
    from moatmetrics.quality.suites import _context

    _context()  # Great Expectations imported once, outside both timings
    with tempfile.TemporaryDirectory(prefix="mm-vendor-bench-") as tmp:
        work = Path(tmp)
        canonical, vendor = work / "canonical", work / "vendor"
        vendor.mkdir(parents=True)
        generate(canonical, seed=42, scale=args.scale)
        write_vendor_files(canonical, vendor)
        reference = [canonical / "clients.csv", canonical / "staff.csv"]
        canonical_files = [canonical / "time_entries.csv", canonical / "invoices.csv"]
        vendor_files = [vendor / "cw_time_entries.json", vendor / "Invoices.csv"]
        canonical_s, canonical_rows = ingest(work / "home-c", reference, canonical_files)
        vendor_s, vendor_rows = ingest(work / "home-v", reference, vendor_files)
        sizes = {p.name: p.stat().st_size for p in canonical_files + vendor_files}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    report = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "commit": commit,
        "scale": args.scale,
        "canonical_csv_seconds": round(canonical_s, 2),
        "vendor_seconds": round(vendor_s, 2),
        "ratio": round(vendor_s / canonical_s, 3),
        "rows": {"canonical": canonical_rows, "vendor": vendor_rows},
        "bytes": sizes,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
