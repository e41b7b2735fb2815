"""MoatMetrics: privacy-first analytics for managed service providers."""

import os as _os

# Privacy first: switch off the usage telemetry of dbt, Dagster and Great Expectations before
# any of them can be imported by this process.
TELEMETRY_OFF_ENV = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "GX_ANALYTICS_ENABLED": "False",
}
for _key, _value in TELEMETRY_OFF_ENV.items():
    _os.environ.setdefault(_key, _value)

__version__ = "0.1.0"
