"""The checks a value passes before it is kept: a file's typed rows (the suites and the gate)
and an analyst's correction (`corrections`).

Above the data contract only, so the app database can check a correction and ingest can gate a
file without either importing the other.
"""
