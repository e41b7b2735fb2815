"""The `moatmetrics` command: demo data, ingest, run, snapshots, uploads, serve, ui.

Heavy libraries (Dagster, dbt, uvicorn) are imported inside the commands that need them, so
`moatmetrics --help` and `snapshots current` answer at once.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from moatmetrics.cli_backup import add_parsers as add_backup_parsers
from moatmetrics.cli_encryption import add_parsers as add_encryption_parsers
from moatmetrics.cli_keys import add_parsers as add_keys_and_audit_parsers
from moatmetrics.cli_keys import cli_actor
from moatmetrics.cli_sources import add_ingest_flags, source_options
from moatmetrics.cli_sources import add_parsers as add_sources_parsers
from moatmetrics.contract.entities import load_order
from moatmetrics.contract.readers import FORMATS
from moatmetrics.settings import (
    Settings,
    SettingsError,
    apply_process_environment,
    ensure_home,
    get_settings,
    process_environment,
)


def _settings() -> Settings:
    settings = get_settings()
    ensure_home(settings)
    apply_process_environment(settings)
    return settings


def _expand(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in FORMATS and not p.name.startswith(".")
                )
            )
        elif path.exists():
            files.append(path)
        else:
            raise SystemExit(f"moatmetrics: no such file or folder: {raw}")
    return files


def print_upload(result) -> None:
    mark = {"accepted": "OK ", "unchanged": "== ", "rejected": "REJ"}[result.status]
    entity = f" [{result.entity}]" if result.entity else ""
    score = f" (quality {result.quality_score:.1%})" if result.quality_score is not None else ""
    print(f"{mark} {result.file_name}{entity}: {result.status} — {result.message}{score}")
    if getattr(result, "profile", None):
        print(
            f"      profile {result.profile}: {result.rows_loaded} rows mapped,"
            f" {result.rows_skipped} skipped, {result.rows_rejected} rejected"
        )
    if getattr(result, "scope_start", None) is not None:
        print(
            f"      scope: {result.scope_source} {result.entity} {result.scope_start} to"
            f" {result.scope_end} (replaces older {result.scope_source} rows of these dates)"
        )
    for recommendation in result.recommendations[:5]:
        print(f"      - {recommendation}")
    for note in result.notes:
        print(f"      note: {note}")
    for problem in result.problems[:10]:
        where = f"row {problem['row']}" if problem["row"] is not None else "file"
        column = f", column {problem['column']}" if problem["column"] else ""
        value = f", value {problem['value']!r}" if problem["value"] is not None else ""
        print(
            f"      {problem['severity']}: {where}{column}{value}: {problem['rule']}"
            f" — fix: {problem['fix']}"
        )
    if result.report_path:
        print(f"      full report: {result.report_path}")


def _period(text: str) -> Any:
    from moatmetrics.ingest.scopes import parse_period

    try:
        return parse_period(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_demo_data(args: argparse.Namespace) -> int:
    from moatmetrics.demo_data import generate

    labels = Path(args.labels) if args.labels else None
    counts = generate(Path(args.out), seed=args.seed, scale=args.scale, labels=labels)
    for name, rows in counts.items():
        print(f"{name}: {rows} rows")
    print(f"demo data written to {Path(args.out).resolve()}")
    if labels is not None:
        print(f"labelled events written to {labels.resolve()}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from moatmetrics.ingest.loader import Ingestor
    from moatmetrics.quality.suites import preload_in_background
    from moatmetrics.warehouse.connection import warehouse_connection

    preload_in_background()
    settings = _settings()
    files = sorted(_expand(args.paths), key=lambda p: (load_order(p.stem), str(p)))
    if not files:
        print("moatmetrics: no .csv, .xlsx, .json or .jsonl files found", file=sys.stderr)
        return 1
    failed = False
    with warehouse_connection(settings) as con:
        ingestor = Ingestor(con, settings)
        for path in files:
            result = ingestor.ingest_file(
                path, entity_name=args.entity, uploaded_by=args.by, options=source_options(args),
                period=args.period,
            )  # fmt: skip
            print_upload(result)
            _record_upload(con, result)
            failed |= result.status == "rejected"
    print("run `moatmetrics run` to rebuild and publish the marts")
    return 1 if failed else 0


def _record_upload(con: Any, result: Any) -> None:
    """The app database keeps every upload's outcome and problem rows (governed API)."""
    from moatmetrics.appdb.uploads import record_ingest_result, warehouse_problems
    from moatmetrics.cli_keys import cli_actor

    problems = warehouse_problems(con, result.upload_id)
    record_ingest_result(result, problems, source="cli", actor=cli_actor())


def ensure_dbt_manifest(force: bool = False) -> Path:
    """dbt's manifest must exist before the Dagster definitions load (`dbt parse`)."""
    from moatmetrics.settings import DBT_PROJECT_DIR

    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    if force or not manifest.exists():
        from dbt.cli.main import dbtRunner  # ~1 s of imports: only when parsing

        from moatmetrics.warehouse.incremental_months import MONTHS_ENV

        os.environ.setdefault("MOATMETRICS_WAREHOUSE_PATH", str(get_settings().warehouse_path))
        # Parsed as a home's first build will run (every month): that build then finds the
        # parse current instead of re-parsing the two models that read the months (about 1 s).
        with process_environment({MONTHS_ENV: "all"}):
            result = dbtRunner().invoke(
                [
                    "parse",
                    "--project-dir",
                    str(DBT_PROJECT_DIR),
                    "--profiles-dir",
                    str(DBT_PROJECT_DIR),
                    "--quiet",
                ]
            )
        if not result.success:
            raise SystemExit(f"moatmetrics: dbt parse failed: {result.exception}")
    return manifest


def cmd_prepare(args: argparse.Namespace) -> int:
    _settings()
    print(f"dbt manifest ready: {ensure_dbt_manifest(force=True)}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration.pipeline import run_pipeline

    settings = _settings()
    ensure_dbt_manifest()
    terminal = sys.stderr  # the wait notice must reach the user, not the run's log file

    def waiting() -> None:
        print("another pipeline run is in progress; this one starts when it ends", file=terminal)
        terminal.flush()

    options = {"force": args.force, "full_refresh": args.full_refresh}
    if args.verbose:
        outcome = run_pipeline(settings, log_level="DEBUG", on_wait=waiting, **options)
    else:
        # dbt's progress lines go to a log file; the summary below says what matters.
        log_path = settings.home / "logs" / "last-run.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with (
            open(log_path, "w") as log,
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
        ):
            outcome = run_pipeline(settings, on_wait=waiting, **options)
        print(f"full log: {log_path}")
    print(outcome.summary())
    return 0 if outcome.success else 1


def cmd_snapshots(args: argparse.Namespace) -> int:
    from moatmetrics.storage.configured import storage_for

    settings = get_settings()
    storage = storage_for(settings)
    if args.action == "current":
        snapshot = storage.current_snapshot()
        if snapshot is None:
            print("no snapshot published yet: run `moatmetrics run`", file=sys.stderr)
            return 1
        print(snapshot.location)
        return 0
    if args.action == "to-postgres":
        return _snapshot_to_postgres(settings, args)
    if args.action == "prune":
        return _prune_snapshots(settings, args)
    if args.action == "use":
        return _use_snapshot(settings, args)
    current = storage.current_snapshot()
    for snapshot in reversed(storage.list_snapshots()):
        mark = "*" if current and snapshot.snapshot_id == current.snapshot_id else " "
        counts = ", ".join(f"{k}={v}" for k, v in snapshot.row_counts.items())
        print(f"{mark} {snapshot.snapshot_id}  {snapshot.created_at}  {counts}")
    return 0


def _use_snapshot(settings: Settings, args: argparse.Namespace) -> int:
    """Make an earlier snapshot current again (audited); the API serves it from now on."""
    from moatmetrics.seam.base import SnapshotError
    from moatmetrics.snapshots import use_audited
    from moatmetrics.storage.configured import storage_for

    if not args.snapshot_id:
        print("give the snapshot id: moatmetrics snapshots use SNAPSHOT_ID", file=sys.stderr)
        return 2
    try:
        snapshot = use_audited(storage_for(settings), args.snapshot_id, cli_actor())
    except SnapshotError as exc:
        print(f"moatmetrics: {exc}", file=sys.stderr)
        return 1
    print(f"snapshot {snapshot.snapshot_id} ({snapshot.created_at}) is current again;")
    print("the API serves it until the next run publishes a new snapshot")
    return 0


def cmd_uploads(args: argparse.Namespace) -> int:
    """`moatmetrics uploads retract ID --reason TEXT` (audited)."""
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.uploads import RetractError, retract_upload

    settings = _settings()
    try:
        with session_scope(settings, write=True) as session:
            upload = retract_upload(session, cli_actor(), args.upload_id, args.reason)
            ref = f"{upload.id} ({upload.original_name}, {upload.warehouse_upload_id})"
    except LookupError:
        print(f"moatmetrics: no upload {args.upload_id!r}", file=sys.stderr)
        return 1
    except RetractError as exc:
        print(f"moatmetrics: {exc}", file=sys.stderr)
        return 1
    print(f"upload {ref} retracted; its rows leave the marts at the next `moatmetrics run`")
    return 0


def _prune_snapshots(settings: Settings, args: argparse.Namespace) -> int:
    """Remove all but the newest --keep snapshots (never the current one); audited."""
    from moatmetrics.snapshots import prune_audited, prune_published
    from moatmetrics.storage.configured import storage_for

    keep = args.keep if args.keep is not None else settings.snapshot_keep
    if keep is None or keep < 1:
        print("give --keep N (at least 1), or set MOATMETRICS_SNAPSHOT_KEEP", file=sys.stderr)
        return 2
    storage = storage_for(settings)
    try:
        if args.dry_run:  # nothing changes, so nothing to audit
            for snapshot_id in prune_published(storage, keep, args.url, dry_run=True):
                print(f"would remove {snapshot_id}")
            return 0
        removed = prune_audited(storage, keep, cli_actor(), args.url)
    except Exception as exc:  # psycopg.Error (a lock timeout), OSError; names no password
        print(f"moatmetrics: could not remove old snapshots: {exc}", file=sys.stderr)
        return 1
    for snapshot_id in removed:
        print(f"removed {snapshot_id}")
    print(f"{len(removed)} snapshot(s) removed; the newest {keep} and the current one are kept")
    return 0


def _snapshot_to_postgres(settings: Settings, args: argparse.Namespace) -> int:
    """Copy a published snapshot into PostgreSQL (schema per snapshot, `marts` views)."""
    from moatmetrics.storage.configured import storage_for
    from moatmetrics.warehouse.postgres import publish_snapshot_to_postgres

    storage = storage_for(settings)
    if storage.name == "postgres":
        print(
            "MOATMETRICS_WAREHOUSE_URL is set: every snapshot is published into that PostgreSQL"
            " database already (schema snapshot_<id>, views in schema marts)",
            file=sys.stderr,
        )
        return 2
    url = args.url or os.environ.get("MOATMETRICS_PUBLISH_POSTGRES_URL")
    if not url:
        print("give --url postgresql://... (or MOATMETRICS_PUBLISH_POSTGRES_URL)", file=sys.stderr)
        return 2
    snapshot_id = args.snapshot or storage.current_snapshot_id()
    if snapshot_id is None:
        print("no snapshot published yet: run `moatmetrics run`", file=sys.stderr)
        return 1
    snapshot = storage.load_snapshot(snapshot_id)
    assert snapshot.path is not None  # DuckDB mode (PostgreSQL mode was refused above)
    done = publish_snapshot_to_postgres(snapshot.path, snapshot.snapshot_id, url)
    counts = ", ".join(f"{k}={v}" for k, v in done.row_counts.items())
    print(f"snapshot {done.snapshot_id} in PostgreSQL schema {done.schema} ({counts});")
    print("views in schema marts now show it; role moatmetrics_reader may read them")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    tls = _tls_files(args.certfile, args.keyfile)
    scheme = "https" if tls else "http"
    print(f"MoatMetrics API on {scheme}://{args.host}:{args.port}/ (docs: /docs)", flush=True)
    # X-Forwarded-For names the client in the audit log only when the request comes from a
    # proxy listed in MOATMETRICS_TRUSTED_PROXIES; uvicorn's own default would believe any
    # local process (docs/security.md).
    proxies = settings.trusted_proxies
    uvicorn.run(
        "api.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        # No access log: the audit log records every governed request with keys and tokens
        # redacted, while uvicorn's line would print a key sent in a URL in clear, and every
        # query's client filters, to the console.
        access_log=False,
        server_header=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=",".join(proxies) if proxies else "",
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    return 0


def _tls_files(certfile: str | None, keyfile: str | None) -> tuple[str, str] | None:
    """The certificate chain and key to serve HTTPS with, checked before the server starts so
    a wrong path, a key that is not the certificate's or an unreadable file is one clear line
    instead of a traceback from each worker."""
    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        raise SystemExit(
            "serve: --certfile and --keyfile go together (PEM certificate chain and its key)"
        )
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except FileNotFoundError as exc:
        raise SystemExit(f"serve: {exc.filename}: no such file") from None
    except (ssl.SSLError, OSError) as exc:
        raise SystemExit(
            f"serve: cannot use {certfile} with {keyfile} for TLS ({exc}): give a PEM"
            " certificate chain and the unencrypted PEM private key that matches it"
        ) from None
    return certfile, keyfile


def cmd_rebuild(args: argparse.Namespace) -> int:
    from moatmetrics.rebuild import RebuildError, parse_moment
    from orchestration.rebuild import rebuild_as_of

    settings = _settings()
    ensure_dbt_manifest()
    try:
        as_of = parse_moment(args.as_of)
        snapshot = rebuild_as_of(settings, as_of, cli_actor(), use=args.use)
    except RebuildError as exc:
        print(f"moatmetrics rebuild: {exc}", file=sys.stderr)
        return 1
    state = "now current" if args.use else "not current: `moatmetrics snapshots use ID` serves it"
    print(f"rebuilt as of {as_of.isoformat()}: snapshot {snapshot.snapshot_id} ({state})")
    print(f"  {snapshot.location}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from importlib.resources import files

    settings = _settings()
    ensure_dbt_manifest()
    print(f"Dagster UI on http://{args.host}:{args.port}/", flush=True)
    argv = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(files("orchestration") / "workspace.yaml"),  # the code location's, as installed
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    os.chdir(settings.home)
    # A shell that starts this in the background (`make run`) hands it SIGINT ignored, and an
    # ignored signal stays ignored across exec: `dagster dev` and the webserver and daemon it
    # starts would then outlive Ctrl-C. Default dispositions let them stop when asked.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.execv(sys.executable, argv)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moatmetrics",
        description="Privacy-first MSP analytics: exports in, trusted numbers out, offline.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo-data", help="write a realistic synthetic MSP's exports")
    demo.add_argument("--out", required=True, help="folder to write the CSV files to")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--scale", choices=["small", "1m", "10m"], default="small")
    demo.add_argument(
        "--labels",
        help="also write the labelled events (planted anomalies, churn declines) to this CSV"
        " file; keep it outside --out, which is ingested",
    )
    demo.set_defaults(func=cmd_demo_data)

    ingest = sub.add_parser("ingest", help="check and load export files (or folders)")
    ingest.add_argument("paths", nargs="+")
    ingest.add_argument("--entity", help="the entity of the files, when their names do not say")
    ingest.add_argument("--by", default=os.environ.get("USER", "cli"), help="who uploads")
    ingest.add_argument(
        "--period",
        type=_period,
        metavar="START..END",
        help="the period the export covers, e.g. 2025-03-01..2025-03-31: it replaces the older"
        " rows of its source in that period (default: from its first to its last date)",
    )
    add_ingest_flags(ingest)
    ingest.set_defaults(func=cmd_ingest)

    run = sub.add_parser("run", help="ingest the landing area, build the marts, publish")
    run.add_argument("--verbose", action="store_true", help="show every Dagster and dbt event")
    run.add_argument(
        "--force",
        action="store_true",
        help="run even when nothing is new since the current snapshot (by default such a run"
        " ends at once and publishes nothing)",
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every month of the time entries, not only the months whose entries"
        " changed (implies --force; the marts are the same either way)",
    )
    run.set_defaults(func=cmd_run)

    prepare = sub.add_parser("prepare", help="prepare the dbt manifest (dbt parse)")
    prepare.set_defaults(func=cmd_prepare)

    snapshots = sub.add_parser("snapshots", help="published snapshots")
    snapshots.add_argument(
        "action",
        choices=["current", "list", "to-postgres", "prune", "use"],
        help="to-postgres: copy a snapshot (default: the current one) into PostgreSQL for BI;"
        " prune: remove all but the newest --keep snapshots (never the current one);"
        " use SNAPSHOT_ID: make an earlier snapshot current again",
    )
    snapshots.add_argument("snapshot_id", nargs="?", help="use: the snapshot to make current")
    snapshots.add_argument(
        "--url", help="to-postgres, prune: PostgreSQL URL of the BI database that holds copies"
    )
    snapshots.add_argument(
        "--keep", type=int, help="prune: how many to keep (default MOATMETRICS_SNAPSHOT_KEEP)"
    )
    snapshots.add_argument(
        "--dry-run", action="store_true", help="prune: list what would be removed, remove nothing"
    )
    snapshots.add_argument("--snapshot", help="to-postgres: snapshot id (default: current)")
    snapshots.set_defaults(func=cmd_snapshots)

    uploads = sub.add_parser("uploads", help="uploads: retract one")
    uploads_sub = uploads.add_subparsers(dest="uploads_action", required=True)
    retract = uploads_sub.add_parser(
        "retract", help="take an accepted upload's rows out at the next run (audited)"
    )
    retract.add_argument("upload_id", help="the upload's id (12) or warehouse upload id (u...)")
    retract.add_argument("--reason", required=True, help="why (goes into the audit log)")
    uploads.set_defaults(func=cmd_uploads)

    serve = sub.add_parser("serve", help="serve the read-only API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: the machine's cores; docs/operations.md)",
    )
    serve.add_argument("--certfile", help="serve HTTPS: PEM certificate chain (with --keyfile)")
    serve.add_argument("--keyfile", help="serve HTTPS: the certificate's PEM private key")
    serve.set_defaults(func=cmd_serve)

    rebuild = sub.add_parser(
        "rebuild", help="publish the marts as they were at a moment, from the inputs of then"
    )
    rebuild.add_argument(
        "--as-of", required=True, help="ISO date-time (UTC unless it has an offset) or date"
    )
    rebuild.add_argument("--use", action="store_true", help="make the rebuilt snapshot current")
    rebuild.set_defaults(func=cmd_rebuild)

    ui = sub.add_parser("ui", help="the Dagster UI (lineage, runs, reruns)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)

    add_keys_and_audit_parsers(sub)
    add_sources_parsers(sub)
    add_backup_parsers(sub)
    add_encryption_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as exc:  # a wrong setting: say which and how to fix it, no traceback
        print(f"moatmetrics: {exc}", file=sys.stderr)
        return 2


def entry() -> None:
    """The `moatmetrics` command: `main`, then a quick exit.

    A pipeline run leaves Dagster, dbt, pandas, scikit-learn and Great Expectations loaded;
    tearing the interpreter down object by object took about 2 s after every run. By then
    everything durable is closed or committed (warehouse, snapshot, app database, Dagster's
    event log), so the exit handlers run, the streams are flushed, and the process ends.
    """
    code = main()
    for thread in threading.enumerate():  # as at a normal exit: wait for non-daemon threads
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
