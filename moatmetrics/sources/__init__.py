"""Vendor exports in: source profiles (YAML) read by one engine that maps them onto the contract.

A profile describes one export layout (ConnectWise time entries, Xero invoices, ...). The
engine detects the profile from the file's headers, reads the file with DuckDB and generates
one SQL statement from the profile that yields the canonical columns as text, so the rest of
ingest (typing, the row-level report, the suites, loading) is the same as for canonical files.
See docs/sources.md.
"""
