"""The app database: API keys, upload records, the review queue and the audit log.

Written by the API and the pipeline (SQLite in ``$MOATMETRICS_HOME/app.db`` by default,
PostgreSQL when ``MOATMETRICS_DATABASE_URL`` is set), migrated with Alembic on first use.
Modules: `db` (engines, sessions, migrations), `models`, `audit` (hash chain), `keys`,
`ratelimit`, `uploads`, `reviews`.
"""
