"""Take an uploaded file into the landing folder safely: name, size, workbook bombs, entity.

The file is copied under a hidden temporary name (the landing scan skips dot-files), checked,
and only then renamed into place, so a pipeline run never sees half a file. Its landed name
keeps what the ingest needs to know the entity: ``<entity>__<name>.<hash8><ext>`` when the
entity was given, else ``<name>.<hash8><ext>`` where the name names the entity or the headers
are those of a source profile (a vendor export, docs/sources.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from api.problems import ProblemError, bad_request, too_large, unprocessable
from moatmetrics.appdb import uploads
from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import Upload
from moatmetrics.contract.entities import ENTITIES, entity_for_file_stem
from moatmetrics.contract.readers import StructuralError, file_format
from moatmetrics.contract.xlsx_guard import check_xlsx_archive
from moatmetrics.ingest.scopes import parse_period
from moatmetrics.settings import Settings
from moatmetrics.sources.engine import recognised_source, unrecognised_file_message
from moatmetrics.upload_runs import request_run

MAX_NAME_LENGTH = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 2**20
_ENTITY_NAMES = ", ".join(ENTITIES)


@dataclass(frozen=True)
class Received:
    path: Path
    sha256: str
    size_bytes: int


def clean_file_name(raw: str | None) -> str:
    """A safe landing name, or a 400/422 problem saying what is wrong with the given one."""
    if not raw or not raw.strip():
        raise bad_request("invalid-file-name", "Invalid file name", "The upload has no file name.")
    name = unicodedata.normalize("NFKC", raw).strip()
    if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise bad_request(
            "invalid-file-name",
            "Invalid file name",
            f"The file name {raw!r} contains a path; send only the file's own name, e.g."
            " clients.csv.",
        )
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise bad_request(
            "invalid-file-name", "Invalid file name", "The file name contains control characters."
        )
    path = Path(name)
    try:
        file_format(path)
    except StructuralError as exc:
        raise unprocessable("unsupported-file-type", "Unsupported file type", str(exc)) from None
    stem = _UNSAFE.sub("_", path.stem).strip("._-")[:MAX_NAME_LENGTH] or "upload"
    return stem + path.suffix.lower()


def check_entity(entity: str | None) -> str | None:
    """The explicit entity, checked (None when the form did not name one)."""
    if entity is None:
        return None
    entity = entity.strip().lower()
    if entity not in ENTITIES:
        raise unprocessable(
            "unknown-entity", "Unknown entity", f"entity must be one of: {_ENTITY_NAMES}."
        )
    return entity


def check_recognised(received: Received, name: str, settings: Settings) -> None:
    """A file without an explicit entity must say what it holds: by its name (a canonical
    file, e.g. ``time_entries_2026-10.csv``) or by its headers (a vendor export a source
    profile reads, e.g. ConnectWise's ``Time Entries.csv``). Judged now, not at the next run,
    so the uploader learns at once."""
    if entity_for_file_stem(Path(name).stem) is not None:
        return
    try:
        if recognised_source(received.path, name, settings) is not None:
            return
        detail = unrecognised_file_message(received.path, name, settings)
    except StructuralError as exc:
        detail = str(exc)
    raise unprocessable("unknown-entity", "Cannot tell what the file holds", detail)


def check_period(period: str | None) -> tuple[date, date] | None:
    """The declared period (form field `period`), checked; None when not given."""
    if period is None or not period.strip():
        return None
    try:
        return parse_period(period)
    except ValueError as exc:
        raise unprocessable("invalid-period", "Invalid period", f"{exc}.") from None


def receive(source: BinaryIO, settings: Settings) -> Received:
    """Copy the upload into a hidden file in the landing folder, hashing and counting it."""
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    target = settings.landing_dir / f".incoming-{secrets.token_hex(8)}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(target, "wb") as out:
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise too_large(settings.max_upload_bytes)
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise unprocessable(
                "empty-file", "Empty file", "The file is empty: export it again with data."
            )
    except (ProblemError, OSError):
        target.unlink(missing_ok=True)
        raise
    return Received(target, digest.hexdigest(), size)


def check_content(received: Received, name: str) -> None:
    """Refuse workbooks that would inflate far beyond their size (zip bombs)."""
    if file_format(Path(name)) != "xlsx":
        return
    try:
        check_xlsx_archive(received.path)
    except StructuralError as exc:
        received.path.unlink(missing_ok=True)
        raise unprocessable("unsafe-workbook", "Workbook refused", str(exc)) from None


def land(received: Received, name: str, entity: str | None, settings: Settings) -> str:
    """Move the checked file to its final landing name (atomic rename); returns that name."""
    path = Path(name)
    stem = f"{entity}__{path.stem}" if entity else path.stem
    final = f"{stem}.{received.sha256[:8]}{path.suffix}"
    os.replace(received.path, settings.landing_dir / final)
    return final


def discard(received: Received) -> None:
    received.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Taken:
    """An upload recorded (received, or unchanged when its content was already processed)."""

    upload: Upload
    run_requested: bool


def take_upload(
    settings: Settings,
    actor: Actor,
    source: BinaryIO,
    file_name: str | None,
    entity: str | None,
    period: str | None = None,
) -> Taken:
    """Check, land and record one uploaded file, then ask for a pipeline run.

    The one way in for HTTP uploads: `POST /api/v1/uploads` and the console's upload form
    both call it, so both refuse the same files and write the same audit entry (in the same
    transaction as the upload record). Refusals raise `ProblemError`.
    """
    name = clean_file_name(file_name)
    entity = check_entity(entity)
    declared = check_period(period)
    received = receive(source, settings)
    landed: str | None = None
    try:
        check_content(received, name)
        if entity is None:
            check_recognised(received, name, settings)
        with session_scope(settings, write=True) as session:
            previous = uploads.find_processed(session, received.sha256)
            if previous is not None:
                upload = uploads.create_duplicate(
                    session, actor, original_name=file_name or name, entity=entity,
                    sha256=received.sha256, size_bytes=received.size_bytes, previous=previous,
                )  # fmt: skip
            else:
                landed = land(received, name, entity, settings)
                upload = uploads.create_received(
                    session, actor, original_name=file_name or name, stored_name=landed,
                    entity=entity, sha256=received.sha256, size_bytes=received.size_bytes,
                    period=declared,
                )  # fmt: skip
    except BaseException:
        if landed:
            (settings.landing_dir / landed).unlink(missing_ok=True)
        discard(received)
        raise
    discard(received)
    return Taken(upload, landed is not None and request_run(settings))
