"""Read an export file into a DuckDB table of text columns, one row per data row.

Every reader produces the same shape: a temporary table ``<name>`` with a column
``_row_number`` (the row as the user sees it: header = row 1 for CSV and XLSX, the object's
position for JSON, the line for JSON Lines) and one VARCHAR column per header, named by the
normalised header. Typing and validation happen afterwards, in SQL, for every format alike.

CSV and JSON go through DuckDB's vectorised readers; nothing loops over rows in Python.

Every reader is bounded before it builds anything wide or long: at most ``MAX_COLUMNS`` columns
with names of at most ``MAX_HEADER_CHARS`` characters, CSV rows of at most ``MAX_ROW_BYTES``.
A file past a bound, or one a parser cannot read (whatever the parser raises), is a
`StructuralError` naming the problem, never an exception that escapes the ingest.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from moatmetrics.contract.entities import normalize_header
from moatmetrics.contract.errors import StructuralError

FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".json": "json", ".jsonl": "jsonl"}
_CHUNK = 16 * 2**20
# A contract entity has at most a dozen columns and vendor exports a few hundred; past these
# bounds a file is not an export, and building a table that wide would exhaust memory (a JSON
# object with a million keys took 8 GB).
MAX_COLUMNS = 1_000
MAX_HEADER_CHARS = 256
# DuckDB's CSV reader drops a final row longer than its 32 MB buffer when no max_line_size is
# given; with an explicit bound it reports the row instead.
MAX_ROW_BYTES = 8 * 2**20
_MAX_HEADER_LINE = MAX_COLUMNS * (MAX_HEADER_CHARS + 3)


def file_order(table: str, first: int) -> str:
    """SQL numbering a freshly created table's rows in file order, `first` for its first row.

    A new table's rowids are appended in order but start at a transaction-local offset, so
    the row's place is its rowid less the smallest one. `row_number() OVER (ORDER BY rowid)`
    sorted the whole upload instead: 12.1 s of ingesting ten million time entries, now 1.5 s.
    """
    return f"CAST(rowid - (SELECT min(rowid) FROM {table}) + {first} AS BIGINT)"


@dataclass
class SourceTable:
    """What a reader loaded: the header map and anything the user should hear about."""

    table: str
    columns: dict[str, str]  # normalised header -> column name in the table
    original_headers: dict[str, str]  # normalised header -> header as written
    row_count: int
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise StructuralError(
            f"unsupported file type '{path.suffix}': export as .csv, .xlsx, .json or .jsonl"
        )
    return fmt


def read_source(con: duckdb.DuckDBPyConnection, path: Path, entity: str, table: str) -> SourceTable:
    """Load ``path`` into the temporary text table ``table``."""
    fmt = file_format(path)
    if path.stat().st_size == 0:
        raise StructuralError("the file is empty: export it again with a header row and data")
    try:
        if fmt == "csv":
            return _read_csv(con, path, table)
        if fmt == "xlsx":
            return _read_xlsx(con, path, entity, table)
        return _read_json(con, path, table, fmt)
    except StructuralError:
        raise
    except Exception as exc:  # any parser's own error: the file is unreadable, say why
        first = (str(exc).splitlines() or [""])[0][:300]
        raise StructuralError(
            f"the file could not be read ({type(exc).__name__}: {first}): export it again"
            " from the source system"
        ) from exc


def _check_headers(headers: list[str]) -> dict[str, str]:
    if len(headers) > MAX_COLUMNS:
        raise StructuralError(
            f"the file has {len(headers):,} columns (limit {MAX_COLUMNS:,}): export only the"
            " columns of the data contract"
        )
    normalised: dict[str, str] = {}
    for position, header in enumerate(headers, start=1):
        if len(header) > MAX_HEADER_CHARS:
            raise StructuralError(
                f"column {position} of the header is {len(header):,} characters long (limit"
                f" {MAX_HEADER_CHARS}): the first row must name the columns"
            )
        key = normalize_header(header)
        if not key:
            continue
        if key in normalised:
            raise StructuralError(
                f"column '{header}' appears twice in the header (as '{normalised[key]}' and"
                f" '{header}'): remove or rename one of them"
            )
        normalised[key] = header
    if not normalised:
        raise StructuralError("the header row is empty: the first row must name the columns")
    return normalised


def _detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the bytes decode as UTF-8, else Windows-1252.

    Text exports never contain NUL bytes; UTF-16 files (Excel's "Unicode text") and binary
    files do, and are refused rather than decoded into garbage.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            if b"\x00" in chunk:
                kind = "UTF-16 text" if chunk[:2] in (b"\xff\xfe", b"\xfe\xff") else "binary"
                raise StructuralError(
                    f"the file is {kind}, not a CSV export: save it as 'CSV UTF-8'"
                    " (comma delimited)"
                )
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "cp1252"
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def _transcode_to_utf8(path: Path, target: Path) -> None:
    with open(path, "rb") as src, open(target, "wb") as dst:
        decoder = codecs.getincrementaldecoder("cp1252")(errors="strict")
        while chunk := src.read(_CHUNK):
            dst.write(decoder.decode(chunk).encode("utf-8"))
        dst.write(decoder.decode(b"", final=True).encode("utf-8"))


def _header_line(path: Path) -> str:
    """The first line, read no further than a real header row can reach."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        line = handle.readline(_MAX_HEADER_LINE + 1)
    if len(line) > _MAX_HEADER_LINE:
        raise StructuralError(
            f"the header row is longer than {_MAX_HEADER_LINE:,} characters ({MAX_COLUMNS:,}"
            f" columns of at most {MAX_HEADER_CHARS} characters): the first row must name the"
            " columns"
        )
    return line


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CSV_LINE_SIZE = re.compile(r"Maximum line size of \d+ bytes exceeded\. Actual Size:\s*(\d+)")


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> SourceTable:
    notes: list[str] = []
    source = path
    if _detect_encoding(path) == "cp1252":
        try:
            source = path.with_name(f".{path.name}.utf8")
            _transcode_to_utf8(path, source)
        except UnicodeDecodeError as exc:
            raise StructuralError(
                "the file is neither UTF-8 nor Windows-1252 text: save it as CSV UTF-8"
            ) from exc
        notes.append(
            "decoded as Windows-1252 (the file is not UTF-8); save as CSV UTF-8 to be sure"
        )
    try:
        line = _header_line(source)
        counts = Counter({d: line.count(d) for d in (",", ";", "\t", "|")})
        delimiter, hits = counts.most_common(1)[0]
        if hits == 0:
            delimiter = ","
        if delimiter != ",":
            shown = {"\t": "tab"}.get(delimiter, delimiter)
            notes.append(f"columns are separated by '{shown}' instead of ','; read as such")
        try:
            headers = next(csv.reader(io.StringIO(line), delimiter=delimiter))
        except csv.Error as exc:
            raise StructuralError(
                f"the header row could not be read ({exc}): the first row must name the"
                f" columns, each name at most {MAX_HEADER_CHARS} characters"
            ) from exc
        header_map = _check_headers(headers)
        positions = {normalize_header(h): i for i, h in enumerate(headers)}
        types = {f"c{i}": "VARCHAR" for i in range(len(headers))}
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table}_read AS SELECT * FROM read_csv(?,"
                " header = true, auto_detect = false, columns = ?, delim = ?, quote = '\"',"
                " escape = '\"', strict_mode = true, null_padding = false, encoding = 'utf-8',"
                f" max_line_size = {MAX_ROW_BYTES})",
                [str(source), types, delimiter],
            )
        except duckdb.Error as exc:
            message = str(exc)
            match = _CSV_LINE.search(message)
            where = f"row {match.group(1)}" if match else "a row"
            first = message.splitlines()[0]
            if too_long := _CSV_LINE_SIZE.search(message):
                raise StructuralError(
                    f"{where} is {int(too_long.group(1)):,} bytes long (limit"
                    f" {MAX_ROW_BYTES // 2**20} MiB): one row is one record; look for a quote"
                    " that is never closed, which joins the rest of the file into one row"
                ) from exc
            if "Expected Number of Columns" in message:
                raise StructuralError(
                    f"{where} has a different number of columns than the header"
                    f" ({len(headers)}): fix the row or quote values that contain"
                    f" '{delimiter}'"
                ) from exc
            raise StructuralError(f"the CSV could not be read at {where}: {first}") from exc
    finally:
        if source != path:
            source.unlink(missing_ok=True)
    selects = ", ".join(f'c{positions[key]} AS "{key}"' for key in header_map)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS"
        f" SELECT {file_order(f'{table}_read', 2)} AS _row_number, {selects} FROM {table}_read"
    )
    con.execute(f"DROP TABLE {table}_read")
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return SourceTable(table, {k: k for k in header_map}, header_map, rows, notes=notes)


def _read_json(con: duckdb.DuckDBPyConnection, path: Path, table: str, fmt: str) -> SourceTable:
    json_format = "array" if fmt == "json" else "newline_delimited"
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if fmt == "json" and not head.startswith(b"["):
        raise StructuralError(
            "a .json file must hold an array of objects ([{...}, {...}]); for one object per"
            " line use the .jsonl extension"
        )
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table}_read AS SELECT json"
            f" FROM read_json_objects(?, format = '{json_format}')",
            [str(path)],
        )
        not_objects = con.execute(
            f"SELECT min({file_order(f'{table}_read', 1)}) FROM {table}_read"
            " WHERE json_type(json) <> 'OBJECT'"
        ).fetchone()[0]
    except duckdb.Error as exc:
        raise StructuralError(
            f"the JSON could not be read: {str(exc).splitlines()[0]}; check that it is valid"
        ) from exc
    if not_objects is not None:
        raise StructuralError(
            f'record {not_objects} is not an object: each record must be {{"column": value}}'
        )
    # Counted in DuckDB before any key reaches Python or becomes a column: the wide table is
    # what exhausted memory (10^6 keys: 8 GB), the count of distinct keys is one aggregate.
    key_count = con.execute(
        f"SELECT count(DISTINCT k) FROM (SELECT unnest(json_keys(json)) AS k FROM {table}_read)"
    ).fetchone()[0]
    if key_count > MAX_COLUMNS:
        raise StructuralError(
            f"the records have {key_count:,} different keys (limit {MAX_COLUMNS:,}): export"
            " only the columns of the data contract, one key per column"
        )
    keys = [
        r[0]
        for r in con.execute(
            f"SELECT k FROM (SELECT unnest(json_keys(json)) AS k, rowid AS r FROM {table}_read)"
            " GROUP BY k ORDER BY min(r), k"
        ).fetchall()
    ]
    header_map = _check_headers(keys)
    selects = ", ".join(
        f'json ->> {_sql_string("$." + _json_path_key(original))} AS "{key}"'
        for key, original in header_map.items()
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS"
        f" SELECT {file_order(f'{table}_read', 1)} AS _row_number, {selects} FROM {table}_read"
    )
    con.execute(f"DROP TABLE {table}_read")
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return SourceTable(table, {k: k for k in header_map}, header_map, rows)


def _json_path_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _xlsx_cell_text(value: object) -> str | None:
    """Excel cells arrive typed; turn them into the text a CSV export would hold."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    return str(value)


def _read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, entity: str, table: str) -> SourceTable:
    import pyarrow as pa
    from python_calamine import CalamineError, CalamineWorkbook

    from moatmetrics.contract.xlsx_guard import check_xlsx_archive

    check_xlsx_archive(path)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except CalamineError as exc:
        raise StructuralError(f"the workbook could not be opened: {exc}") from exc
    sheets = list(workbook.sheet_names)
    chosen = next((s for s in sheets if normalize_header(s) == entity), None)
    notes: list[str] = []
    if chosen is None:
        chosen = sheets[0]
        if len(sheets) > 1:
            notes.append(
                f"the workbook has {len(sheets)} sheets and none is named '{entity}';"
                f" read the first sheet '{chosen}'"
            )
    try:
        rows = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    except CalamineError as exc:  # malformed sheet XML: an unescaped '&', an unknown entity
        raise StructuralError(
            f"sheet '{chosen}' could not be read ({exc}): open the file in Excel and save it"
            " again as .xlsx"
        ) from exc
    if not rows:
        raise StructuralError(f"sheet '{chosen}' is empty: put the header in row 1")
    headers = ["" if h is None else str(h) for h in rows[0]]
    header_map = _check_headers(headers)
    positions = {normalize_header(h): i for i, h in enumerate(headers)}
    body = rows[1:]
    columns = {"_row_number": pa.array(range(2, len(body) + 2), type=pa.int64())}
    for key in header_map:
        index = positions[key]
        columns[key] = pa.array(
            [_xlsx_cell_text(r[index]) if index < len(r) else None for r in body],
            type=pa.string(),
        )
    arrow_table = pa.table(columns)  # noqa: F841  (read by DuckDB's replacement scan)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM arrow_table")
    return SourceTable(table, {k: k for k in header_map}, header_map, len(body), chosen, notes)
