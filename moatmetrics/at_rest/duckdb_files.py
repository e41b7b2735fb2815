"""Opening the home's DuckDB files (warehouse, snapshots): the one place that knows the key.

Without encryption a file is opened as it always was, ``duckdb.connect(path)``. With it
(`moatmetrics.at_rest.encryption`), DuckDB needs the key at ATTACH time, so the file is
attached to an in-memory connection under the catalog name DuckDB would have given it and made
the default (``USE``): callers' SQL reads the same either way.

DuckDB decrypts with its built-in crypto module but writes encrypted files only with OpenSSL,
which its ``httpfs`` extension brings (its built-in module's random numbers are not fit for
nonces). MoatMetrics never downloads anything: the extension must be installed beside DuckDB
(docs/security.md, "Encryption at rest"). ``MOATMETRICS_DUCKDB_CRYPTO`` says what happens
without it: ``auto`` (the default) writes with DuckDB's built-in module and warns once per
process, so an installation without the extension is still encrypted; ``openssl`` refuses to
write; ``mbedtls-unsafe`` always uses the built-in module (the same file format, weaker nonces).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import duckdb

from moatmetrics.at_rest.encryption import (
    KEY_FILE_ENV,
    AtRestKey,
    EncryptionError,
    configured_keys,
    encryption_on,
)
from moatmetrics.settings import Settings

DUCKDB_CRYPTO_ENV = "MOATMETRICS_DUCKDB_CRYPTO"
UNSAFE_CRYPTO = "mbedtls-unsafe"
STRICT_CRYPTO = "openssl"
_log = logging.getLogger(__name__)
_warned_builtin = False


def catalog_name(path: Path) -> str:
    """The catalog DuckDB names a file after: `warehouse.duckdb` -> `warehouse`."""
    return path.name.lstrip(".").split(".")[0]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _refuse_encrypted(path: Path, exc: duckdb.CatalogException) -> NoReturn:
    """Re-raise DuckDB's refusal to open an encrypted file without a key with the fix."""
    if "without a key" not in str(exc):
        raise exc
    raise EncryptionError(
        f"{path} is encrypted: set {KEY_FILE_ENV} to the key file it was written with"
    ) from None


def httpfs_installed() -> bool:
    """Whether DuckDB's httpfs extension (OpenSSL) loads here, from disk only."""
    con = duckdb.connect()
    try:
        con.execute("LOAD httpfs")
        return True
    except duckdb.Error:
        return False
    finally:
        con.close()


def enable_encrypted_writes(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Give DuckDB a crypto module it writes encrypted files with (see the module docstring)."""
    global _warned_builtin
    if settings.duckdb_crypto == UNSAFE_CRYPTO:
        con.execute("SET force_mbedtls_unsafe = true")
        return
    try:
        con.execute("LOAD httpfs")
    except duckdb.Error:
        version = duckdb.__version__
        if settings.duckdb_crypto != STRICT_CRYPTO:  # auto: encrypted, with a weaker nonce source
            if not _warned_builtin:
                _warned_builtin = True
                _log.warning(
                    "DuckDB's httpfs extension (OpenSSL) is not installed for DuckDB %s: the"
                    " warehouse and snapshots are encrypted with DuckDB's built-in crypto"
                    " module, whose nonces are weaker; install httpfs offline"
                    " (docs/security.md, Encryption at rest)",
                    version,
                )
            con.execute("SET force_mbedtls_unsafe = true")
            return
        raise EncryptionError(
            "DuckDB writes encrypted files only with OpenSSL, which its httpfs extension brings,"
            f" and httpfs is not installed for DuckDB {version}: on a machine with internet"
            f" access run `INSTALL httpfs` in DuckDB {version} and copy httpfs.duckdb_extension"
            f" into ~/.duckdb/extensions/v{version}/<platform>/ here (MoatMetrics downloads"
            f" nothing); or set {DUCKDB_CRYPTO_ENV}=auto to write with DuckDB's built-in module"
        ) from None


def attach_duckdb(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    alias: str,
    settings: Settings,
    *,
    read_only: bool = False,
    keys: list[AtRestKey] | None = None,
) -> None:
    """ATTACH `path` as `alias`, with the home's key when encryption is on (or `keys`)."""
    keys = configured_keys(settings) if keys is None else keys
    options = ["READ_ONLY"] if read_only else []
    target = f"ATTACH {_literal(str(path))} AS {_quoted(alias)}"
    if not keys:
        try:
            con.execute(target + (f" ({', '.join(options)})" if options else ""))
        except duckdb.CatalogException as exc:
            _refuse_encrypted(path, exc)
        return
    if not read_only:
        enable_encrypted_writes(con, settings)
    for key in keys:
        try:
            con.execute(
                f"{target} ({', '.join([f'ENCRYPTION_KEY {_literal(key.text)}', *options])})"
            )
            return
        except duckdb.Error as exc:
            message = str(exc)
            if "is not encrypted" in message:
                raise EncryptionError(
                    f"{path} is not encrypted but {KEY_FILE_ENV} is set: encrypt the home's"
                    " files with `moatmetrics encryption rotate --new-key-file FILE`"
                    " (docs/security.md, Encryption at rest)"
                ) from None
            if "key" not in message.lower() and "crypt" not in message.lower():
                raise
    raise EncryptionError(
        f"{path} does not open with the key in {keys[0].source}: it was written with another"
        f" key; set {KEY_FILE_ENV} to that key's file"
    )


def connect_duckdb(
    path: Path,
    settings: Settings,
    *,
    read_only: bool = False,
    config: dict[str, Any] | None = None,
    keys: list[AtRestKey] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the file at `path`, decrypted when the home is
    encrypted; a new file is created encrypted. `keys` (default: the home's) are the keys
    tried; [] opens it as a plain file."""
    config = dict(config or {})
    keys = configured_keys(settings) if keys is None else keys
    if not keys:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.CatalogException as exc:
            _refuse_encrypted(path, exc)
    con = duckdb.connect(config=config)
    try:
        alias = catalog_name(path)
        attach_duckdb(con, path, alias, settings, read_only=read_only, keys=keys)
        con.execute(f"USE {_quoted(alias)}")
    except BaseException:
        con.close()
        raise
    return con


def file_cursor(
    con: duckdb.DuckDBPyConnection, path: Path, settings: Settings
) -> duckdb.DuckDBPyConnection:
    """A cursor of `connect_duckdb(path, ...)`'s connection whose default database is that file
    too (a DuckDB cursor starts in the instance's default, the in-memory one when encrypted)."""
    cursor = con.cursor()
    if encryption_on(settings):
        try:
            cursor.execute(f"USE {_quoted(catalog_name(path))}")
        except BaseException:
            cursor.close()
            raise
    return cursor


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction on `con`: committed when the block ends, rolled back if it raises, so
    readers see every statement of the block or none."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
