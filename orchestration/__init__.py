"""MoatMetrics' Dagster code location: one `Definitions`, in `orchestration.definitions`."""
