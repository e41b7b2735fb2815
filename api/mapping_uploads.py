"""One mapping row written by a person: a one-row upload of its mapping table.

Mapping tables are uploads (docs/data-contract.md "Mapping uploads"): versioned, audited, the
newest row per key wins. A row typed in the console's mappings page, or the alias an identity
confirmation writes, goes in the same way as a file: a one-row CSV through the one intake
(`take_upload`: checked, archived, recorded in the uploader's name, audited as
`uploads.create`, shown on the uploads page, retractable), and the next run applies it. So
there is no second store of mappings, and withdrawing such a row is retracting its upload,
which brings back the row it replaced, if any.
"""

from __future__ import annotations

import csv
import io
import unicodedata

from api.upload_intake import Taken, take_upload
from moatmetrics.appdb.audit import Actor
from moatmetrics.contract.entities import ENTITIES, INVOICE_CATEGORIES, MAPPING_KEYS
from moatmetrics.settings import Settings
from moatmetrics.sources.profiles import FAMILIES

#: The longest value a mapping column takes (the contract's text bound).
MAX_VALUE_CHARS = 200


class MappingRefused(ValueError):
    """A mapping row that would be rejected at ingest: the message names the column and fix."""


def mapping_columns(entity: str) -> list[str]:
    return [c.name for c in ENTITIES[entity].columns]


def check_mapping_row(entity: str, values: dict[str, str | None]) -> dict[str, str]:
    """The row, trimmed, or MappingRefused naming the column, the value and the fix."""
    if entity not in MAPPING_KEYS:
        raise MappingRefused(f"{entity!r} is not a mapping table; use one of {list(MAPPING_KEYS)}")
    row: dict[str, str] = {}
    for column in ENTITIES[entity].columns:
        value = (values.get(column.name) or "").strip()
        if column.required and not value:
            raise MappingRefused(f"{entity}: {column.name} is required; fill it in")
        if len(value) > MAX_VALUE_CHARS or any(unicodedata.category(ch) == "Cc" for ch in value):
            raise MappingRefused(
                f"{entity}: {column.name} {value[:40]!r} is longer than {MAX_VALUE_CHARS}"
                " characters or holds a control character; shorten it"
            )
        row[column.name] = value
    if row["source"].lower() not in FAMILIES:
        raise MappingRefused(
            f"{entity}: source {row['source']!r} is not a profile family; use one of"
            f" {', '.join(FAMILIES)}"
        )
    row["source"] = row["source"].lower()
    if entity == "account_map" and row["category"] not in INVOICE_CATEGORIES:
        raise MappingRefused(
            f"account_map: category {row['category']!r} is not an invoice category; use one of"
            f" {', '.join(INVOICE_CATEGORIES)}"
        )
    return row


def mapping_file(entity: str, row: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = mapping_columns(entity)
    writer.writerow(columns)
    writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue().encode("utf-8")


def land_mapping_row(
    settings: Settings, actor: Actor, entity: str, values: dict[str, str | None], file_name: str
) -> Taken:
    """Check the row, then land it as a one-row upload of `entity` (refusals: MappingRefused
    or the intake's ProblemError)."""
    row = check_mapping_row(entity, values)
    return take_upload(settings, actor, io.BytesIO(mapping_file(entity, row)), file_name, entity)
