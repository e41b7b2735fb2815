"""The storage seam's interface: what a back end is and hands back, and the SQL differences.

Below the core and the back ends alike: the back ends (`moatmetrics.storage.duckdb`,
`moatmetrics.storage.postgres`) implement `base.Storage` over the core, and the core describes a
snapshot, a lease and their errors with the same types without importing either back end.
"""
