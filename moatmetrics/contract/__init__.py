"""The input data contract and the export files it is read from, below everything that uses it.

The entities and their columns (`entities`), the bounded readers per file format (`readers`,
workbook checks in `xlsx_guard`, whole-file errors in `errors`), typed parsing and the rules as
SQL (`validation`) and which landing files are exports (`landing`). Ingest, the quality gate,
the source profiles, the app database and the warehouse all read the contract; it imports none
of them.
"""
