"""`moatmetrics encryption rotate --new-key-file FILE`: every file of the home under a new key.

Rewrites what holds data under the key: the warehouse, every snapshot (same content, same
id: a snapshot stays immutable in what it says) and every archived upload. Run on a home
without a key, it encrypts the home for the first time. It holds the writer lock, so no run
starts meanwhile, and the API keeps serving: the next key waits beside the key file
(`<key file>.next`) and opens files too until the rotation ends by moving it over the key
file. An interrupted rotation is finished by running the same command again: files already
under the new key are skipped.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import duckdb

from moatmetrics.at_rest.duckdb_files import attach_duckdb, catalog_name
from moatmetrics.at_rest.encryption import (
    AtRestKey,
    EncryptionError,
    archived_key_id,
    configured_keys,
    next_key_path,
    read_key_file,
    reencrypt_archived_file,
    write_key_file,
)
from moatmetrics.run_lock import warehouse_lock
from moatmetrics.settings import Settings
from moatmetrics.snapshots import POINTER_NAME

ROTATING_SUFFIX = ".rotating"


@dataclass
class RotationReport:
    duckdb_files: int = 0  # rewritten under the new key
    archived_files: int = 0
    already_rotated: int = 0  # found under the new key (an earlier, interrupted rotation)
    key_file: Path | None = None  # the key file that now holds the new key (None: set it)


def home_duckdb_files(settings: Settings) -> list[Path]:
    """The warehouse and every published snapshot file."""
    files = [settings.warehouse_path] if settings.warehouse_path.exists() else []
    if settings.snapshots_dir.is_dir():
        files += sorted(
            p
            for p in settings.snapshots_dir.glob("*.duckdb")
            if p.is_file() and not p.name.startswith(".") and p.name != POINTER_NAME
        )
    return files


def archived_files(settings: Settings) -> list[Path]:
    if not settings.uploads_dir.is_dir():
        return []
    return sorted(
        p for p in settings.uploads_dir.iterdir() if p.is_file() and not p.name.endswith(".part")
    )


def _opens_with(path: Path, keys: list[AtRestKey], settings: Settings) -> bool:
    """Whether `path` opens with exactly `keys` (none: as a plain file)."""
    con = duckdb.connect()
    try:
        attach_duckdb(con, path, "probe", settings, read_only=True, keys=keys)
        return True
    except EncryptionError:
        return False
    finally:
        con.close()


def _rewrite_duckdb_file(path: Path, settings: Settings, new_key: AtRestKey) -> bool:
    """Copy `path` into a new file under `new_key` and put it in its place; False when the
    file already is under `new_key`."""
    if _opens_with(path, [new_key], settings):
        return False
    rotating = path.with_name(f".{path.name}{ROTATING_SUFFIX}")
    rotating.unlink(missing_ok=True)
    source = catalog_name(path)  # views name their catalog: keep it while copying
    con = duckdb.connect()
    try:
        attach_duckdb(con, path, source, settings, read_only=True)
        attach_duckdb(con, rotating, "rotated", settings, keys=[new_key])
        con.execute(f'COPY FROM DATABASE "{source}" TO rotated')
        con.execute("DETACH rotated")
    except BaseException:
        rotating.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    with rotating.open("rb") as written:
        os.fsync(written.fileno())
    os.chmod(rotating, stat.S_IMODE(path.stat().st_mode))
    os.replace(rotating, path)
    return True


def rotate_key(settings: Settings, new_key_file: Path) -> RotationReport:
    """Put the home's files under the key in `new_key_file` (see the module docstring)."""
    new_key = read_key_file(new_key_file)
    current = settings.encryption_key_file
    report = RotationReport(key_file=current)
    with warehouse_lock(settings):
        pending: Path | None = None
        if current is not None:
            if read_key_file(current).text == new_key.text:
                raise EncryptionError(
                    f"{new_key_file} holds the key already in use ({current}): make a new one"
                    " with `moatmetrics encryption new-key FILE`"
                )
            pending = next_key_path(current)
            if pending.exists():
                if read_key_file(pending).text != new_key.text:
                    raise EncryptionError(
                        f"an unfinished rotation to the key in {pending} is under way: finish"
                        f" it first with `moatmetrics encryption rotate --new-key-file {pending}`"
                    )
            else:
                write_key_file(pending, new_key.text)
        for path in home_duckdb_files(settings):
            if _rewrite_duckdb_file(path, settings, new_key):
                report.duckdb_files += 1
            else:
                report.already_rotated += 1
        for path in archived_files(settings):
            if reencrypt_archived_file(path, settings, new_key):
                report.archived_files += 1
            else:
                report.already_rotated += 1
        if current is not None and pending is not None:
            os.replace(pending, current)
    return report


def _duckdb_file_state(path: Path, settings: Settings, keys: list[AtRestKey]) -> str:
    if _opens_with(path, [], settings):
        return "plain"
    for key in keys:
        if _opens_with(path, [key], settings):
            return f"encrypted, key {key.key_id.hex()}"
    return "encrypted, another key"


def encryption_status(settings: Settings) -> list[tuple[Path, str]]:
    """Each file of the home that holds data, and how it is stored: `plain`, `encrypted, key
    <id>` (a configured key's id) or `encrypted, another key`."""
    keys = configured_keys(settings)
    states = [(p, _duckdb_file_state(p, settings, keys)) for p in home_duckdb_files(settings)]
    key_ids = {key.key_id for key in keys}
    for path in archived_files(settings):
        key_id = archived_key_id(path)
        if key_id is None:
            states.append((path, "plain"))
        elif key_id in key_ids:
            states.append((path, f"encrypted, key {key_id.hex()}"))
        else:
            states.append((path, "encrypted, another key"))
    return states
