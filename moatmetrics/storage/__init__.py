"""Storage shared by the DuckDB and PostgreSQL modes."""
