"""Backup and restore of a MoatMetrics home: `moatmetrics backup --to DIR`, `restore --from DIR`.

Why a command and not only the copy procedure of docs/operations.md: the pieces must be taken
in an order (the audit checkpoint before the app database, snapshot files before the pointer),
the app database must be copied online while the API keeps writing its audit log, and no run
may write the warehouse or publish while it is copied. Getting one step wrong gives a backup
that restores to an audit log that does not verify, or a pointer to a missing snapshot, and
nobody finds out until the day it is needed.

A backup is a folder: the files of the home under their own names, the app database as a
standalone copy (SQLite online backup, or `pg_dump` custom format for PostgreSQL), and
`backup.json`, which lists every file with its SHA-256 and size. Restore checks every checksum
before it writes anything, refuses a home that already holds data, puts the files back
(`snapshots/CURRENT` last) and verifies the audit chain against the restored checkpoint.

The signing key (`secrets/`) is left out unless asked for (`--include-secrets`): a backup that
holds the key can re-sign a forged audit log, so by default it is kept apart, as
docs/security.md advises; restoring without it on a new machine needs the key file put back
first, or the audit chain will not verify.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from moatmetrics.at_rest.encryption import configured_keys
from moatmetrics.run_lock import warehouse_lock
from moatmetrics.seam.base import Storage
from moatmetrics.settings import Settings
from moatmetrics.snapshots import POINTER_NAME

FORMAT = 1
MANIFEST = "backup.json"
APP_DB_FILE = "app.db"
CHECKPOINT_FILE = "audit-checkpoint.json"
SIGNING_KEY_FILE = "secrets/signing.key"
_CHUNK = 2**20


class BackupError(Exception):
    """A backup or restore that cannot be done, with what to do about it."""


@dataclass(frozen=True)
class BackedUpFile:
    path: str  # relative to the backup folder, `/`-separated
    sha256: str
    size_bytes: int


@dataclass
class BackupManifest:
    created_at: str
    home: str
    current_snapshot: str | None
    app_database: str  # "sqlite" or "postgresql"
    warehouse_database: str | None  # "postgresql" in PostgreSQL mode, else None
    secrets_included: bool
    files: list[BackedUpFile] = field(default_factory=list)
    format: int = FORMAT
    # The id (never the key) of the at-rest key the files are encrypted under; None: plain.
    encryption_key_id: str | None = None

    def to_json(self) -> str:
        body = {**self.__dict__, "files": [f.__dict__ for f in self.files]}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, folder: Path) -> BackupManifest:
        path = folder / MANIFEST
        try:
            body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BackupError(
                f"{folder} is not a MoatMetrics backup: it has no {MANIFEST}"
            ) from None
        except (OSError, ValueError) as exc:
            raise BackupError(f"{path} cannot be read ({exc}): the backup is damaged") from None
        if body.get("format") != FORMAT:
            raise BackupError(
                f"{path} has backup format {body.get('format')!r}; this version reads {FORMAT}"
            )
        files = [BackedUpFile(**f) for f in body.pop("files")]
        return cls(**body, files=files)


@dataclass(frozen=True)
class RestoreReport:
    files: int
    bytes: int
    current_snapshot: str | None
    audit_valid: bool
    audit_detail: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database:
        raise BackupError(f"the app database URL {parsed.render_as_string()} names no file")
    return Path(parsed.database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment that carries it (a password on
    a command line is visible to every user of the machine)."""
    parsed = make_url(url).set(drivername="postgresql")
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed: {what} of a PostgreSQL database needs the"
            " PostgreSQL client programs (Debian: apt-get install postgresql-client)"
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


class _Writer:
    """Copies into the backup folder, recording each file's checksum as it goes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[BackedUpFile] = []

    def record(self, relative: str) -> None:
        path = self.folder / relative
        self.files.append(BackedUpFile(relative, _sha256(path), path.stat().st_size))

    def copy(self, source: Path, relative: str) -> bool:
        target = self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            return False
        self.record(relative)
        return True

    def copy_tree(self, source: Path, relative: str) -> None:
        if not source.is_dir():
            return
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                self.copy(path, f"{relative}/{path.relative_to(source).as_posix()}")


def back_up_sqlite_file(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while API workers keep appending."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one standalone file, no -wal beside it
    finally:
        dst.close()
        src.close()


def _pg_dump(url: str, target: Path) -> None:
    conninfo, env = _libpq(url)
    _run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", f"--dbname={conninfo}"],
        env,
        "pg_dump",
    )


def back_up(storage: Storage, folder: Path, *, include_secrets: bool = False) -> BackupManifest:
    """Copy the home into `folder` (new or empty) while the API serves; runs wait meanwhile."""
    settings = storage.settings
    folder = folder.expanduser().resolve()
    if folder == settings.home or settings.home in folder.parents:
        raise BackupError(f"{folder} is inside the home {settings.home}: back up elsewhere")
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty: back up into a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    out = _Writer(folder)
    app_sqlite = sqlite_file(settings.app_database_url)
    keys = configured_keys(settings)
    key_id = keys[0].key_id.hex() if keys else None
    # The writer lock: no run ingests, builds or publishes while the warehouse, the snapshots
    # and the upload archive are copied (a run that starts waits); the API only reads those.
    with warehouse_lock(settings):
        current = storage.current_snapshot_id()
        # The checkpoint before the app database: a restored checkpoint is never ahead of it.
        if settings.audit_checkpoint_path.exists():
            out.copy(settings.audit_checkpoint_path, CHECKPOINT_FILE)
        if app_sqlite is not None:
            if app_sqlite.exists():
                back_up_sqlite_file(app_sqlite, folder / APP_DB_FILE)
                out.record(APP_DB_FILE)
        else:
            _pg_dump(settings.app_database_url, folder / "app.pgdump")
            out.record("app.pgdump")
        if settings.warehouse_url and settings.warehouse_url != settings.app_database_url:
            _pg_dump(settings.warehouse_url, folder / "warehouse.pgdump")
            out.record("warehouse.pgdump")
        if settings.warehouse_path.exists():
            out.copy(settings.warehouse_path, "warehouse.duckdb")
        for path in sorted(settings.snapshots_dir.glob("*")):
            if path.is_file() and path.name != POINTER_NAME and not path.name.startswith("."):
                out.copy(path, f"snapshots/{path.name}")
        if current is not None:  # the pointer last, naming a file already copied
            (folder / "snapshots" / POINTER_NAME).write_text(current + "\n", encoding="utf-8")
            out.record(f"snapshots/{POINTER_NAME}")
        out.copy_tree(settings.uploads_dir, "uploads")
        out.copy_tree(settings.home / "sources", "sources")  # the MSP's own source profiles
        if include_secrets and settings.signing_key_path.exists():
            out.copy(settings.signing_key_path, SIGNING_KEY_FILE)
            os.chmod(folder / SIGNING_KEY_FILE, 0o600)
    manifest = BackupManifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        home=str(settings.home),
        current_snapshot=current,
        app_database="sqlite" if app_sqlite is not None else "postgresql",
        warehouse_database="postgresql" if settings.warehouse_url else None,
        secrets_included=include_secrets and settings.signing_key_path.exists(),
        files=out.files,
        encryption_key_id=key_id,
    )
    (folder / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _check(folder: Path, manifest: BackupManifest) -> None:
    for entry in manifest.files:
        path = folder / entry.path
        if not path.is_file():
            raise BackupError(f"{path} is missing from the backup: it cannot be restored")
        if path.stat().st_size != entry.size_bytes or _sha256(path) != entry.sha256:
            raise BackupError(
                f"{path} differs from the checksum in {MANIFEST}: the backup is damaged or was"
                " changed; restore from another backup"
            )


def _home_holds_data(settings: Settings) -> list[str]:
    found = []
    app_sqlite = sqlite_file(settings.app_database_url)
    if app_sqlite is not None and app_sqlite.exists():
        found.append(str(app_sqlite))
    if settings.warehouse_path.exists():
        found.append(str(settings.warehouse_path))
    for folder in (settings.snapshots_dir, settings.uploads_dir):
        if folder.is_dir() and any(p for p in folder.iterdir() if not p.name.startswith(".")):
            found.append(str(folder))
    return found


def _pg_restore(url: str, dump: Path) -> None:
    conninfo, env = _libpq(url)
    _run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={conninfo}", str(dump)],
        env,
        "pg_restore (into an empty database)",
    )


def _check_encryption_key(settings: Settings, backup_key_id: str | None) -> None:
    """A backup restores only where its files will open: under the key it was made with."""
    ids = [key.key_id.hex() for key in configured_keys(settings)]
    if backup_key_id is None and ids:
        raise BackupError(
            "the backup is not encrypted but MOATMETRICS_ENCRYPTION_KEY_FILE is set: restore"
            " without it, then encrypt the home with `moatmetrics encryption rotate"
            " --new-key-file FILE`"
        )
    if backup_key_id is not None and backup_key_id not in ids:
        raise BackupError(
            f"the backup is encrypted under key {backup_key_id}"
            + (f", not the configured key {ids[0]}" if ids else "")
            + ": set MOATMETRICS_ENCRYPTION_KEY_FILE to that key's file (kept apart from the"
            " backup) and restore again"
        )


def restore(settings: Settings, folder: Path) -> RestoreReport:
    """Put a backup back into an empty home, then verify the audit chain it brought."""
    folder = folder.expanduser().resolve()
    manifest = BackupManifest.read(folder)
    _check(folder, manifest)
    occupied = _home_holds_data(settings)
    if occupied:
        raise BackupError(
            "the home already holds data (" + ", ".join(occupied) + "): restore into an empty"
            " home, or move these aside first"
        )
    _check_encryption_key(settings, manifest.encryption_key_id)
    if manifest.app_database == "sqlite" and sqlite_file(settings.app_database_url) is None:
        raise BackupError(
            "the backup's app database is SQLite but MOATMETRICS_DATABASE_URL (or the warehouse"
            " URL) names PostgreSQL here: unset it, or restore a backup taken in that mode"
        )
    if manifest.app_database == "postgresql" and sqlite_file(settings.app_database_url):
        raise BackupError(
            "the backup's app database is PostgreSQL: set MOATMETRICS_DATABASE_URL (or"
            " MOATMETRICS_WAREHOUSE_URL) to an empty PostgreSQL database first"
        )
    settings.home.mkdir(parents=True, exist_ok=True)
    pointer = f"snapshots/{POINTER_NAME}"
    restored_bytes = 0
    for entry in sorted(manifest.files, key=lambda f: f.path == pointer):  # CURRENT last
        source = folder / entry.path
        restored_bytes += entry.size_bytes
        if entry.path == "app.pgdump":
            _pg_restore(settings.app_database_url, source)
            continue
        if entry.path == "warehouse.pgdump":
            assert settings.warehouse_url is not None, "a PostgreSQL-mode backup needs its URL"
            _pg_restore(settings.warehouse_url, source)
            continue
        if entry.path == APP_DB_FILE:
            target = sqlite_file(settings.app_database_url)
        elif entry.path == CHECKPOINT_FILE:
            target = settings.audit_checkpoint_path
        elif entry.path == SIGNING_KEY_FILE:
            target = settings.signing_key_path
            if target.exists():
                if target.read_bytes() != source.read_bytes():
                    raise BackupError(
                        f"{target} holds another signing key than the backup's: the restored"
                        " audit log would not verify; move it aside or restore without it"
                    )
                continue
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        else:
            target = settings.home / entry.path
        assert target is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        if entry.path == SIGNING_KEY_FILE:
            os.chmod(target, 0o600)
    from moatmetrics.appdb import audit  # the app database is opened only after it is back

    report = audit.verify(settings)
    detail = "valid" if report.valid else (report.reason or "not valid")
    return RestoreReport(
        len(manifest.files), restored_bytes, manifest.current_snapshot, report.valid, detail
    )
