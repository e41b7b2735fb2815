"""`moatmetrics keys ...` and `moatmetrics audit ...`: API keys and the audit log from a shell.

Whoever can run the CLI on the server can read the app database anyway, so these commands
need no key; they are audited under the actor ``cli:<os user>``. The first admin key of an
installation is made here (there are no default credentials).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from moatmetrics.appdb.keys import ROLES


def cli_actor():  # type: ignore[no-untyped-def]
    from moatmetrics.appdb.audit import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}", role=None)


def cmd_keys(args: argparse.Namespace) -> int:
    from moatmetrics.appdb import keys
    from moatmetrics.appdb.db import session_scope

    if args.keys_action == "create":
        try:
            with session_scope(write=True) as session:
                info, secret = keys.create_key(
                    session, cli_actor(), args.name, args.role, args.clients
                )
        except keys.KeyManagementError as exc:
            print(f"moatmetrics: {exc}", file=sys.stderr)
            return 1
        print(secret)
        scope = f", clients {','.join(info.clients)}" if info.clients else ""
        print(
            f"created key {info.id} '{info.name}' ({info.role}{scope}, {info.prefix})."
            " The key is shown only this once: store it now."
            " Send it as `Authorization: Bearer <key>`.",
            file=sys.stderr,
        )
        return 0
    if args.keys_action == "revoke":
        try:
            with session_scope(write=True) as session:
                info = keys.revoke_key(session, cli_actor(), args.key)
        except keys.KeyManagementError as exc:
            print(f"moatmetrics: {exc}", file=sys.stderr)
            return 1
        print(f"revoked key {info.id} '{info.name}' ({info.prefix})")
        return 0
    with session_scope() as session:
        listed = keys.list_keys(session, include_revoked=args.all)
    if not listed:
        print("no API keys yet: moatmetrics keys create --name NAME --role admin", file=sys.stderr)
    for info in listed:
        state = "active" if info.active else f"revoked {info.revoked_at:%Y-%m-%d}"
        used = f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never"
        scope = f"  (clients {','.join(info.clients)})" if info.clients else ""
        print(
            f"{info.id:>4}  {info.prefix}  {info.role:<8} {state:<18} used {used:<16}",
            info.name + scope,
        )
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from moatmetrics.appdb import audit

    if args.audit_action == "verify":
        report = audit.verify()
        if report.valid:
            print(
                f"audit log valid: {report.entries_checked} entries; head {report.head_seq}"
                f" {report.head_hash}"
            )
            return 0
        print(f"AUDIT LOG BROKEN at entry {report.first_broken_seq}: {report.reason}")
        return 1
    out = open(args.out, "w", newline="") if args.out else sys.stdout  # noqa: SIM115
    try:
        for lines in audit.export_lines(None, audit.AuditFilter(), args.format):
            out.write(lines)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="API keys: create, list, revoke")
    keys_sub = keys.add_subparsers(dest="keys_action", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (once)")
    create.add_argument("--name", required=True, help="who or what uses it, e.g. finance-bi")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--clients",
        help="client-scoped access: only these client ids, comma-separated (e.g. C1,C2);"
        " not with --role admin",
    )
    listing = keys_sub.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    revoke = keys_sub.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key", help="the key's id, prefix (mmk_...) or name")
    keys.set_defaults(func=cmd_keys)

    audit = sub.add_parser("audit", help="the audit log: verify the hash chain, export it")
    audit_sub = audit.add_subparsers(dest="audit_action", required=True)
    audit_sub.add_parser("verify", help="check every link; exit 1 at the first broken one")
    export = audit_sub.add_parser("export", help="every entry, in chain order")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--out", help="file to write (default: standard output)")
    audit.set_defaults(func=cmd_audit)
