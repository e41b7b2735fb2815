"""Published snapshots: immutable DuckDB files of the marts and an atomic `current` pointer.

Layout under ``$MOATMETRICS_HOME/snapshots``:

- ``<snapshot_id>.duckdb`` — schema ``marts`` (the published marts, each dbt mart with the
  trust layer's columns, plus ``client_risk``) and schema ``meta`` (``meta.snapshot``: one
  row; ``meta.snapshot_uploads``: the uploads it includes; ``meta.snapshot_tables``: row
  count per mart; ``meta.churn_model``: how the churn risk was trained, or why it was not).
  Written once (whole, or as a copy of the current snapshot's file with its changed rows
  replaced: `moatmetrics.snapshot_patching`), then made read-only.
- ``<snapshot_id>.json`` — the same manifest as JSON, for tools that do not speak DuckDB,
  plus how the file was written (``written``, ``patched_from``, ``rows_replaced_since_whole``).
- ``CURRENT`` — the id of the snapshot being served, replaced with ``os.replace`` so a reader
  sees either the old or the new id, never a half-written one.

Readers (API, BI tools, SQL users) open snapshot files read-only and never touch the
warehouse, so a pipeline run in progress never blocks or breaks them, and a failed run leaves
the last good snapshot current.

This module is the DuckDB back end's catalog (`moatmetrics.storage.duckdb.DuckDBStorage`
wraps it) and the snapshot file writer both back ends use: in PostgreSQL mode the same file is
written in a temporary folder and copied into the database as schema `snapshot_<id>`
(`moatmetrics.storage.postgres.PostgresStorage`). Callers that must work in either mode ask
`moatmetrics.storage.configured.storage_for(settings)`, never these functions, which refuse
PostgreSQL-mode settings (`_files_only`) rather than answer from files that are not there.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from moatmetrics.at_rest.duckdb_files import attach_duckdb, connect_duckdb
from moatmetrics.at_rest.encryption import EncryptionError, configured_keys
from moatmetrics.marts import (
    GRAINS,
    INSIGHT_ORDERS,
    INSIGHTS_SCHEMA,
    PUBLISHED_MARTS,
    RISK_TABLE,
    UNSCORED_GRAINS,
)
from moatmetrics.seam.base import Snapshot, SnapshotError
from moatmetrics.settings import Settings
from moatmetrics.snapshot_patching import PATCH_MIN_ROWS, PatchBase, copy_base, patch_table
from moatmetrics.trust import tables as trust_tables

if TYPE_CHECKING:
    from moatmetrics.appdb.audit import Actor
    from moatmetrics.seam.base import Storage

POINTER_NAME = "CURRENT"


def _files_only(settings: Settings) -> None:
    """Refuse PostgreSQL-mode settings: its catalog is in the database, not in these files."""
    if settings.warehouse_url:
        raise SnapshotError(
            "PostgreSQL mode keeps its snapshots in the database: ask"
            " moatmetrics.storage.configured.storage_for(settings), not moatmetrics.snapshots"
        )


def _manifest_path(settings: Settings, snapshot_id: str) -> Path:
    return settings.snapshots_dir / f"{snapshot_id}.json"


def load_snapshot(settings: Settings, snapshot_id: str) -> Snapshot:
    _files_only(settings)
    manifest = json.loads(_manifest_path(settings, snapshot_id).read_text())
    return Snapshot(
        snapshot_id=manifest["snapshot_id"],
        path=settings.snapshots_dir / manifest["file"],
        created_at=manifest["created_at"],
        row_counts=manifest["row_counts"],
        upload_ids=manifest["upload_ids"],
        written=manifest.get("written", ""),
    )


def current_snapshot_id(settings: Settings) -> str | None:
    _files_only(settings)
    pointer = settings.snapshots_dir / POINTER_NAME
    try:
        return pointer.read_text().strip() or None
    except FileNotFoundError:
        return None


def current_snapshot(settings: Settings) -> Snapshot | None:
    snapshot_id = current_snapshot_id(settings)
    return load_snapshot(settings, snapshot_id) if snapshot_id else None


def list_snapshots(settings: Settings) -> list[Snapshot]:
    """All published snapshots, oldest first."""
    _files_only(settings)
    if not settings.snapshots_dir.exists():
        return []
    found = []
    for manifest in sorted(settings.snapshots_dir.glob("*.json")):
        try:
            found.append(load_snapshot(settings, manifest.stem))
        except FileNotFoundError:  # pruned since the listing: it is no longer published
            continue
    return found


def prune(settings: Settings, keep: int, *, dry_run: bool = False) -> list[str]:
    """Delete every snapshot but the newest `keep` and the current one; returns the ids removed
    (with `dry_run`, the ids it would remove, and nothing is deleted).

    Snapshots are immutable copies of the marts, so a daily schedule adds one a day for ever;
    this is what bounds that. Removing one never disturbs a reader: the current snapshot is
    never removed, and a file still open in an API worker stays readable until it is closed
    (PostgreSQL mode: `moatmetrics.warehouse.pg_snapshots.prune`).
    """
    _files_only(settings)
    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}: the current snapshot stays")
    folder = settings.snapshots_dir
    if not folder.exists():
        return []
    current = current_snapshot_id(settings)
    published = sorted(path.stem for path in folder.glob("*.json"))
    removed = [snapshot_id for snapshot_id in published[:-keep] if snapshot_id != current]
    if dry_run:
        return removed
    for snapshot_id in removed:
        # The manifest first: from then on nothing lists the snapshot, then its file goes.
        _manifest_path(settings, snapshot_id).unlink(missing_ok=True)
        (folder / f"{snapshot_id}.duckdb").unlink(missing_ok=True)
    kept = [snapshot_id for snapshot_id in published if snapshot_id not in removed]
    if kept:  # a file older than every kept snapshot, without manifest: an interrupted prune
        for path in folder.glob("*.duckdb"):
            if path.stem < kept[0] and path.stem != current and not path.name.startswith("."):
                path.unlink(missing_ok=True)
    return removed


def prune_published(
    storage: Storage, keep: int, bi_url: str | None = None, *, dry_run: bool = False
) -> list[str]:
    """`storage.prune`, or with `bi_url` the same for the copies in a BI database of their own
    (`snapshots to-postgres`, MOATMETRICS_PUBLISH_POSTGRES_URL)."""
    if not bi_url:
        return storage.prune(keep, dry_run=dry_run)
    from moatmetrics.warehouse import pg_snapshots

    return pg_snapshots.prune(bi_url, keep, dry_run=dry_run)


def prune_audited(
    storage: Storage, keep: int, actor: Actor, bi_url: str | None = None
) -> list[str]:
    """`prune_published`, recorded in the audit log as ``snapshots.prune`` whether it works
    or not."""
    from moatmetrics.appdb import audit

    settings = storage.settings
    where = "postgres" if bi_url else "snapshots"
    try:
        removed = prune_published(storage, keep, bi_url)
    except Exception as exc:  # psycopg.Error (a lock timeout), OSError; names no password
        details = {"keep": keep, "error": str(exc)[:2000]}
        audit.record(settings, actor, "snapshots.prune", "failed", where, details=details)
        raise
    details = {"keep": keep, "removed": removed}
    audit.record(settings, actor, "snapshots.prune", "ok", where, details=details)
    return removed


#: A snapshot id as `publish` makes it (20240501T093000123456Z-1a2b3c); the one check of an id
#: that came from outside (the CURRENT pointer file, `snapshots use` on either back end).
SNAPSHOT_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")


def unknown_snapshot(snapshot_id: str) -> SnapshotError:
    """The refusal of an id that is not a published snapshot, in either back end."""
    return SnapshotError(
        f"no published snapshot {snapshot_id!r} (never published, or removed by prune):"
        " `moatmetrics snapshots list` shows the ones there are"
    )


def use_snapshot(settings: Settings, snapshot_id: str) -> Snapshot:
    """Make an earlier published snapshot current again (a roll-back); the API serves it.

    Only the pointer moves; the snapshot itself is immutable and the next good run publishes a
    new one as usual. SnapshotError names the id when it is not a published snapshot (never
    published, or pruned since).
    """
    unknown = unknown_snapshot(snapshot_id)
    if not SNAPSHOT_ID.match(snapshot_id):
        raise unknown
    try:
        snapshot = load_snapshot(settings, snapshot_id)
    except FileNotFoundError:
        raise unknown from None
    if snapshot.path is None or not snapshot.path.exists():
        raise unknown
    _write_atomically(settings.snapshots_dir / POINTER_NAME, snapshot_id + "\n")
    return snapshot


def use_audited(storage: Storage, snapshot_id: str, actor: Actor) -> Snapshot:
    """`storage.use_snapshot`, recorded in the audit log as ``snapshots.use`` whether it works
    or not."""
    from moatmetrics.appdb import audit

    settings = storage.settings
    before = storage.current_snapshot_id()
    target = f"snapshots/{snapshot_id}"
    try:
        snapshot = storage.use_snapshot(snapshot_id)
    except Exception as exc:  # SnapshotError (refused), psycopg.Error, OSError (failed)
        outcome = "refused" if isinstance(exc, SnapshotError) else "failed"
        details = {"previous": before, "error": str(exc)[:2000]}
        audit.record(settings, actor, "snapshots.use", outcome, target, details=details)
        raise
    audit.record(settings, actor, "snapshots.use", "ok", target, details={"previous": before})
    return snapshot


BUILDING_SUFFIX = ".duckdb.building"


def remove_abandoned_building_files(settings: Settings) -> list[str]:
    """Delete the half-written snapshot files a killed publish left; returns their names.

    A publish writes ``.<id>.duckdb.building`` and renames it when complete; a publish killed
    in between leaves it, and nothing else would ever remove it (a full copy of the marts).
    The caller must hold the warehouse lock (`orchestration.resources.warehouse_lock`): every
    publish writes its file under that lock, so none of these files is being written by a
    live run.
    """
    if not settings.snapshots_dir.exists():
        return []
    removed = []
    for path in settings.snapshots_dir.glob(f".*{BUILDING_SUFFIX}"):
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


def new_snapshot_id() -> str:
    # Sortable by time, unique even for two publishes in the same second.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _warehouse_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        " WHERE table_catalog = 'warehouse'"
    ).fetchall()
    return {row[0] for row in rows}


def published_mart_source(mart: str, tables: set[str]) -> tuple[str, tuple[str, ...], str] | None:
    """What builds ``marts.<mart>`` of a snapshot over the attached ``warehouse``: the SELECT
    (without ORDER BY), the table's grain (the columns that tell its rows apart) and the
    ORDER BY it is written in ("" for none); None (not published) when the table is missing.

    A dbt mart gets the trust layer's columns (confidence, one column per factor,
    explanation, drivers, needs_review, review_status) joined on its grain; without a trust
    table (a warehouse built before the trust assets ran) it is copied as it is. The churn-risk
    mart comes from ``trust.client_risk``, the action list and the forecasts from ``insights``; the
    calendar of complete months and the trends (``UNSCORED_GRAINS``) are copied as they are.
    """
    schema = trust_tables.SCHEMA
    if mart in UNSCORED_GRAINS:  # no trust columns (the trends carry their own confidence)
        source, grain = f"marts.{mart}", UNSCORED_GRAINS[mart]
    elif mart in INSIGHT_ORDERS:
        source, grain = f"{INSIGHTS_SCHEMA}.{mart}", INSIGHT_ORDERS[mart]
    elif mart == RISK_TABLE:
        source, grain = f"{schema}.{mart}", ("risk_rank",)
    else:
        source, grain = "", GRAINS[mart]
    if source:
        if source not in tables:
            return None
        return f"SELECT * FROM warehouse.{source}", grain, ", ".join(grain)
    scores = f"{schema}.{trust_tables.scores_table(mart)}"
    if scores not in tables:
        return f"SELECT * FROM warehouse.marts.{mart}", grain, ""
    joined = " AND ".join(f"m.{c} IS NOT DISTINCT FROM t.{c}" for c in grain)
    added = ", ".join(f"t.{c}" for c in trust_tables.TRUST_COLUMNS)
    order = ", ".join(f"m.{c}" for c in grain)
    select = (
        f"SELECT m.*, {added} FROM warehouse.marts.{mart} AS m"
        f" LEFT JOIN warehouse.{scores} AS t ON {joined}"
    )
    return select, grain, order


def publish(
    settings: Settings,
    marts: tuple[str, ...] = PUBLISHED_MARTS,
    *,
    patch_min_rows: int = PATCH_MIN_ROWS,
) -> Snapshot:
    """Copy the warehouse's marts into a new immutable snapshot and make it current.

    Must run after a good build, in the pipeline process (the warehouse's only writer), with no
    other connection to the warehouse open. (PostgreSQL mode:
    `moatmetrics.storage.postgres.PostgresStorage.publish`.)
    The new file starts as a copy of the current snapshot's when there is one, and only the
    changed rows of its tables of at least `patch_min_rows` rows are replaced
    (`moatmetrics.snapshot_patching`); the result is the same as a file written whole.
    """
    _files_only(settings)
    settings.snapshots_dir.mkdir(parents=True, exist_ok=True)
    snapshot_id = new_snapshot_id()
    base = _patch_base(settings)
    written = write_snapshot_file(
        settings, snapshot_id, settings.snapshots_dir, marts, base, patch_min_rows
    )
    manifest = {
        "snapshot_id": snapshot_id,
        "file": f"{snapshot_id}.duckdb",
        "created_at": written.created_at,
        "row_counts": written.row_counts,
        "upload_ids": written.upload_ids,
        "written": written.how,
        "patched_from": written.patched_from,
        "rows_replaced_since_whole": written.replaced_since_whole,
    }
    _write_atomically(_manifest_path(settings, snapshot_id), json.dumps(manifest, indent=2))
    _write_atomically(settings.snapshots_dir / POINTER_NAME, snapshot_id + "\n")
    return load_snapshot(settings, snapshot_id)


def _patch_base(settings: Settings) -> PatchBase | None:
    """The current snapshot, which the next may be copied from; None when there is none."""
    snapshot_id = current_snapshot_id(settings)
    if snapshot_id is None:
        return None
    try:
        manifest = json.loads(_manifest_path(settings, snapshot_id).read_text())
    except (OSError, ValueError):  # pruned, or a manifest from before the pointer: whole
        return None
    return PatchBase(
        snapshot_id=snapshot_id,
        path=settings.snapshots_dir / manifest["file"],
        row_counts=manifest["row_counts"],
        replaced_since_whole=int(manifest.get("rows_replaced_since_whole") or 0),
    )


@dataclass(frozen=True)
class WrittenSnapshot:
    """What writing a snapshot file produced, for its manifest."""

    created_at: str
    row_counts: dict[str, int]
    upload_ids: list[str]
    how: str  # "whole (<why>)" or "patched from <id>: ..."
    patched_from: str | None = None
    replaced_since_whole: int = 0


def _open_copy(
    settings: Settings, base: PatchBase | None, building_path: Path, patch_min_rows: int
) -> tuple[duckdb.DuckDBPyConnection | None, str]:
    """A connection to a copy of `base` at `building_path`, or None and why the file is
    written whole instead."""
    if base is None:
        return None, "no current snapshot to copy"
    if not any(rows >= patch_min_rows for rows in base.row_counts.values()):
        return None, f"no table of {patch_min_rows} rows or more to patch"
    refusal = base.refusal()
    if refusal:
        return None, f"{base.snapshot_id} not copied: {refusal}"
    try:
        copy_base(base, building_path)
        # only a copy under the key new files get (or none): it stays what a new file would be
        return connect_duckdb(building_path, settings, keys=configured_keys(settings)[:1]), ""
    except (duckdb.Error, OSError, EncryptionError) as exc:
        building_path.unlink(missing_ok=True)
        return None, f"{base.snapshot_id} not copied: {exc}"


def write_snapshot_file(
    settings: Settings,
    snapshot_id: str,
    folder: Path,
    marts: tuple[str, ...],
    base: PatchBase | None = None,
    patch_min_rows: int = PATCH_MIN_ROWS,
) -> WrittenSnapshot:
    """Write `<folder>/<snapshot_id>.duckdb` read-only, from a copy of `base` when it may be
    patched (`moatmetrics.snapshot_patching`), else whole."""
    final_path = folder / f"{snapshot_id}.duckdb"
    building_path = folder / f".{snapshot_id}{BUILDING_SUFFIX}"
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        con, whole_because = _open_copy(settings, base, building_path, patch_min_rows)
        copied = con is not None
        if con is None:
            con = connect_duckdb(building_path, settings)
        try:
            attach_duckdb(con, settings.warehouse_path, "warehouse", settings, read_only=True)
            con.execute("CREATE SCHEMA IF NOT EXISTS marts")
            con.execute("DROP SCHEMA IF EXISTS meta CASCADE")
            tables = _warehouse_tables(con)
            held = {
                row[0]
                for row in con.execute(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_catalog = current_database() AND table_schema = 'marts'"
                ).fetchall()
            }
            row_counts: dict[str, int] = {}
            replaced, patched, rewritten = 0, [], 0
            for mart in marts:
                source = published_mart_source(mart, tables)
                if source is None:
                    con.execute(f"DROP TABLE IF EXISTS marts.{mart}")
                    continue
                select, grain, order = source
                changed = None
                big = base is not None and base.row_counts.get(mart, 0) >= patch_min_rows
                if copied and mart in held and big:
                    changed = patch_table(con, f"marts.{mart}", select, grain)
                if changed is None:
                    ordered = f"{select} ORDER BY {order}" if order else select
                    con.execute(f"CREATE OR REPLACE TABLE marts.{mart} AS {ordered}")
                    if copied and base:  # its old rows are free space in the copy now
                        rewritten += base.row_counts.get(mart, 0)
                else:
                    replaced += changed
                    patched.append(mart)
                counted = con.execute(f"SELECT count(*) FROM marts.{mart}").fetchone()
                assert counted is not None  # count(*) always answers one row
                row_counts[mart] = counted[0]
            for stale in sorted(held - set(row_counts)):  # copied, no longer published
                con.execute(f"DROP TABLE marts.{stale}")
            upload_ids = [
                row[0]
                for row in con.execute(
                    "SELECT upload_id FROM warehouse.ingest.uploads"
                    " WHERE status = 'accepted' ORDER BY upload_seq"
                ).fetchall()
            ]
            con.execute("CREATE SCHEMA meta")
            con.execute(
                "CREATE TABLE meta.snapshot AS SELECT ? AS snapshot_id,"
                " CAST(? AS TIMESTAMPTZ) AS created_at",
                [snapshot_id, created_at],
            )
            con.execute(
                "CREATE TABLE meta.snapshot_uploads AS"
                " SELECT upload_id, sha256, file_name, entity, row_count, uploaded_at"
                " FROM warehouse.ingest.uploads WHERE status = 'accepted' ORDER BY upload_seq"
            )
            con.execute("CREATE TABLE meta.snapshot_tables (mart VARCHAR, row_count BIGINT)")
            model = f"{trust_tables.SCHEMA}.{trust_tables.MODEL_TABLE}"
            if model in tables:  # how the churn risk was trained, or why it was not
                con.execute(f"CREATE TABLE meta.{trust_tables.MODEL_TABLE} AS"
                            f" SELECT * FROM warehouse.{model}")  # fmt: skip
            con.executemany(
                "INSERT INTO meta.snapshot_tables VALUES (?, ?)", list(row_counts.items())
            )
            con.execute("DETACH warehouse")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        from moatmetrics.run_lock import pause_point

        pause_point("publish.building")  # crash tests: a kill here leaves the .building file
        os.chmod(building_path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(building_path, final_path)
    except (duckdb.Error, OSError, EncryptionError) as exc:
        building_path.unlink(missing_ok=True)
        raise SnapshotError(f"could not write snapshot {snapshot_id}: {exc}") from exc
    if copied and base:
        how = (
            f"patched from {base.snapshot_id}: {replaced} rows replaced in"
            f" {', '.join(patched) or 'no table'}; the other tables written whole"
        )
        return WrittenSnapshot(
            created_at, row_counts, upload_ids, how, base.snapshot_id,
            base.replaced_since_whole + replaced + rewritten,
        )  # fmt: skip
    return WrittenSnapshot(created_at, row_counts, upload_ids, f"whole ({whole_because})")
