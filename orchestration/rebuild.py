"""`moatmetrics rebuild --as-of TIMESTAMP`: the marts exactly as they were at a moment, computed
again from the inputs of that moment and published as a new snapshot of the real home.

`moatmetrics.rebuild` puts those inputs into a scratch home (uploads ingested by then,
retractions and corrections wound back); an ordinary pipeline run there builds, checks, scores
and publishes; the finished snapshot file and its manifest are then copied into the real home's
`snapshots/` (immutable, self-contained) and, with `use=True`, made current (`snapshots use`,
audited). Nothing else of the real home changes. DuckDB mode only.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime

from moatmetrics.appdb import audit
from moatmetrics.appdb.audit import Actor
from moatmetrics.rebuild import RebuildError, remove_scratch_home, scratch_home_as_of
from moatmetrics.seam.base import Snapshot
from moatmetrics.settings import Settings, apply_process_environment
from moatmetrics.snapshots import use_audited
from moatmetrics.storage.configured import storage_for
from orchestration.pipeline import run_pipeline


def rebuild_as_of(settings: Settings, as_of: datetime, actor: Actor, use: bool = False) -> Snapshot:
    """Publish the marts as of `as_of` into `settings.home` as a new snapshot; returns it."""
    scratch = scratch_home_as_of(settings, as_of)
    previous_home = os.environ.get("MOATMETRICS_HOME")
    try:
        outcome = run_pipeline(scratch)
        if not outcome.success or outcome.published is None or outcome.published.path is None:
            raise RebuildError("the rebuild's pipeline run did not publish:\n" + outcome.summary())
        built = outcome.published
        assert built.path is not None  # DuckDB mode: a file
        settings.snapshots_dir.mkdir(parents=True, exist_ok=True)
        target = settings.snapshots_dir / f"{built.snapshot_id}.duckdb"
        shutil.copyfile(built.path, target)
        os.chmod(target, 0o444)
        manifest = json.loads(
            (scratch.snapshots_dir / f"{built.snapshot_id}.json").read_text(encoding="utf-8")
        )
        manifest["rebuilt_as_of"] = as_of.isoformat()
        (settings.snapshots_dir / f"{built.snapshot_id}.json").write_text(
            json.dumps(manifest, indent=2), encoding="utf-8"
        )
    finally:
        remove_scratch_home(scratch)
        if previous_home is not None:
            os.environ["MOATMETRICS_HOME"] = previous_home
        apply_process_environment(settings)
    # The publish entry every snapshot has (`record_unaudited_publishes` looks for it), by the
    # person who asked, saying what it is.
    audit.record(
        settings, actor, "pipeline.publish", "ok", f"snapshots/{built.snapshot_id}",
        details={"rebuilt_as_of": as_of.isoformat(), "row_counts": built.row_counts},
    )  # fmt: skip
    if use:
        return use_audited(storage_for(settings), built.snapshot_id, actor)
    return storage_for(settings).load_snapshot(built.snapshot_id)
