"""Warehouse engines beside the embedded DuckDB file (PostgreSQL: `postgres.py`)."""
