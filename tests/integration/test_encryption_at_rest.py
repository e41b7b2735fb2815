"""Encryption at rest on real files: DuckDB's database encryption and the AES-GCM upload archive.

DuckDB writes encrypted files with OpenSSL from its httpfs extension, which the package
registries do not carry for this DuckDB version: these tests write with DuckDB's built-in
module (`MOATMETRICS_DUCKDB_CRYPTO=mbedtls-unsafe`), the same file format; one test checks the
default (`openssl`) either writes or says how to install httpfs.
"""

from __future__ import annotations

import dataclasses
import io
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from moatmetrics.at_rest.duckdb_files import (
    UNSAFE_CRYPTO,
    connect_duckdb,
    file_cursor,
    httpfs_installed,
)
from moatmetrics.at_rest.encryption import (
    MAGIC,
    EncryptionError,
    archive_file,
    archived_key_id,
    next_key_path,
    read_archived_file,
    read_key_file,
    write_key_file,
)
from moatmetrics.key_rotation import rotate_key
from moatmetrics.settings import ensure_home, get_settings

SECRET_ROW = "Beta Law Partners LLP"


@pytest.fixture
def home(tmp_path: Path):
    key_file = write_key_file(tmp_path / "keys" / "at-rest.key").source
    settings = dataclasses.replace(
        get_settings(),
        home=tmp_path / "home",
        encryption_key_file=key_file,
        duckdb_crypto=UNSAFE_CRYPTO,
    )
    ensure_home(settings)
    return settings


def _plain(settings):
    return dataclasses.replace(settings, encryption_key_file=None)


def _write_warehouse(settings) -> None:
    with connect_duckdb(settings.warehouse_path, settings) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.clients AS SELECT 'C001' AS client_id, ? AS name",
                    [SECRET_ROW])  # fmt: skip
        con.execute("CREATE VIEW marts.client_names AS SELECT name FROM marts.clients")


def test_key_file_is_private_and_checked(tmp_path: Path) -> None:
    key = write_key_file(tmp_path / "k")
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert read_key_file(tmp_path / "k").text == key.text
    assert key.text not in repr(key)  # never in a log line or a traceback
    with pytest.raises(FileExistsError):
        write_key_file(tmp_path / "k")
    (tmp_path / "bad").write_text("not-a-key\n")
    with pytest.raises(EncryptionError, match=r"bad does not hold a key .*new-key"):
        read_key_file(tmp_path / "bad")
    with pytest.raises(EncryptionError, match=r"missing does not exist: make one"):
        read_key_file(tmp_path / "missing")


def test_warehouse_is_unreadable_without_its_key(home) -> None:
    _write_warehouse(home)
    raw = home.warehouse_path.read_bytes()
    assert SECRET_ROW.encode() not in raw and b"C001" not in raw
    with pytest.raises(duckdb.Error, match="without a key"):
        duckdb.connect(str(home.warehouse_path), read_only=True)
    with pytest.raises(EncryptionError, match=r"is encrypted: set MOATMETRICS_ENCRYPTION_KEY"):
        connect_duckdb(home.warehouse_path, _plain(home), read_only=True)
    other = write_key_file(home.home.parent / "other.key").source
    with pytest.raises(EncryptionError, match=r"does not open with the key in .*other\.key"):
        connect_duckdb(
            home.warehouse_path,
            dataclasses.replace(home, encryption_key_file=other),
            read_only=True,
        )
    # The documented way for SQL users and BI tools: plain DuckDB, the key text, READ_ONLY.
    key = read_key_file(home.encryption_key_file).text
    con = duckdb.connect()
    con.execute(f"ATTACH '{home.warehouse_path}' AS w (ENCRYPTION_KEY '{key}', READ_ONLY)")
    assert con.execute("SELECT name FROM w.marts.client_names").fetchall() == [(SECRET_ROW,)]
    # And through MoatMetrics, on a cursor too (the API's path).
    with connect_duckdb(home.warehouse_path, home, read_only=True) as con:
        cursor = file_cursor(con, home.warehouse_path, home)
        assert cursor.execute("SELECT client_id FROM marts.clients").fetchall() == [("C001",)]


def test_a_plain_file_under_a_key_says_to_rotate(home) -> None:
    _write_warehouse(_plain(home))
    with pytest.raises(EncryptionError, match=r"not encrypted .*encryption rotate"):
        connect_duckdb(home.warehouse_path, home)


def test_openssl_mode_writes_or_names_the_missing_extension(home) -> None:
    settings = dataclasses.replace(home, duckdb_crypto="openssl")
    if httpfs_installed():
        _write_warehouse(settings)
        assert b"C001" not in home.warehouse_path.read_bytes()
        return
    with pytest.raises(EncryptionError, match=r"httpfs is not installed .*downloads nothing"):
        _write_warehouse(settings)
    assert not home.warehouse_path.exists()  # nothing half-written


def test_auto_mode_encrypts_with_or_without_the_extension(home, caplog, monkeypatch) -> None:
    monkeypatch.setattr("moatmetrics.at_rest.duckdb_files._warned_builtin", False)
    with caplog.at_level("WARNING", logger="moatmetrics.at_rest.duckdb_files"):
        _write_warehouse(dataclasses.replace(home, duckdb_crypto="auto"))
    # Without the extension it says so (once per process); with it, nothing to say.
    assert ("httpfs extension (OpenSSL) is not installed" in caplog.text) != httpfs_installed()
    assert b"C001" not in home.warehouse_path.read_bytes()
    with connect_duckdb(home.warehouse_path, home, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.clients").fetchall() == [(1,)]


def test_archive_round_trip_and_tampering(home, tmp_path: Path) -> None:
    upload = tmp_path / "clients.csv"
    original = b"client_id,client_name\nC001," + SECRET_ROW.encode() + b"\n" * 3
    upload.write_bytes(original)
    target = home.uploads_dir / "abc.csv"
    archive_file(upload, target, home)
    stored = target.read_bytes()
    assert stored.startswith(MAGIC) and SECRET_ROW.encode() not in stored
    assert archived_key_id(target) == read_key_file(home.encryption_key_file).key_id
    assert stat.S_IMODE(target.stat().st_mode) == 0o440
    out = io.BytesIO()
    read_archived_file(target, out, home)
    assert out.getvalue() == original
    with pytest.raises(EncryptionError, match=r"is encrypted: set MOATMETRICS_ENCRYPTION_KEY"):
        read_archived_file(target, io.BytesIO(), _plain(home))
    other = write_key_file(tmp_path / "other.key").source
    with pytest.raises(EncryptionError, match="encrypted with another key"):
        read_archived_file(
            target, io.BytesIO(), dataclasses.replace(home, encryption_key_file=other)
        )
    target.chmod(0o640)
    changed = bytearray(stored)
    changed[len(MAGIC) + 30] ^= 1
    target.write_bytes(bytes(changed))
    with pytest.raises(EncryptionError, match="failed its integrity check"):
        read_archived_file(target, io.BytesIO(), home)
    # Without a key the archive stays a plain copy, as before.
    plain_target = home.uploads_dir / "plain.csv"
    archive_file(upload, plain_target, _plain(home))
    assert plain_target.read_bytes() == original and archived_key_id(plain_target) is None


def test_rotation_rewrites_everything_and_resumes(home, tmp_path: Path, monkeypatch) -> None:
    _write_warehouse(home)
    snapshot = home.snapshots_dir / "20260101T000000000000Z-abcdef.duckdb"
    with connect_duckdb(snapshot, home) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.x AS SELECT 42 AS answer")
    snapshot.chmod(0o444)
    upload = tmp_path / "up.csv"
    upload.write_bytes(b"a,b\n1,2\n")
    archive_file(upload, home.uploads_dir / "up.csv", home)
    old_text = read_key_file(home.encryption_key_file).text
    new_file = write_key_file(tmp_path / "new.key").source

    report = rotate_key(home, new_file)

    assert (report.duckdb_files, report.archived_files, report.already_rotated) == (2, 1, 0)
    assert read_key_file(home.encryption_key_file).text == read_key_file(new_file).text
    assert not next_key_path(home.encryption_key_file).exists()
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o444  # still read-only
    old = dataclasses.replace(home, encryption_key_file=tmp_path / "old.key")
    write_key_file(old.encryption_key_file, old_text)
    for path in (home.warehouse_path, snapshot):
        with pytest.raises(EncryptionError, match="does not open with the key"):
            connect_duckdb(path, old, read_only=True)
    with connect_duckdb(home.warehouse_path, home, read_only=True) as con:
        assert con.execute("SELECT * FROM marts.client_names").fetchall() == [(SECRET_ROW,)]
    with connect_duckdb(snapshot, home, read_only=True) as con:
        assert con.execute("SELECT answer FROM marts.x").fetchall() == [(42,)]
    out = io.BytesIO()
    read_archived_file(home.uploads_dir / "up.csv", out, home)
    assert out.getvalue() == b"a,b\n1,2\n"

    # A rotation that dies half-way (here: at the archive, after the DuckDB files): the next
    # key waits beside the key file, so every file still opens; running it again finishes.
    third = write_key_file(tmp_path / "third.key").source

    def crash(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("moatmetrics.key_rotation.reencrypt_archived_file", crash)
    with pytest.raises(OSError, match="disk full"):
        rotate_key(home, third)
    monkeypatch.undo()
    assert next_key_path(home.encryption_key_file).exists()
    with connect_duckdb(snapshot, home, read_only=True) as con:  # under the next key
        assert con.execute("SELECT answer FROM marts.x").fetchall() == [(42,)]
    read_archived_file(home.uploads_dir / "up.csv", io.BytesIO(), home)  # under the current
    report = rotate_key(home, third)
    assert (report.duckdb_files, report.archived_files, report.already_rotated) == (0, 1, 2)
    assert read_key_file(home.encryption_key_file).text == read_key_file(third).text
    assert not next_key_path(home.encryption_key_file).exists()


def test_rotation_encrypts_a_plain_home(home, tmp_path: Path) -> None:
    plain = _plain(home)
    _write_warehouse(plain)
    upload = tmp_path / "up.csv"
    upload.write_bytes(b"a,b\n1,2\n")
    archive_file(upload, home.uploads_dir / "up.csv", plain)
    report = rotate_key(plain, home.encryption_key_file)
    assert (report.duckdb_files, report.archived_files, report.key_file) == (1, 1, None)
    assert b"C001" not in home.warehouse_path.read_bytes()
    assert archived_key_id(home.uploads_dir / "up.csv") is not None
    with connect_duckdb(home.warehouse_path, home, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.clients").fetchall() == [(1,)]


def test_cli_new_key_and_read_upload(home, tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "moatmetrics.cli"]
    made = subprocess.run([*cli, "encryption", "new-key", str(tmp_path / "cli.key")],
                          capture_output=True, text=True, check=True)  # fmt: skip
    key = read_key_file(tmp_path / "cli.key")
    assert key.text not in made.stdout + made.stderr and key.key_id.hex() in made.stdout
    upload = tmp_path / "up.csv"
    upload.write_bytes(b"x,y\n1,2\n")
    archive_file(upload, home.uploads_dir / "up.csv", home)
    env = {"MOATMETRICS_HOME": str(home.home),
           "MOATMETRICS_ENCRYPTION_KEY_FILE": str(home.encryption_key_file)}  # fmt: skip
    subprocess.run(
        [*cli, "encryption", "read-upload", str(home.uploads_dir / "up.csv"),
         "--to", str(tmp_path / "back.csv")],
        env={**_base_env(), **env}, check=True,
    )  # fmt: skip
    assert (tmp_path / "back.csv").read_bytes() == b"x,y\n1,2\n"
    refused = subprocess.run(
        [*cli, "encryption", "read-upload", str(home.uploads_dir / "up.csv"),
         "--to", str(tmp_path / "again.csv")],
        env={**_base_env(), "MOATMETRICS_HOME": str(home.home)}, capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode == 1 and "is encrypted" in refused.stderr
    assert not (tmp_path / "again.csv").exists()

    # `status`: every file under the configured key (exit 0), until one is not (exit 1).
    status = subprocess.run([*cli, "encryption", "status"], env={**_base_env(), **env},
                            capture_output=True, text=True)  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert f"encrypted, key {read_key_file(home.encryption_key_file).key_id.hex()}" in status.stdout
    assert "all 1 files are encrypted under the configured key" in status.stdout
    archive_file(upload, home.uploads_dir / "plain.csv", _plain(home))
    status = subprocess.run([*cli, "encryption", "status"], env={**_base_env(), **env},
                            capture_output=True, text=True)  # fmt: skip
    assert status.returncode == 1 and "plain" in status.stdout
    assert "1 of 2 files are not under the configured key" in status.stderr


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("MOATMETRICS_")}
