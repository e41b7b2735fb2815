"""The resources the assets share: dbt, and the storage back end (`StorageResource`).

The warehouse itself is opened through `moatmetrics.warehouse.connection`; what differs
between DuckDB and PostgreSQL mode (the run's extra copies, the snapshot catalog) is the
storage back end's, chosen from the settings (`moatmetrics.storage.configured`).

dbt runs inside the run's own process, through dbt's programmatic entry point (`dbtRunner`),
not as a `dbt` child process as dagster-dbt's `DbtCliResource` starts one. The child
imported dbt and its adapter and parsed the project on every run (about 4.5 s of a small
run), while dagster-dbt also built a second adapter in this process for metadata not used
here. In-process, the imports and the first parse are paid once per process (about 3 s), and
a later parse of an unchanged project takes about 0.35 s: a single CLI run gains little
(measured: 0.5 s), a process that runs several pipelines gains the rest each time.

The Dagster side is unchanged: selection for a subset run (a rerun of one asset from the UI)
comes from dagster-dbt, and dbt's result events become materialisations and asset checks
through dagster-dbt's own translation, exactly as they did from the child's JSON log.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_dbt import DbtProject

from moatmetrics.seam.base import Storage
from moatmetrics.settings import DBT_PROJECT_DIR, get_settings, process_environment
from moatmetrics.storage.configured import storage_for
from moatmetrics.warehouse.connection import release_dbt_duckdb

if TYPE_CHECKING:
    from dbt_common.events.base_types import EventMsg

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

# dbt's events for a finished node: the only ones that become Dagster events.
RESULT_EVENTS = frozenset({"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"})
# dbt's saved parse of the project, which a later run checks and updates instead of parsing anew.
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# Beside it in a home's target folder: the dbt project that parse was made from.
PARSED_FOR_FILE = "parsed_for_project.txt"
# dbt's parse events worth a line in the run's log: whether the saved parse was reused.
PARSE_EVENTS = frozenset(
    {"PartialParsingEnabled", "PartialParsingSkipParsing", "UnableToPartialParse"}
)
# Privacy: dbt sends usage data unless told not to; colours would garble the run's log file.
# dbt's own log file (`dbt.log` in the home's dbt target) at info, not debug: the debug lines
# (every statement, every connection) cost about 1 s of an 8 s build of the small demo, and
# each node's SQL stays in the target's `run/` folder.
GLOBAL_FLAGS = ("--no-send-anonymous-usage-stats", "--no-use-colors", "--log-level-file", "info")


class InProcessDbt(dg.ConfigurableResource):
    """Runs a dbt command in this process and yields its results as Dagster events."""

    project_dir: str
    profiles_dir: str

    def stream(
        self,
        args: Sequence[str],
        context: dg.AssetExecutionContext,
        target_path: Path,
        environment: Mapping[str, str] | None = None,
    ) -> Iterator[Any]:
        """`dbt <args>` for the context's selection; raises when dbt reports a failure.

        `environment` is set for dbt's run and restored after it (dbt reads the process's
        environment: `env_var()` in the project).

        Results are yielded after dbt returns (every node's, the passed and the failed), then
        the failure, if any, is raised: the step fails and nothing downstream runs.
        """
        from dagster_dbt import DagsterDbtTranslator
        from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
        from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
        from dagster_dbt.errors import DagsterDbtCliRuntimeError
        from dbt.cli.main import dbtRunner
        from dbt_common.events.functions import msg_to_dict

        # The op's context: dagster-dbt reads `context.op.tags`, which the asset context
        # deprecates (a DeprecationWarning on every run).
        op_context = context.op_execution_context
        # The manifest and translator come from the context's dbt assets (these are fallbacks).
        params = get_updated_cli_invocation_params_for_context(
            context=op_context, manifest={}, dagster_dbt_translator=DagsterDbtTranslator()
        )
        project_dir = Path(params.dbt_project.project_dir) if params.dbt_project else None
        results: list[dict[str, Any]] = []
        errors: list[str] = []
        parsing: list[str] = []

        def collect(msg: EventMsg) -> None:
            if msg.info.name in RESULT_EVENTS:
                results.append(msg_to_dict(msg))
            elif msg.info.name in PARSE_EVENTS:
                parsing.append(msg.info.msg)
            elif msg.info.level == "error":
                errors.append(msg.info.msg)

        argv = [
            *GLOBAL_FLAGS,
            *args,
            *params.selection_args,
            "--project-dir",
            str(project_dir or self.project_dir),
            "--profiles-dir",
            self.profiles_dir,
            "--target-path",
            str(target_path),
            "--log-path",
            str(target_path),
        ]
        if params.indirect_selection:
            argv += ["--indirect-selection", params.indirect_selection]
        context.log.info("dbt " + " ".join(argv))
        seed_partial_parse(target_path)
        try:
            with process_environment(environment or {}):
                outcome = dbtRunner(callbacks=[collect]).invoke(argv)
        finally:
            release_dbt_duckdb()
        for line in parsing:
            context.log.info(f"dbt parse: {line}")
        for raw in results:
            yield from DbtCoreCliEventMessage(
                raw_event=raw, event_history_metadata={}
            ).to_default_asset_events(
                manifest=params.manifest,
                dagster_dbt_translator=params.dagster_dbt_translator,
                context=op_context,
                target_path=target_path,
                project=params.dbt_project,
            )
        if not outcome.success:
            # One line first (the run's summary shows it): what failed, where dbt logged it.
            reasons = [line.strip() for msg in errors for line in msg.splitlines() if line.strip()]
            if not reasons:
                reasons = [str(outcome.exception or "dbt reported a failure")]
            raise DagsterDbtCliRuntimeError(
                description=f"dbt {args[0]} failed: {' | '.join(reasons)}"
                f" (dbt's log: {target_path / 'dbt.log'})"
            )


def seed_partial_parse(target_path: Path) -> None:
    """A home's first dbt run starts from the installation's parse of the project.

    `moatmetrics prepare` (run by `make install`) parses the project into its target/ folder.
    A home's own target folder has no parse before its first run, so dbt parsed the whole
    project (about 4 s); from a copy of the installation's, it checks the project files,
    profile and variables against it and re-parses only what differs, or all when the
    profile or dbt's version does (the PostgreSQL target, say).

    A parse also holds the project's absolute path (a seed's file, say), which dbt does not
    check: a home's parse made by an installation elsewhere (an upgrade that moved the
    project, another checkout) is dropped, not reused.
    """
    installed = dbt_project.project_dir / "target" / PARTIAL_PARSE_FILE
    own = target_path / PARTIAL_PARSE_FILE
    parsed_for = target_path / PARSED_FOR_FILE
    project = str(dbt_project.project_dir.resolve())
    if own.exists() and (not parsed_for.exists() or parsed_for.read_text() != project):
        own.unlink()
    target_path.mkdir(parents=True, exist_ok=True)
    parsed_for.write_text(project)
    if own.exists() or not installed.exists():
        return
    shutil.copyfile(installed, own)


def dbt_resource() -> InProcessDbt:
    return InProcessDbt(
        project_dir=os.fspath(dbt_project.project_dir),
        profiles_dir=os.fspath(dbt_project.profiles_dir),
    )


@dg.resource(description="The storage back end (DuckDB files, or PostgreSQL) the settings choose")
def storage_resource(_: dg.InitResourceContext) -> Storage:
    """The storage back end (`moatmetrics.storage`) of the run's settings, built once when the
    run's steps start; assets take it as ``storage: dg.ResourceParam[Storage]``.

    Nothing to configure: the settings (MOATMETRICS_WAREHOUSE_URL) choose the back end, so a
    run launched by the daemon follows the environment it runs in. (A function resource, not a
    `ConfigurableResource`: Dagster's config layer warns about a resource with no fields.)
    """
    return storage_for(get_settings())
