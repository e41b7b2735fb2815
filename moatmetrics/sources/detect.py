"""Which profile a file follows: its headers (and a discriminating value) decide.

Only the head of the file is read here: the first lines of a CSV (the header may sit below a
title block) or the first objects of a JSON array. Headers match case-insensitively after
trimming, with a leading ``*`` stripped; ``company/identifier`` (a flattened CSV) and
``company.identifier`` (nested JSON) are the same header.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from moatmetrics.contract.readers import StructuralError, _detect_encoding
from moatmetrics.sources.profiles import Profile

HEAD_BYTES = 256 * 1024
HEAD_LINES = 40
JSON_SAMPLE = 50


def vendor_header(name: str) -> str:
    """The matching form of a header: trimmed, lower case, no leading `*`, `/` as `.`."""
    return name.replace("\ufeff", "").strip().lstrip("*").strip().lower().replace("/", ".")


@dataclass
class FileHead:
    """The candidate header rows of a file and a sample of the rows after each."""

    format: str  # csv | json
    rows: list[list[str]]  # CSV: the first lines, parsed; JSON: [flattened keys]
    sample: list[dict[str, str]]  # JSON: flattened sample objects

    def headers_at(self, index: int) -> list[str]:
        return self.rows[index] if index < len(self.rows) else []


def read_head(path: Path, fmt: str) -> FileHead:
    if fmt == "json":
        return _json_head(path)
    encoding = "cp1252" if _detect_encoding(path) == "cp1252" else "utf-8-sig"
    with open(path, "rb") as handle:
        raw = handle.read(HEAD_BYTES)
    text = raw.decode(encoding, errors="replace")
    lines = text.splitlines()[:HEAD_LINES]
    if len(raw) == HEAD_BYTES and lines:
        lines = lines[:-1]  # the last line may be cut
    rows = [next(csv.reader(io.StringIO(line)), []) for line in lines]
    return FileHead("csv", rows, [])


def _flatten(obj: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not prefix:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = "" if value is None else str(value)
    return flat


def _json_head(path: Path) -> FileHead:
    with open(path, "rb") as handle:
        if not handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            return FileHead("json", [[]], [])  # not an array: the canonical reader says why
    con = duckdb.connect()
    try:
        objects = con.execute(
            f"SELECT json FROM read_json_objects(?, format = 'array') LIMIT {JSON_SAMPLE}",
            [str(path)],
        ).fetchall()
    except duckdb.Error:
        return FileHead("json", [[]], [])  # invalid JSON: the canonical reader reports it
    finally:
        con.close()
    sample = []
    for (text,) in objects:
        value = json.loads(text)
        if isinstance(value, dict):
            sample.append(_flatten(value))
    keys: dict[str, None] = {}
    for flat in sample:
        keys.update(dict.fromkeys(flat))
    return FileHead("json", [list(keys)], sample)


@dataclass
class Candidate:
    profile: Profile
    header_index: int | None  # the matching header row (CSV), None when it does not match
    missing: list[str]  # signature headers the best row lacks
    discriminator_ok: bool = True

    @property
    def matches(self) -> bool:
        return self.header_index is not None and not self.missing and self.discriminator_ok


def _discriminates(profile: Profile, head: FileHead, index: int) -> bool:
    if profile.discriminator is None:
        return True
    column, values = profile.discriminator
    wanted = {v.strip().lower() for v in values}
    if head.format == "json":
        seen = [r.get(a, "") for r in head.sample for a in column.split("|") if a in r]
    else:
        headers = [vendor_header(h) for h in head.headers_at(index)]
        found = [vendor_header(a) for a in column.split("|") if vendor_header(a) in headers]
        if not found:
            return False
        position = headers.index(found[0])
        seen = [r[position] for r in head.rows[index + 1 :] if position < len(r)]
    seen = [s.strip().lower() for s in seen if s and s.strip()]
    return any(s in wanted for s in seen)  # a bad value is a row problem, not another layout


def evaluate(profile: Profile, head: FileHead) -> Candidate:
    """How well the file's head fits ``profile`` (the best header row when it is `auto`)."""
    signature = [[vendor_header(a) for a in h.split("|")] for h in profile.signature]
    if head.format == "json":
        indexes = [0]
    elif profile.header_row == "auto":
        indexes = list(range(len(head.rows)))
    else:
        indexes = [int(profile.header_row) - 1]
    best: Candidate | None = None
    for index in indexes:
        present = {vendor_header(h) for h in head.headers_at(index)}
        missing = [
            h
            for h, alternatives in zip(profile.signature, signature, strict=True)
            if not any(a in present for a in alternatives)
        ]
        if not missing:
            return Candidate(profile, index, [], _discriminates(profile, head, index))
        if best is None or len(missing) < len(best.missing):
            best = Candidate(profile, None, missing)
    return best or Candidate(profile, None, list(profile.signature))


def choose(profiles: dict[str, Profile], head: FileHead, path: Path) -> Candidate | None:
    """The one matching profile, None when none matches; several is an error."""
    candidates = [
        evaluate(p, head) for p in profiles.values() if head.format in p.format.split("|")
    ]
    matching = [c for c in candidates if c.matches]
    if len(matching) == 1:
        return matching[0]
    if len(matching) > 1:
        matching.sort(key=lambda c: c.profile.name)
        names = ", ".join(c.profile.name for c in matching)
        signatures = {c.profile.name: set(c.profile.signature) for c in matching}
        common = set.intersection(*signatures.values())
        differ = [
            f"only {name} requires {', '.join(sorted(sig - common))}"
            for name, sig in signatures.items()
            if sig - common
        ]
        raise StructuralError(
            f"'{path.name}' matches several source profiles ({names}); their signatures"
            + (f" differ: {'; '.join(differ)}" if differ else " are identical")
            + ". Pass --source NAME to pick one, or make one profile's signature stricter"
        )
    return None


def closest_profiles(profiles: dict[str, Profile], head: FileHead, limit: int = 3) -> str:
    """The nearest profiles and what each is missing, for the error message."""
    candidates = [evaluate(p, head) for p in profiles.values()]
    # Most signature headers present first, then the smallest share missing.
    candidates.sort(
        key=lambda c: (
            -(len(c.profile.signature) - len(c.missing)),
            len(c.missing) / max(len(c.profile.signature), 1),
            c.profile.name,
        )
    )
    parts = []
    for c in candidates[:limit]:
        if c.missing:
            parts.append(f"{c.profile.name} (missing headers: {', '.join(c.missing)})")
        elif not c.discriminator_ok:
            column, values = c.profile.discriminator or ("", ())
            parts.append(f"{c.profile.name} (column {column} must hold {' / '.join(values)})")
    return "; ".join(parts)


DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
