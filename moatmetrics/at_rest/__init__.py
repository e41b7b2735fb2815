"""The home's data at rest: opening its DuckDB files and encrypting them and the upload archive.

Below everything that reads or writes a file of the home (ingest, the warehouse, the trust
layer, the snapshots, the back ends): the one place that knows the key imports no part of them.
"""
