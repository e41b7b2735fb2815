"""A new snapshot as a copy of the current one with only the rows that changed replaced.

Why: writing a snapshot whole costs what writing every row costs, and a day's run changes few
of them. At 10m a snapshot holds about 5.6 million rows (4.2 million trends rows with their
sentences, 0.9 million licence rows, 0.3 million client rows, each with its trust columns)
and took 12 s to write, trends alone 7 s; a day inside a month changes about 2 % of those
rows. A DuckDB file cannot share storage with another, so a snapshot that stays immutable and
self-contained (one file a reader opens, a backup copies, a roll-back points at) is a copy:
copying the current file takes 0.4 s for 630 MB, and replacing its changed rows is far
cheaper than writing every row again.

Which rows changed, without comparing them column by column (an EXCEPT over 4.2 million rows
with sentences took 13 s): each row's grain and the whole row are hashed on both sides, the
held rows whose (grain, row) pair the new marts no longer have are deleted and the new rows
whose pair the copy does not hold are inserted. A changed row is missed only if its old and
new versions hash alike *and* share their grain (a 64-bit collision on one row); the row
count is checked after every table.

What is not patched, but written as before: a table whose columns or types changed (new code),
a small table (cheaper to write whole, and kept in its sorted order), the `meta` schema, and
everything when there is no current snapshot file or it does not open with the key new files
are written with. A patched table's changed rows sit at its end instead of in grain order:
every reader orders what it reads (the API pages by the grain). Deleted rows leave free space
in the copy, so a snapshot is written whole again once the rows replaced since the last whole
write pass a quarter of its rows: the files stay within about that much of their whole size.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

#: Tables with fewer rows than this in the current snapshot are written whole.
PATCH_MIN_ROWS = 50_000
#: A snapshot is written whole once the rows replaced since the last whole write exceed this
#: share of its rows (the free space deleted rows leave behind stays bounded).
MAX_REPLACED_SHARE = 0.25


@dataclass(frozen=True)
class PatchBase:
    """The current snapshot a new one may be copied from, as its manifest describes it."""

    snapshot_id: str
    path: Path
    row_counts: dict[str, int]
    replaced_since_whole: int  # rows replaced by patches since it (or a base) was written whole

    def refusal(self) -> str | None:
        """Why a new snapshot must not be copied from this one; None when it may."""
        total = sum(self.row_counts.values())
        if self.replaced_since_whole > MAX_REPLACED_SHARE * total:
            return (
                f"{self.replaced_since_whole} of its {total} rows replaced since it was last"
                " written whole"
            )
        if not self.path.exists():
            return "its file is gone"
        return None


def copy_base(base: PatchBase, target: Path) -> None:
    """Copy the base snapshot's file to `target` (writable: the base stays read-only)."""
    shutil.copyfile(base.path, target)


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {relation}").fetchall()]


def patch_table(
    con: duckdb.DuckDBPyConnection, table: str, source: str, grain: tuple[str, ...]
) -> int | None:
    """Make `table` (a copied snapshot's) hold the rows of `source` by replacing the rows that
    differ; returns how many rows were deleted plus inserted, or None (nothing touched) when
    the columns differ and the table must be written whole.

    `source` is a SELECT without ORDER BY; `grain` its key columns (NULLs allowed: they hash).
    """
    if _columns(con, table) != _columns(con, f"({source})"):
        return None
    key = "hash(" + ", ".join(f't."{column}"' for column in grain) + ")"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE patch_fresh AS"
        f" SELECT {key} AS k, hash(t) AS h FROM ({source}) AS t"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE patch_held AS"
        f" SELECT t.rowid AS r, {key} AS k, hash(t) AS h FROM {table} AS t"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE patch_added AS"
        " SELECT k, h FROM patch_fresh ANTI JOIN patch_held USING (k, h)"
    )
    ((deleted,),) = con.execute(
        f"DELETE FROM {table} WHERE rowid IN"
        " (SELECT r FROM patch_held ANTI JOIN patch_fresh USING (k, h))"
    ).fetchall()
    ((inserted,),) = con.execute(
        f"INSERT INTO {table} SELECT * EXCLUDE (patch_k, patch_h) FROM"
        f" (SELECT t.*, {key} AS patch_k, hash(t) AS patch_h FROM ({source}) AS t) AS fresh"
        " SEMI JOIN patch_added ON fresh.patch_k = patch_added.k AND fresh.patch_h = patch_added.h"
    ).fetchall()
    ((held,),) = con.execute(f"SELECT count(*) FROM {table}").fetchall()
    ((wanted,),) = con.execute("SELECT count(*) FROM patch_fresh").fetchall()
    con.execute("DROP TABLE patch_fresh; DROP TABLE patch_held; DROP TABLE patch_added")
    if held != wanted:  # duplicate rows on one side, which a hash join cannot tell apart
        return None
    return int(deleted) + int(inserted)
