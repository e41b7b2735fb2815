"""Refuse XLSX files that would expand into far more data than they hold (zip bombs).

An .xlsx is a zip archive; a crafted one can inflate to gigabytes. We check the archive's
directory (declared sizes and compression ratios) before any XML is parsed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from moatmetrics.ingest.errors import StructuralError

MAX_UNCOMPRESSED_BYTES = 1024 * 2**20
MAX_RATIO = 200


def check_xlsx_archive(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise StructuralError(
            "the file is not a valid .xlsx workbook: save it again from Excel as .xlsx"
        ) from exc
    total = sum(info.file_size for info in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise StructuralError(
            f"the workbook expands to {total // 2**20} MiB (limit"
            f" {MAX_UNCOMPRESSED_BYTES // 2**20} MiB): export it as CSV instead"
        )
    for info in infos:
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise StructuralError(
                f"the workbook part '{info.filename}' is compressed {MAX_RATIO}x beyond what"
                " real spreadsheets are; refused as a possible zip bomb: export it as CSV"
            )
