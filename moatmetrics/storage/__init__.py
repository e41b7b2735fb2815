"""The storage seam's two back ends (DuckDB, PostgreSQL) and the choice between them.

Above the core they wrap (`duckdb`, `postgres`; `configured` chooses from the settings); the
interface they share sits below the core, in `moatmetrics.seam`.
"""
