"""Refuse XLSX files that would expand into far more data than they hold, or that carry a DTD.

An .xlsx is a zip archive; a crafted one can inflate to gigabytes. We check the archive's
directory (declared sizes and compression ratios), then inflate every part once, in bounded
chunks, to prove the declarations true: a zip header can understate a part's size, and the
workbook reader trusts it. XML parts may not hold a document type declaration (`<!DOCTYPE`):
Excel never writes one, and entity definitions are how XML expands (billion laughs) or reaches
outside the file. All of this runs before any XML is parsed.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

from moatmetrics.contract.errors import StructuralError

MAX_UNCOMPRESSED_BYTES = 1024 * 2**20
MAX_RATIO = 200
_CHUNK = 2**20
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra length
_DOCTYPE = b"<!DOCTYPE"


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
    with open(path, "rb") as handle:
        for info in infos:
            _check_part(handle, info)


def _check_part(handle, info: zipfile.ZipInfo) -> None:
    """Inflate one part chunk by chunk: its size must be what the directory says."""
    handle.seek(info.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(30))
    if signature != b"PK\x03\x04":
        raise StructuralError(_refused(info, "has no valid zip entry"))
    handle.seek(info.header_offset + 30 + name_length + extra_length)
    if info.compress_type == zipfile.ZIP_STORED:
        inflater = None
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-15)
    else:
        raise StructuralError(_refused(info, f"uses zip compression method {info.compress_type}"))
    scan_xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
    left, size, crc, tail = info.compress_size, 0, 0, b""
    while left > 0:
        chunk = handle.read(min(_CHUNK, left))
        if not chunk:
            raise StructuralError(_refused(info, "is cut short"))
        left -= len(chunk)
        pending = chunk
        while pending:
            if inflater is None:
                data, pending = pending, b""
            else:
                try:
                    data = inflater.decompress(pending, _CHUNK)
                except zlib.error as exc:
                    raise StructuralError(_refused(info, f"is corrupt ({exc})")) from exc
                pending = inflater.unconsumed_tail
            size += len(data)
            if size > info.file_size:
                raise StructuralError(_refused(info, "is larger than its zip header says"))
            crc = zlib.crc32(data, crc)
            if scan_xml:
                window = tail + data
                if _DOCTYPE in window:
                    raise StructuralError(
                        f"the workbook part '{info.filename}' declares a document type"
                        " (<!DOCTYPE>), which Excel never writes and which can make XML"
                        " expand or reach outside the file: save the workbook again from Excel"
                    )
                tail = window[-(len(_DOCTYPE) - 1) :]
    if inflater is not None and not inflater.eof:
        raise StructuralError(_refused(info, "is cut short"))
    if size != info.file_size or crc != info.CRC:
        raise StructuralError(_refused(info, "does not match its zip header (size or checksum)"))


def _refused(info: zipfile.ZipInfo, problem: str) -> str:
    return (
        f"the workbook part '{info.filename}' {problem}: the file is damaged or crafted; save"
        " it again from Excel as .xlsx"
    )
