"""`moatmetrics encryption ...`: make a key, rotate the home onto it, check how each file is
stored, read an archived upload.

The key file's path goes in MOATMETRICS_ENCRYPTION_KEY_FILE (docs/security.md, Encryption at
rest). Rotation is audited under the CLI's actor; the key itself is never printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_new_key(args: argparse.Namespace) -> int:
    from moatmetrics.at_rest.encryption import write_key_file

    path = Path(args.file).expanduser().resolve()
    try:
        key = write_key_file(path)
    except FileExistsError:
        print(f"moatmetrics encryption new-key: {path} exists: keys are never overwritten",
              file=sys.stderr)  # fmt: skip
        return 1
    print(
        f"wrote a new key to {path} (mode 0600, id {key.key_id.hex()}): keep a copy apart from"
        " the home and its backups; without it the encrypted files cannot be read"
    )
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from moatmetrics.at_rest.encryption import EncryptionError, read_key_file
    from moatmetrics.cli_backup import audit_cli_action
    from moatmetrics.key_rotation import rotate_key
    from moatmetrics.settings import get_settings

    new_key_file = Path(args.new_key_file).expanduser().resolve()
    try:
        report = rotate_key(get_settings(), new_key_file)
        key_id = read_key_file(new_key_file).key_id.hex()
    except EncryptionError as exc:
        print(f"moatmetrics encryption rotate: {exc}", file=sys.stderr)
        return 1
    print(
        f"rotated to key {key_id}: {report.duckdb_files} DuckDB files and"
        f" {report.archived_files} archived uploads rewritten, {report.already_rotated} already"
        " under it"
    )
    if report.key_file is None:
        print(
            f"the home was not encrypted before: set MOATMETRICS_ENCRYPTION_KEY_FILE={new_key_file}"
            " for every MoatMetrics process (runs, the API) from now on",
            file=sys.stderr,
        )
    else:
        print(
            f"{report.key_file} now holds the new key. Backups made before now still need the"
            " old key: keep it with them",
            file=sys.stderr,
        )
    audit_cli_action(
        "encryption.rotate",
        str(report.key_file or new_key_file),
        {"key_id": key_id, "duckdb_files": report.duckdb_files,
         "archived_files": report.archived_files},
    )  # fmt: skip
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from moatmetrics.at_rest.encryption import EncryptionError, configured_keys
    from moatmetrics.key_rotation import encryption_status
    from moatmetrics.settings import get_settings

    settings = get_settings()
    try:
        keys = configured_keys(settings)
        states = encryption_status(settings)
    except EncryptionError as exc:
        print(f"moatmetrics encryption status: {exc}", file=sys.stderr)
        return 1
    for path, state in states:
        print(f"{state:<32} {path.relative_to(settings.home)}")
    if not keys:
        print("encryption at rest is off (MOATMETRICS_ENCRYPTION_KEY_FILE is not set)")
        locked = [path for path, state in states if state != "plain"]
        if locked:
            print(
                f"{len(locked)} files are encrypted: set MOATMETRICS_ENCRYPTION_KEY_FILE to"
                " their key file to read them",
                file=sys.stderr,
            )
        return 1 if locked else 0
    wrong = [path for path, state in states if not state.startswith("encrypted, key")]
    if wrong:
        print(
            f"{len(wrong)} of {len(states)} files are not under the configured key: run"
            " `moatmetrics encryption rotate --new-key-file FILE` to put them under one key",
            file=sys.stderr,
        )
        return 1
    print(f"all {len(states)} files are encrypted under the configured key")
    return 0


def cmd_read_upload(args: argparse.Namespace) -> int:
    from moatmetrics.at_rest.encryption import EncryptionError, read_archived_file
    from moatmetrics.settings import get_settings

    target = Path(args.to)
    try:
        with target.open("xb") as out:
            read_archived_file(Path(args.archived), out, get_settings())
    except FileExistsError:
        print(f"moatmetrics encryption read-upload: {target} exists", file=sys.stderr)
        return 1
    except (EncryptionError, FileNotFoundError) as exc:
        target.unlink(missing_ok=True)
        print(f"moatmetrics encryption read-upload: {exc}", file=sys.stderr)
        return 1
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    encryption = sub.add_parser("encryption", help="encryption at rest: keys and rotation")
    actions = encryption.add_subparsers(dest="encryption_command", required=True)
    new_key = actions.add_parser("new-key", help="write a new random key to FILE (mode 0600)")
    new_key.add_argument("file")
    new_key.set_defaults(func=cmd_new_key)
    rotate = actions.add_parser(
        "rotate",
        help="rewrite the warehouse, snapshots and upload archive under a new key"
        " (or encrypt a plain home)",
    )
    rotate.add_argument("--new-key-file", required=True, help="made by `encryption new-key`")
    rotate.set_defaults(func=cmd_rotate)
    status = actions.add_parser(
        "status", help="how each file of the home is stored (exit 1: one is not under the key)"
    )
    status.set_defaults(func=cmd_status)
    read = actions.add_parser(
        "read-upload", help="write an archived upload's original bytes to a new file"
    )
    read.add_argument("archived", help="a file under $MOATMETRICS_HOME/uploads/")
    read.add_argument("--to", required=True, help="a new file")
    read.set_defaults(func=cmd_read_upload)
