"""The one engine: a vendor file in, the canonical text table ``src`` out, all in SQL.

The loader calls :func:`detect_vendor_file` once per upload; when a profile matches, the
returned :class:`VendorFile` reads the file with DuckDB's readers and builds ``src`` (one
VARCHAR column per contract column, named as in the contract) with one generated statement:
group rows filled down, lists exploded, subtotal/group/overpayment rows flagged as skipped,
value maps, layouts of dates and money, UTC timestamps turned into local work dates, user
principal names replaced by salted hashes. From there ingest is the same as for canonical
files: typing, the row-level report, the suites, loading. A value that breaks the profile's
layout stays as it was written, so the canonical validation reports it on its row.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from moatmetrics.at_rest.encryption import archive_file
from moatmetrics.contract.entities import ENTITIES, SQL_TYPES, entity_for_file_stem
from moatmetrics.contract.readers import (
    SourceTable,
    StructuralError,
    _detect_encoding,
    _transcode_to_utf8,
    file_order,
)
from moatmetrics.contract.validation import sql_literal
from moatmetrics.settings import Settings
from moatmetrics.sources.detect import (
    DATE_IN_NAME,
    Candidate,
    FileHead,
    choose,
    closest_profiles,
    evaluate,
    read_head,
    vendor_header,
)
from moatmetrics.sources.expressions import placeholders, render
from moatmetrics.sources.profiles import Mapping, Profile, ProfileError, load_profiles
from moatmetrics.sources.pseudonym import pseudonym_salt

VENDOR_FORMATS = {".csv": "csv", ".txt": "csv", ".json": "json"}
ISO_PREFIX = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
_MONEY = r"^\(?[-+]?\$?[-+]?[0-9][0-9,]*(\.[0-9]+)?\)?$"


def timezone_name() -> str:
    """The MSP's time zone for work dates (``MOATMETRICS_TIMEZONE``, default UTC)."""
    name = os.environ.get("MOATMETRICS_TIMEZONE") or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise StructuralError(
            f"MOATMETRICS_TIMEZONE '{name}' is not a time zone: use an IANA name such as"
            " America/New_York or Europe/London"
        ) from exc
    return name


@dataclass(frozen=True)
class SourceOptions:
    """What the user said on ingest: ``--source``, ``--as-of``, ``--client``, ``--date-format``."""

    source: str | None = None
    as_of: date | None = None
    client: str | None = None
    date_format: str | None = None


@dataclass
class VendorFile:
    """A file recognised as following ``profile``; reads it and reports what it skipped."""

    profile: Profile
    path: Path
    head: FileHead
    header_index: int
    options: SourceOptions
    settings: Settings
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    rows_read: int = 0
    _columns: dict[str, str] = field(default_factory=dict)  # vendor header -> table column
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (rule, fix), file-level

    # -- archive -----------------------------------------------------------------------
    def archive_target(self, sha: str) -> Path:
        """Files with personal data are archived in their pseudonymised form only."""
        return self.settings.uploads_dir / f"{sha}.pseudonymised.csv"

    # -- reading -----------------------------------------------------------------------
    def read(self, con: duckdb.DuckDBPyConnection, table: str, upload_date: date) -> SourceTable:
        try:
            if "json" in self.head.format:
                self._read_json(con)
            else:
                self._read_csv(con)
            counted = con.execute(
                "SELECT count(*), coalesce(max(_row_number) - min(_row_number) + 1, 0) FROM vsrc"
            ).fetchone()
            assert counted is not None  # an aggregate always returns one row
            self.rows_read, span = counted
            if span != self.rows_read:  # rowids not dense: number the rows by sorting them
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE vsrc AS SELECT * REPLACE (CAST(min(_row_number)"
                    " OVER () + row_number() OVER (ORDER BY _row_number) - 1 AS BIGINT)"
                    " AS _row_number) FROM vsrc"
                )
            self._truncation_warning()
            stage, kept = "vsrc", ""
            if self._needs_stage():  # group rows, lists or skip rules: one more pass
                stage, kept = "vstage", " WHERE _skip IS NULL"
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE vstage AS {self._stage_sql(upload_date)}"
                )
                self.skipped = dict(
                    con.execute(
                        "SELECT _skip, count(*) FROM vstage WHERE _skip IS NOT NULL"
                        " GROUP BY _skip ORDER BY _skip"
                    ).fetchall()
                )
            selects, originals = self._mapping_sql(upload_date)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT _row_number, {selects}"
                f" FROM {stage}{kept}"
            )
            # The text tables hold the file as written (names, addresses): gone now. On an
            # error the loader rolls the upload's transaction back, and them with it.
            for name in ("vsrc_read", "vsrc", "vstage"):
                con.execute(f"DROP TABLE IF EXISTS {name}")
        except duckdb.Error as exc:
            # A database message may quote a value; from a file with personal data it is
            # not repeated into the upload report.
            detail = (
                "details withheld, the file holds personal data: check it is an unchanged export"
                if self.profile.private
                else str(exc).splitlines()[0]
            )
            raise StructuralError(
                f"the {self.profile.name} profile could not read the file: {detail}"
            ) from exc
        counted = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert counted is not None  # an aggregate always returns one row
        rows = counted[0]
        if self.profile.private:
            self._archive_pseudonymised(con, table)
        columns = {name: name for name in originals}
        return SourceTable(table, columns, originals, rows, notes=list(self.notes))

    def _read_csv(self, con: duckdb.DuckDBPyConnection) -> None:
        headers = self.head.headers_at(self.header_index)
        for position, header in enumerate(headers):
            key = vendor_header(header)
            self._columns.setdefault(f"#{position + 1}", f"c{position}")
            if key:
                self._columns.setdefault(key, f"c{position}")
        types = {f"c{i}": "VARCHAR" for i in range(len(headers))}
        source = self.path
        if _detect_encoding(self.path) == "cp1252":
            source = self.path.with_name(f".{self.path.name}.utf8")
            _transcode_to_utf8(self.path, source)
            self.notes.append("decoded as Windows-1252 (the file is not UTF-8)")
        try:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE vsrc_read AS SELECT * FROM read_csv(?,"
                " skip = ?, header = true, auto_detect = false, columns = ?, delim = ',',"
                " quote = '\"', escape = '\"', null_padding = true, strict_mode = true,"
                " encoding = 'utf-8')",
                [str(source), self.header_index, types],
            )
        finally:
            if source != self.path:
                source.unlink(missing_ok=True)
        first_line = self.header_index + 2
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE vsrc AS SELECT {file_order('vsrc_read', first_line)}"
            " AS _row_number, * FROM vsrc_read"
        )
        con.execute("DROP TABLE vsrc_read")

    def _read_json(self, con: duckdb.DuckDBPyConnection) -> None:
        """Only the referenced fields, parsed once by DuckDB's JSON reader into typed columns.

        Nested objects (``company.identifier``) are read as structs of text fields; numbers
        and booleans arrive as their JSON text, like a CSV cell.
        """
        actual = {vendor_header(k): k for k in self.head.rows[0]}
        needed: dict[str, None] = {}
        for header in self._referenced_headers():
            for alternative in header.split("|"):
                needed.setdefault(vendor_header(alternative), None)
        tree: dict[str, dict[str, str]] = {}  # top-level key -> {field: table column}
        leaves: dict[str, str] = {}  # top-level key -> table column
        for index, key in enumerate(needed):
            top, _, sub = actual.get(key, key).partition(".")
            self._columns[key] = f"c{index}"
            if sub:
                tree.setdefault(top, {})[sub] = f"c{index}"
            else:
                leaves[top] = f"c{index}"
        types: dict[str, str] = {}
        selects: list[str] = []
        for top, fields in tree.items():
            inner = ", ".join(f"{_ident(f)} VARCHAR" for f in fields)
            types[top] = f"STRUCT({inner})"
            selects += [
                f"struct_extract({_ident(top)}, {sql_literal(f)}) AS {column}"
                for f, column in fields.items()
            ]
        for top, column in leaves.items():
            if top in tree:  # the object itself as well as its fields: its JSON text
                selects.append(f"CAST(to_json({_ident(top)}) AS VARCHAR) AS {column}")
            else:
                types[top] = "VARCHAR"
                selects.append(f"{_ident(top)} AS {column}")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE vsrc_read AS SELECT * FROM read_json(?,"
            " format = 'array', columns = ?)",
            [str(self.path), types or {"_": "VARCHAR"}],
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE vsrc AS SELECT"
            f" {file_order('vsrc_read', 1)} AS _row_number"
            f"{''.join(', ' + s for s in selects)} FROM vsrc_read"
        )
        con.execute("DROP TABLE vsrc_read")

    def _referenced_headers(self) -> list[str]:
        p = self.profile
        exprs = [m.expr for m in p.mappings if m.expr] + [m.negate_when for m in p.mappings]
        exprs += [s.when for s in p.skips] + [p.group_when, p.group_value]
        exprs += [p.explode[0] if p.explode else None]
        headers = [m.source for m in p.mappings if m.source]
        for expr in exprs:
            for name in placeholders(expr or ""):
                headers.append(name.partition(":")[2] or name)
        if p.discriminator:
            headers.append(p.discriminator[0])
        return [h for h in headers if not h.startswith("_") and not h.startswith("#")]

    def _truncation_warning(self) -> None:
        cap = self.profile.truncation_rows
        if cap and self.rows_read == cap:
            self._warn(
                f"the file has exactly {cap:,} rows, the most an {self.profile.family} grid"
                " export writes: it looks truncated",
                "export in smaller date ranges or through the API, and upload every part",
            )

    def _warn(self, rule: str, fix: str) -> None:
        """A file-level warning: a note now, a warning row of the upload report after load."""
        self.warnings.append((rule, fix))
        self.notes.append(f"warning: {rule}: {fix}")

    # -- SQL generation ----------------------------------------------------------------
    def _date_format(self, mapping: Mapping | None = None) -> str | None:
        return (
            self.options.date_format
            or (mapping and mapping.date_format)
            or (self.profile.date_format)
        )

    def _column(self, header: str) -> str | None:
        """The table column of a header; ``A|B`` names alternatives (two vocabularies)."""
        for alternative in header.split("|"):
            key = alternative if alternative.startswith("#") else vendor_header(alternative)
            if key in self._columns:
                return self._columns[key]
        return None

    def _text(self, header: str) -> str:
        column = self._column(header)
        return "CAST(NULL AS VARCHAR)" if column is None else f"nullif(trim({column}), '')"

    def _money_text(self, text: str) -> str:
        if self.profile.money != "formatted":
            return text
        negative = f"(starts_with({text}, '(') OR starts_with({text}, '-'))"
        digits = f"regexp_replace({text}, '[$,()+-]', '', 'g')"
        return (
            f"CASE WHEN regexp_full_match({text}, '{_MONEY[1:-1]}')"
            f" THEN CASE WHEN {negative} THEN '-' ELSE '' END || {digits} ELSE {text} END"
        )

    def _parsed_date(self, text: str, fmt: str | None) -> str:
        if not fmt or fmt == "iso":
            return (
                f"CASE WHEN regexp_matches({text}, '{ISO_PREFIX}')"
                f" THEN try_cast(left({text}, 10) AS DATE) END"
            )
        formats = fmt.split("|")  # several layouts: the first that parses
        layouts = "[" + ", ".join(sql_literal(f) for f in formats) + "]"
        return f"CAST(try_strptime({text}, {layouts}) AS DATE)"

    def _resolver(self, upload_date: date):
        as_of = self._as_of(upload_date)

        def resolve(name: str) -> str:
            if name == "_group":
                return "_group"
            if name == "_item":
                return "nullif(trim(_item), '')"
            if name == "_as_of":
                return sql_literal(as_of.isoformat())
            if name == "_client":
                return sql_literal(self.options.client)
            if name == "_upload_date":
                return sql_literal(upload_date)
            if name == "_timezone":
                return sql_literal(timezone_name())
            if name == "_client_tracking":
                return sql_literal(os.environ.get("MOATMETRICS_XERO_CLIENT_TRACKING") or "Client")
            kind, _, header = name.partition(":")
            if kind == "date" and header:
                return self._parsed_date(self._text(header), self._date_format())
            if kind == "num" and header:
                money = self._money_text(self._text(header))
                return f"try_cast({money} AS {SQL_TYPES['decimal']})"
            return self._text(name)

        return resolve

    def _as_of(self, upload_date: date) -> date:
        if self.options.as_of:
            return self.options.as_of
        match = DATE_IN_NAME.search(self.path.name)
        if match:
            try:
                return date.fromisoformat(match.group(1))
            except ValueError:
                pass
        if self.profile.as_of == "file" and not any("--as-of" in f for _, f in self.warnings):
            self._warn(
                "the file has no date of its own and none in its name; dated"
                f" {upload_date.isoformat()} (the upload date)",
                "pass --as-of DATE, or put the date (YYYY-MM-DD) in the file name",
            )
        return upload_date

    def _needs_stage(self) -> bool:
        p = self.profile
        return bool(p.skips or p.explode or (p.group_when and p.group_value))

    def _stage_sql(self, upload_date: date) -> str:
        p = self.profile
        resolve = self._resolver(upload_date)
        sql = "SELECT * FROM vsrc"
        group_flag = "FALSE"
        if p.group_when and p.group_value:
            group_flag = render(p.group_when, resolve)
            value = render(p.group_value, resolve)
            sql = (
                f"SELECT *, last_value(CASE WHEN {group_flag} THEN {value} END IGNORE NULLS)"
                " OVER (ORDER BY _row_number ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
                f" AS _group FROM ({sql})"
            )
        if p.explode:
            items = render(p.explode[0], resolve)
            sep = sql_literal(p.explode[1])
            sql = (
                f"SELECT *, unnest(string_split(coalesce({items}, ''), {sep})) AS _item"
                f" FROM ({sql})"
            )
        cases = [f"WHEN {render(s.when, resolve)} THEN {sql_literal(s.reason)}" for s in p.skips]
        if group_flag != "FALSE":
            cases.append(f"WHEN {group_flag} THEN 'group rows'")
        skip = f"CASE {' '.join(cases)} END" if cases else "CAST(NULL AS VARCHAR)"
        return f"SELECT *, {skip} AS _skip FROM ({sql})"

    def _mapping_sql(self, upload_date: date) -> tuple[str, dict[str, str]]:
        resolve = self._resolver(upload_date)
        selects: list[str] = []
        originals: dict[str, str] = {}
        salt = None
        for m in self.profile.mappings:
            if m.source is not None:
                text = self._text(m.source)
                if self._column(m.source) is None:
                    self.notes.append(
                        f"header '{m.source}' is not in the file: {m.column} left empty"
                    )
                originals[m.column] = m.source
            elif m.expr is not None:
                text = f"CAST({render(m.expr, resolve)} AS VARCHAR)"
                originals[m.column] = m.header or m.column
            else:
                text = sql_literal(m.value)
                originals[m.column] = m.column
            if m.value_map:
                whens = " ".join(
                    f"WHEN {sql_literal(k)} THEN {sql_literal(v)}" for k, v in m.value_map.items()
                )
                text = f"CASE lower({text}) {whens} ELSE {text} END"
            if m.negate_when:
                cond = render(m.negate_when, resolve)
                text = (
                    f"CASE WHEN coalesce({cond}, FALSE) THEN CASE WHEN starts_with({text}, '-')"
                    f" THEN substr({text}, 2) ELSE '-' || {text} END ELSE {text} END"
                )
            if m.transform == "money":
                text = self._money_text(text)
            elif m.transform == "date":
                fmt = self._date_format(m)
                text = f"coalesce(strftime({self._parsed_date(text, fmt)}, '%Y-%m-%d'), {text})"
            elif m.transform == "local_date":
                tz = sql_literal(timezone_name())
                text = (
                    f"coalesce(strftime(timezone({tz}, try_cast({text} AS TIMESTAMPTZ)),"
                    f" '%Y-%m-%d'), {text})"
                )
            elif m.transform == "pseudonym":
                salt = salt or pseudonym_salt(self.settings.home)
                text = f"sha256({sql_literal(salt)} || lower({text}))"
            selects.append(f"{text} AS {m.column}")
        entity = ENTITIES[self.profile.entity]
        mapped = {m.column for m in self.profile.mappings}
        if "client_id" in entity.column_names and "client_id" not in mapped:
            selects.append("CAST(NULL AS VARCHAR) AS client_id")
            originals["client_id"] = "client_id"
        return ", ".join(selects), originals

    def _archive_pseudonymised(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        from moatmetrics.contract.landing import sha256_of

        target = self.archive_target(sha256_of(self.path))
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            return
        plain = target.with_name(target.name + ".written")
        try:
            con.execute(
                f"COPY (SELECT * FROM {table} ORDER BY _row_number) TO ? (HEADER)", [str(plain)]
            )
            archive_file(plain, target, self.settings)  # encrypted when the home is
        finally:
            plain.unlink(missing_ok=True)

    # -- after the load ----------------------------------------------------------------
    def after_load(self, con: duckdb.DuckDBPyConnection, upload_id: str, result) -> None:
        """Record the profile and skipped rows; name vendor headers in the row report."""
        con.execute(
            """CREATE TABLE IF NOT EXISTS ingest.upload_sources (
                upload_id VARCHAR PRIMARY KEY, profile VARCHAR NOT NULL,
                profile_version INTEGER NOT NULL, rows_read BIGINT, rows_skipped BIGINT,
                skipped_detail VARCHAR)"""
        )
        con.execute("DELETE FROM ingest.upload_sources WHERE upload_id = ?", [upload_id])
        skipped = sum(self.skipped.values())
        con.execute(
            "INSERT INTO ingest.upload_sources VALUES (?, ?, ?, ?, ?, ?)",
            [
                upload_id,
                self.profile.name,
                self.profile.version,
                self.rows_read,
                skipped,
                json.dumps(self.skipped),
            ],
        )
        for m in self.profile.mappings:
            if m.reported_as is None:
                continue
            fix = None
            if m.transform == "date":
                layout = self._date_format(m) or "YYYY-MM-DD"
                fix = (
                    f"write the date as {layout} (the {self.profile.name} profile's layout), or"
                    " pass --date-format when your organisation writes dates another way"
                )
            con.execute(
                "UPDATE ingest.rejected_rows SET column_name = ?, fix = coalesce(CASE WHEN"
                " rule LIKE 'not %date%' THEN ? END, fix) WHERE upload_id = ? AND column_name = ?",
                [m.reported_as, fix, upload_id, m.column],
            )
        for rule, fix in self.warnings:
            con.execute(
                "INSERT INTO ingest.rejected_rows VALUES (?, ?, NULL, NULL, NULL, NULL, ?, ?,"
                " 'warning')",
                [upload_id, self.path.name, rule, fix],
            )
        result.warnings += len(self.warnings)
        result.rows_skipped = skipped
        if skipped:
            detail = ", ".join(f"{n} {reason}" for reason, n in self.skipped.items())
            result.message += f"; {skipped} rows skipped ({detail})"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def vendor_format(path: Path) -> str | None:
    return VENDOR_FORMATS.get(path.suffix.lower())


def _profiles(settings: Settings) -> dict[str, Profile]:
    try:
        return load_profiles(settings.home)
    except ProfileError as exc:
        raise StructuralError(f"{exc}: fix the profile file") from exc


def detect_vendor_file(
    path: Path, entity_name: str | None, options: SourceOptions, settings: Settings
) -> VendorFile | None:
    """The profile ``path`` follows, or None when it goes to the canonical contract."""
    fmt = vendor_format(path)
    if options.source is None and (entity_name is not None or fmt is None):
        return None
    if fmt is None:
        raise StructuralError(
            f"source profiles read .csv and .json files; '{path.name}' is {path.suffix}"
        )
    if path.stat().st_size == 0:
        return None
    profiles = _profiles(settings)
    head = read_head(path, fmt)
    if options.source is not None:
        profile = profiles.get(options.source)
        if profile is None:
            raise StructuralError(
                f"there is no source profile '{options.source}';"
                f" known: {', '.join(sorted(profiles))}"
            )
        if fmt not in profile.format.split("|"):
            raise StructuralError(
                f"the {profile.name} profile reads {profile.format} files, not {fmt}"
            )
        found = evaluate(profile, head)
        if found.header_index is None:
            raise StructuralError(
                f"'{path.name}' does not have the headers of {profile.name}: missing"
                f" {', '.join(found.missing)}"
            )
        return _vendor_file(found, path, head, options, settings)
    chosen = choose(profiles, head, path)
    if chosen is not None:
        return _vendor_file(chosen, path, head, options, settings)
    if entity_for_file_stem(path.stem) is not None:
        return None  # a canonical file
    closest = closest_profiles(profiles, head)
    raise StructuralError(
        f"cannot tell what '{path.name}' holds: no source profile matches its headers"
        + (f"; closest: {closest}" if closest else "")
        + ". Pass --source NAME, write a profile (`moatmetrics sources suggest FILE` drafts"
        " one), or name a canonical file after its entity (clients, staff, time_entries,"
        " invoices, licenses, expenses) or pass --entity"
    )


def recognised_source(path: Path, file_name: str, settings: Settings) -> str | None:
    """The source profile whose headers a file has, judged before it is landed (an HTTP upload
    is held under a temporary name, so its format comes from `file_name`); None when no profile
    matches. Several matching profiles is the same error the ingest would give."""
    fmt = vendor_format(Path(file_name))
    if fmt is None or path.stat().st_size == 0:
        return None
    profiles = _profiles(settings)
    found = choose(profiles, read_head(path, fmt), Path(file_name))
    return found.profile.name if found is not None else None


def unrecognised_file_message(path: Path, file_name: str, settings: Settings) -> str:
    """Why a file that names no entity and matches no profile is refused, with the nearest
    profiles and what each is missing."""
    fmt = vendor_format(Path(file_name))
    closest = ""
    if fmt is not None and path.stat().st_size > 0:
        closest = closest_profiles(_profiles(settings), read_head(path, fmt))
    return (
        f"cannot tell what '{file_name}' holds: its name does not name an entity and no source"
        " profile matches its headers"
        + (f" (closest: {closest})" if closest else "")
        + ". Name the file after its entity (clients, staff, time_entries, invoices, licenses,"
        " expenses) or send the form field `entity`; for another system's export, write a"
        " profile (`moatmetrics sources suggest FILE` drafts one)"
    )


def _vendor_file(
    found: Candidate, path: Path, head: FileHead, options: SourceOptions, settings: Settings
) -> VendorFile:
    return VendorFile(found.profile, path, head, found.header_index or 0, options, settings)
