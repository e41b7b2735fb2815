"""Large or crafted bad files, generated at run time (never committed): shared by the tests.

Each writes one file that used to raise out of the ingest or lose a row before issue 20.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import openpyxl

EXPENSES_HEADER = "expense_id,client_id,expense_date,amount,category"


def workbook(rows: list[list[str]], title: str = "clients") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def edit_sheets(data: bytes, change) -> bytes:
    """The workbook with every worksheet's XML passed through `change` (bytes -> bytes)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                content = change(content)
            archive.writestr(info.filename, content)
    return buffer.getvalue()


def bare_ampersand_workbook() -> bytes:
    """A clients sheet whose XML holds an unescaped `&` (a hand-edited or broken export)."""
    data = workbook([["client_id", "client_name"], ["C900", "Smith and Sons"]])
    return edit_sheets(data, lambda xml: xml.replace(b"Smith and Sons", b"Smith & Sons"))


def understated_workbook(path: Path) -> None:
    """A workbook whose sheet inflates to 64 MB while its zip headers claim 2,000 bytes."""
    padding = b"<!--" + b"A" * (64 * 2**20) + b"-->"
    data = edit_sheets(
        workbook([["client_id", "client_name"], ["C1", "Acme"]]),
        lambda xml: xml.replace(b"</worksheet>", padding + b"</worksheet>"),
    )
    patched = bytearray(data)
    sheet = b"xl/worksheets/sheet1.xml"
    at = 0
    while (at := patched.find(b"PK\x01\x02", at)) != -1:  # central directory entries
        name_length = struct.unpack_from("<H", patched, at + 28)[0]
        if patched[at + 46 : at + 46 + name_length] == sheet:
            struct.pack_into("<I", patched, at + 24, 2000)  # uncompressed size
            local = struct.unpack_from("<I", patched, at + 42)[0]
            struct.pack_into("<I", patched, local + 22, 2000)  # the local header says so too
        at += 4
    path.write_bytes(bytes(patched))


def million_keys(path: Path) -> None:
    """A JSON array whose one object has 10^6 + 2 keys (it took 8.4 GB to read)."""
    keys = ", ".join(f'"k{i}": 1' for i in range(10**6))
    path.write_text(f'[{{"expense_id": "X1", "expense_date": "2025-01-10", {keys}}}]')


def one_huge_row(path: Path) -> None:
    """A header and one row of 33 MB (past DuckDB's 32 MB buffer: it used to vanish)."""
    path.write_text(EXPENSES_HEADER + "\nX1,C1,2025-01-10,50.00," + "y" * (33 * 2**20) + "\n")


def huge_row_among_good_ones(path: Path) -> None:
    """Twenty good rows, then one of 9 MB (row 22)."""
    good = "".join(f"X{i},C1,2025-01-10,50.00,travel\n" for i in range(1, 21))
    path.write_text(
        EXPENSES_HEADER + "\n" + good + "X99,C1,2025-01-10,50.00," + "y" * (9 * 2**20) + "\n"
    )
