"""`moatmetrics backup --to DIR` and `moatmetrics restore --from DIR` (moatmetrics.backup).

Both are audited under the CLI's actor: a backup in the home it copied (after the copy, so the
next backup holds it), a restore in the restored app database (after its chain verified).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def audit_cli_action(action: str, target: str, details: dict[str, object]) -> None:
    from moatmetrics.appdb import audit
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.cli_keys import cli_actor

    with session_scope(write=True) as session:
        audit.append(session, cli_actor(), action, "ok", target, None, details)


def cmd_backup(args: argparse.Namespace) -> int:
    from moatmetrics.backup import BackupError, back_up
    from moatmetrics.settings import get_settings
    from moatmetrics.storage.configured import storage_for

    try:
        storage = storage_for(get_settings())
        manifest = back_up(storage, Path(args.to), include_secrets=args.include_secrets)
    except BackupError as exc:
        print(f"moatmetrics backup: {exc}", file=sys.stderr)
        return 1
    size = sum(f.size_bytes for f in manifest.files)
    audit_cli_action(
        "backup.create",
        str(Path(args.to).resolve()),
        {"files": len(manifest.files), "bytes": size, "snapshot": manifest.current_snapshot},
    )
    print(
        f"backed up {len(manifest.files)} files ({size / 2**20:.1f} MiB) to {args.to};"
        f" current snapshot {manifest.current_snapshot or 'none'}"
    )
    if not manifest.secrets_included:
        print(
            "the signing key is not in the backup: keep secrets/signing.key safe apart from it"
            " (docs/operations.md, Backup and restore)",
            file=sys.stderr,
        )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from moatmetrics.backup import BackupError, restore
    from moatmetrics.settings import get_settings

    try:
        report = restore(get_settings(), Path(args.source))
    except BackupError as exc:
        print(f"moatmetrics restore: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored {report.files} files ({report.bytes / 2**20:.1f} MiB); current snapshot"
        f" {report.current_snapshot or 'none'}; audit chain: {report.audit_detail}"
    )
    if not report.audit_valid:
        print(
            "the restored audit log does not verify: put back the signing key the backup was"
            " signed with (secrets/signing.key) and run `moatmetrics audit verify`",
            file=sys.stderr,
        )
        return 1
    audit_cli_action("backup.restore", str(Path(args.source).resolve()), {"files": report.files})
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    backup = sub.add_parser(
        "backup", help="a consistent copy of the home while the API serves (runs wait)"
    )
    backup.add_argument("--to", required=True, help="a new or empty folder")
    backup.add_argument(
        "--include-secrets",
        action="store_true",
        help="also copy the signing key (keep such a backup as safe as the key itself)",
    )
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="put a backup back into an empty home")
    restore.add_argument("--from", dest="source", required=True, help="the backup folder")
    restore.set_defaults(func=cmd_restore)
