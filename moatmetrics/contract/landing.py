"""The landing folder: which files in it are exports, and how a file's content is known.

Light on purpose (no reader, no quality suite): the sensor and the before-run check
(`moatmetrics.run_inputs`) ask what waits here without loading the ingest machinery.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from moatmetrics.contract.readers import FORMATS
from moatmetrics.settings import Settings


def landing_files(settings: Settings) -> list[Path]:
    """Export files in the landing area (hidden and partial files are ignored)."""
    if not settings.landing_dir.exists():
        return []
    return sorted(
        p
        for p in settings.landing_dir.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FORMATS
    )


def sha256_of(path: Path) -> str:
    """A file's content, by which an upload is known (the same bytes are one upload)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def new_landing_files(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[tuple[Path, str]]:
    """Landing files whose content the warehouse has no upload of, each with its SHA-256.

    What the ingest step loads, and what the before-run check asks about: a file seen before
    (accepted, rejected or retracted) is never read again, whatever its name.
    """
    known = {row[0] for row in con.execute("SELECT sha256 FROM ingest.uploads").fetchall()}
    hashed = ((path, sha256_of(path)) for path in landing_files(settings))
    return [(path, sha) for path, sha in hashed if sha not in known]
