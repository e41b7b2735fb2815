"""One byte sequence per value: the JSON the audit log hashes and the fingerprints of a run's
inputs are made of.

A module of its own, with nothing but the standard library, so the app database's audit log
(`moatmetrics.appdb.audit`) and the run-input fingerprints (`moatmetrics.run_inputs`, the
corrections' digest in `moatmetrics.ingest.override_copy`) share it without importing each
other.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """One byte sequence per value: sorted keys, no spaces, exact decimals as strings."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def digest(value: Any) -> str:
    """SHA-256 of a value in canonical JSON (dates and decimals as text)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
