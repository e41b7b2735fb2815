"""Move unreadable landing files out of the way, so the next file and the next run go ahead.

A landed file the ingest could not read at all (see `UploadResult.unreadable`) is moved from
the landing area to ``$MOATMETRICS_HOME/quarantine/<upload id>-<name>``, with
``<same name>.reason.txt`` beside it, and its upload record says where it went. It is not
archived (the archive holds files that were read), and it cannot block later runs: it is no
longer in the landing area, and its content is known as rejected. To try it again, fix it and
drop the fixed file into the landing area.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from moatmetrics.ingest.loader import UploadResult
from moatmetrics.settings import Settings


def quarantine(
    con: duckdb.DuckDBPyConnection, path: Path, result: UploadResult, settings: Settings
) -> UploadResult:
    """Move ``path`` to the quarantine folder and record that on the upload; returns it."""
    folder = settings.quarantine_dir
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{result.upload_id}-{path.name}"
    try:
        shutil.move(path, target)  # a rename within the home's file system
        reason = {
            "file": path.name,
            "upload_id": result.upload_id,
            "reason": result.message,
            "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        sidecar = target.with_name(target.name + ".reason.txt")
        sidecar.write_text(json.dumps(reason, ensure_ascii=False, indent=1) + "\n")
    except OSError as exc:
        note = f"could not be moved to quarantine ({exc.strerror or exc}); remove it by hand"
    else:
        result.quarantined_to = os.path.relpath(target, settings.home)
        note = f"moved to {result.quarantined_to}"
    result.notes.append(note)
    result.message = f"{result.message} [{note}]"
    con.execute(
        "UPDATE ingest.uploads SET message = ? WHERE upload_id = ?",
        [result.message, result.upload_id],
    )
    return result
