"""`moatmetrics run`: materialise the whole asset graph in-process, as the UI would.

The same `Definitions` the Dagster UI loads are executed against the home's Dagster instance,
so CLI runs appear in the UI's run history with their logs, checks and lineage.

A run holds the home's running lock from start to end (a second run waits, then runs) and a
worker lock of its own, named in its run tag, so that a run whose process was killed is
recognised and marked failed (`moatmetrics.runs`), here at the next start and by the daemon's
run monitoring (`orchestration.run_launcher`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from moatmetrics.seam.base import Snapshot
from moatmetrics.settings import Settings, apply_process_environment, ensure_home
from moatmetrics.storage.configured import storage_for
from moatmetrics.warehouse.held_clients import held_client_keys
from moatmetrics.warehouse.run_findings import RunFindings, read_run_findings


@dataclass
class RunOutcome:
    run_id: str | None  # None: the run ended before it started (`skipped`)
    success: bool
    published: Snapshot | None
    failed_checks: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    raw_rows: dict[str, int] = field(default_factory=dict)
    uploads: list[dict] = field(default_factory=list)
    # held client keys: (client_source, client_key, rows) whose rows wait for an alias
    held: list[tuple[str | None, str, int]] = field(default_factory=list)
    # unmapped accounts and license bills left out of cost
    findings: RunFindings = field(default_factory=RunFindings)
    # why no run was needed (moatmetrics/run_inputs.py); None when the graph ran
    skipped: str | None = None

    def summary(self) -> str:
        if self.skipped:
            return f"no run: {self.skipped}"
        lines = [f"run {self.run_id}: {'succeeded' if self.success else 'BLOCKED / FAILED'}"]
        for upload in self.uploads:
            lines.append(f"  {upload['file']}: {upload['status']} — {upload['message']}")
        if self.raw_rows:
            lines.append(
                "raw rows: " + ", ".join(f"{k}={v}" for k, v in sorted(self.raw_rows.items()))
            )
        for source, key, rows in self.held:
            lines.append(
                f"held: {rows} rows for {source or '(no source)'} key {key!r}"
                " (no client matches it: add a client_aliases row)"
            )
        for source, account, count, amount in self.findings.unmapped_accounts:
            lines_text = f"{count} invoice line{'s' if count != 1 else ''}"
            lines.append(
                f"unmapped account: {source} {account!r} on {lines_text} ({amount:.2f})"
                " counts as other (add an account_map row to give it a category)"
            )
        for bill in self.findings.left_out_bills:
            lines.append(
                f"left out of cost: expense {bill.expense_id!r} ({bill.supplier or 'no supplier'},"
                f" {bill.expense_date.isoformat()}, {bill.amount:.2f}) of {bill.client_id}:"
                f" {bill.reason}"
            )
        for check in self.failed_checks:
            lines.append(f"  blocking check failed: {check}")
        for step in self.failed_steps:
            lines.append(f"  step failed: {step}")
        if self.published:
            counts = ", ".join(f"{k}={v}" for k, v in self.published.row_counts.items())
            lines.append(f"published snapshot {self.published.snapshot_id} ({counts})")
            lines.append(f"  {self.published.location}")
        else:
            lines.append("nothing published; the previous snapshot (if any) stays current")
        return "\n".join(lines)


def run_pipeline(
    settings: Settings,
    log_level: str = "WARNING",
    on_wait: Callable[[], None] | None = None,
    force: bool = False,
    full_refresh: bool = False,
) -> RunOutcome:
    """Run the whole asset graph in this process; `on_wait` is called if another run is going.

    Unless `force` or `full_refresh`, a run whose inputs are those the current snapshot was
    built from ends before Dagster starts (`moatmetrics.run_inputs`) and publishes nothing.
    `full_refresh` rebuilds every month of the incremental dbt models
    (`moatmetrics.warehouse.incremental_months`), not only the changed ones.
    """
    from moatmetrics.run_inputs import unchanged_since_publish
    from moatmetrics.run_lock import pipeline_running_lock

    # The warehouse path dbt reads and the Dagster instance follow this home, even when one
    # process runs several homes (tests).
    ensure_home(settings)
    apply_process_environment(settings)
    with pipeline_running_lock(settings, on_wait):
        unchanged = (
            None if force or full_refresh else unchanged_since_publish(storage_for(settings))
        )
        if unchanged is not None:
            return RunOutcome(run_id=None, success=True, published=None, skipped=unchanged.reason())
        return _run_graph(settings, log_level, full_refresh)


def _run_graph(settings: Settings, log_level: str, full_refresh: bool = False) -> RunOutcome:
    """The whole asset graph, executed in this process (the running lock is held)."""
    # Great Expectations is imported by the ingest step, beside DuckDB's reading of the files
    # (`ingest_landing`), not here: beside Dagster's start-up, which is Python too, the two
    # imports took turns on the interpreter lock and the run took 0.5 s longer (small demo).
    from dagster import AssetCheckSeverity

    from moatmetrics.run_lock import WORKER_LOCK_TAG, fail_orphaned_runs, worker_lock
    from moatmetrics.warehouse.incremental_months import FULL_REFRESH_TAG
    from orchestration.definitions import defs
    from orchestration.event_log import home_instance

    job = defs.resolve_implicit_global_asset_job_def()
    run_id = str(uuid.uuid4())  # known before the run exists: its worker lock comes first
    with (
        worker_lock(settings, run_id) as lock_path,
        home_instance(settings.dagster_home) as instance,
    ):
        fail_orphaned_runs(instance)  # a killed run left STARTED must not block the queue
        before = storage_for(settings).current_snapshot()
        result = job.execute_in_process(
            instance=instance,
            run_id=run_id,
            tags={WORKER_LOCK_TAG: str(lock_path)}
            | ({FULL_REFRESH_TAG: "true"} if full_refresh else {}),
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    failed_checks = [
        f"{'/'.join(e.asset_key.path)}.{e.check_name}: {e.description or ''}"
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == AssetCheckSeverity.ERROR
    ]
    failed_steps = [
        f"{event.step_key}: {_root_cause(event.step_failure_data.error)}"
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error
    ]
    raw_rows: dict[str, int] = {}
    uploads: list[dict] = []
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key.path[0] == "raw" and "rows" in materialization.metadata:
            raw_rows[materialization.asset_key.path[1]] = materialization.metadata["rows"].value
            uploads.extend(materialization.metadata["uploads"].value)
    uploads += _refused_without_entity(result.get_asset_check_evaluations(), uploads)
    held = held_client_keys(settings) if result.success else []
    findings = read_run_findings(settings) if result.success else RunFindings()
    after = storage_for(settings).current_snapshot()
    published = after if after and (not before or after.snapshot_id != before.snapshot_id) else None
    return RunOutcome(
        run_id=result.run_id,
        success=result.success and published is not None,
        published=published,
        failed_checks=failed_checks,
        failed_steps=failed_steps,
        raw_rows=raw_rows,
        uploads=uploads,
        held=held,
        findings=findings,
    )


def _refused_without_entity(evaluations: list, listed: list[dict]) -> list[dict]:
    """The refused files no raw table lists: refused before their entity was known (over the
    size limit, unreadable, a name that says no entity). Every table's contract check names
    them (`orchestration.checks.contract_suite`); a quarantined one only warns, so without this
    the run's summary would not mention it at all."""
    seen = {upload["file"] for upload in listed}
    found = []
    for evaluation in evaluations:
        refused = evaluation.metadata.get("rejected_files")
        for file in refused.value if refused else []:
            if file["file"] not in seen:
                seen.add(file["file"])
                found.append({"file": file["file"], "status": "rejected",
                              "message": file["message"], "quality_score": None})  # fmt: skip
    return found


def _root_cause(error) -> str:
    """The innermost error's first line: what went wrong, not Dagster's wrapper."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[0]
