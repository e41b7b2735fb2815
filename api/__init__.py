"""MoatMetrics read-only HTTP API over the published snapshot of the marts.

Run it with ``uvicorn api.main:app`` (``MOATMETRICS_HOME`` selects the installation). The API
reads only immutable snapshot files, never the warehouse, so it can run while the pipeline
builds and publishes the next snapshot.
"""
