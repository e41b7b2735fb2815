"""The landing folder: which files in it are exports, and how a file's content is known.

Light on purpose (no reader, no quality suite): the sensor and the before-run check
(`moatmetrics.run_inputs`) ask what waits here without loading the ingest machinery.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from moatmetrics.ingest.readers import FORMATS
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
