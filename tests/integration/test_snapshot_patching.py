"""A snapshot copied from the current one with only its changed rows replaced
(`moatmetrics.snapshot_patching`) holds exactly what a snapshot written whole does.

Real components: the demo home through the real pipeline (its warehouse, trust tables and
published snapshot), real DuckDB files, a real key rotation. Each patched snapshot is compared
with one written whole from the same warehouse: the same tables, columns, types and rows. The
demo's tables are far below the size the pipeline patches from (`PATCH_MIN_ROWS`), so these
tests ask for every table to be patched (`patch_min_rows=0`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import stat
from pathlib import Path

import duckdb
import pytest
from built_homes import BuiltHome, copy_home
from snapshot_warehouse import MARTS, small_warehouse

from moatmetrics.at_rest.duckdb_files import UNSAFE_CRYPTO, attach_duckdb
from moatmetrics.at_rest.encryption import EncryptionError, write_key_file
from moatmetrics.key_rotation import rotate_key
from moatmetrics.settings import Settings
from moatmetrics.snapshots import publish

WHOLE = 10**12  # no table is this big: the snapshot is written whole


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_same_snapshots(settings: Settings, patched: Path, whole: Path) -> None:
    """Every table of the two files but meta.snapshot (id, time) has the same columns and rows."""
    con = duckdb.connect()
    attach_duckdb(con, patched, "patched", settings, read_only=True)
    attach_duckdb(con, whole, "whole", settings, read_only=True)
    listed = (
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        " WHERE table_catalog = ? ORDER BY 1"
    )
    tables = [row[0] for row in con.execute(listed, ["whole"]).fetchall()]
    assert tables == [row[0] for row in con.execute(listed, ["patched"]).fetchall()]
    assert "marts.trends" in tables or "marts.client_profitability" in tables
    for table in tables:
        if table == "meta.snapshot":
            continue
        columns = [
            con.execute(f"DESCRIBE {side}.{table}").fetchall() for side in ("patched", "whole")
        ]
        assert columns[0] == columns[1], table
        counts = [
            con.execute(f"SELECT count(*) FROM {s}.{table}").fetchone()
            for s in ("patched", "whole")
        ]
        assert counts[0] == counts[1], table
        for one, other in (("patched", "whole"), ("whole", "patched")):
            differing = con.execute(
                f"SELECT count(*) FROM (SELECT * FROM {one}.{table}"
                f" EXCEPT ALL SELECT * FROM {other}.{table})"
            ).fetchone()
            assert differing == (0,), f"{table}: rows of {one} not in {other}"
    con.close()


def _manifest(settings: Settings, snapshot_id: str) -> dict:
    return json.loads((settings.snapshots_dir / f"{snapshot_id}.json").read_text())


@pytest.fixture
def built(demo_home: BuiltHome, tmp_path: Path) -> BuiltHome:
    return copy_home(demo_home, tmp_path / "home")


@pytest.mark.slow  # the demo home: a pipeline run
def test_a_patched_snapshot_holds_the_rows_a_whole_one_does(built: BuiltHome) -> None:
    settings = built.settings
    before = _digest(built.snapshot)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        ((last, first),) = con.execute(
            "SELECT max(month), min(month) FROM marts.client_profitability"
        ).fetchall()
        ((revised,),) = con.execute(  # a day's revenue: the month's rows change
            "UPDATE marts.client_profitability SET revenue = revenue + 1 WHERE month = ?", [last]
        ).fetchall()
        ((rescored,),) = con.execute(  # the trust layer's sentence changes, the mart's row not
            "UPDATE trust.client_profitability_scores SET explanation = explanation || ' Again.'"
            " WHERE month = ?",
            [first],
        ).fetchall()
        ((gone,),) = con.execute(
            "DELETE FROM marts.license_utilization WHERE month = ?", [last]
        ).fetchall()
        ((moved,),) = con.execute(
            "UPDATE marts.trends SET value = value + 1 WHERE metric = 'revenue' AND month = ?",
            [last],
        ).fetchall()
        # new code: a mart with another column is written whole, never patched
        con.execute("ALTER TABLE marts.staff_utilization ADD COLUMN note VARCHAR DEFAULT 'x'")
    assert revised and rescored and gone and moved

    patched = publish(settings, patch_min_rows=0)
    whole = publish(settings, patch_min_rows=WHOLE)

    replaced = 2 * revised + 2 * rescored + gone + 2 * moved
    assert patched.written.startswith(
        f"patched from {built.snapshot_id}: {replaced} rows replaced in client_profitability,"
        " license_utilization, client_risk, month_completeness, trends,"
    ), patched.written
    assert "staff_utilization" not in patched.written
    assert whole.written.startswith("whole (no table of"), whole.written
    assert patched.path and whole.path
    _assert_same_snapshots(settings, patched.path, whole.path)
    assert _digest(built.snapshot) == before  # the snapshot copied from never changes
    assert not built.snapshot.stat().st_mode & stat.S_IWUSR
    assert not patched.path.stat().st_mode & stat.S_IWUSR
    assert _manifest(settings, patched.snapshot_id)["patched_from"] == built.snapshot_id
    assert _manifest(settings, whole.snapshot_id)["rows_replaced_since_whole"] == 0


@pytest.mark.slow  # the demo home: a pipeline run
def test_a_snapshot_is_written_whole_again_once_a_quarter_of_its_rows_were_replaced(
    built: BuiltHome,
) -> None:
    settings = built.settings
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("UPDATE marts.trends SET value = value + 1")  # most rows of the snapshot
    patched = publish(settings, patch_min_rows=0)
    assert patched.written.startswith(f"patched from {built.snapshot_id}")
    total = sum(patched.row_counts.values())
    replaced = _manifest(settings, patched.snapshot_id)["rows_replaced_since_whole"]
    assert replaced > total / 4

    again = publish(settings, patch_min_rows=0)  # nothing changed, but the copy has holes

    assert again.written == (
        f"whole ({patched.snapshot_id} not copied: {replaced} of its {total} rows replaced"
        " since it was last written whole)"
    )
    assert patched.path and again.path
    _assert_same_snapshots(settings, again.path, patched.path)
    assert _manifest(settings, again.snapshot_id)["rows_replaced_since_whole"] == 0


def test_after_a_key_rotation_the_copy_is_under_the_new_key(tmp_path: Path, home: Settings) -> None:
    plain = dataclasses.replace(home, duckdb_crypto=UNSAFE_CRYPTO)
    small_warehouse(plain, 1)
    first = publish(plain, MARTS, patch_min_rows=0)
    assert first.written.startswith("whole (no current snapshot")
    small_warehouse(plain, 2)  # C1's revenue, C2's explanation and S1's hours change
    key_file = write_key_file(tmp_path / "at-rest.key").source
    rotate_key(plain, key_file)  # the warehouse and the first snapshot, encrypted
    encrypted = dataclasses.replace(plain, encryption_key_file=key_file)

    patched = publish(encrypted, MARTS, patch_min_rows=0)
    whole = publish(encrypted, MARTS, patch_min_rows=WHOLE)

    assert patched.written == (
        f"patched from {first.snapshot_id}: 6 rows replaced in client_profitability,"
        " staff_utilization; the other tables written whole"
    )
    assert patched.path and whole.path
    _assert_same_snapshots(encrypted, patched.path, whole.path)
    with pytest.raises(EncryptionError, match="is encrypted"):
        attach_duckdb(duckdb.connect(), patched.path, "p", plain, read_only=True)
