"""Assets by stage: ingest (raw tables), dbt (staging -> marts), publish (snapshots)."""
