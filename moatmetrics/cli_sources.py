"""`moatmetrics sources list|suggest` and the vendor-file flags of `moatmetrics ingest`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from moatmetrics.settings import ensure_home, get_settings


def add_ingest_flags(ingest: argparse.ArgumentParser) -> None:
    ingest.add_argument(
        "--source", help="the source profile to read the files with (skip detection)"
    )
    ingest.add_argument(
        "--as-of",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the date of a file that has none of its own (Microsoft 365 user export)",
    )
    ingest.add_argument("--client", help="the client a Microsoft 365 file belongs to (client_id)")
    ingest.add_argument(
        "--date-format",
        help="the files' date layout, e.g. %%m/%%d/%%Y for a US Xero organisation",
    )


def source_options(args: argparse.Namespace):
    from moatmetrics.sources.engine import SourceOptions

    return SourceOptions(
        source=args.source, as_of=args.as_of, client=args.client, date_format=args.date_format
    )


def cmd_sources(args: argparse.Namespace) -> int:
    from moatmetrics.sources.profiles import SHIPPED_DIR, ProfileError, load_profiles

    settings = get_settings()
    if args.action == "list":
        try:
            profiles = load_profiles(settings.home)
        except ProfileError as exc:
            print(f"moatmetrics: {exc}", file=sys.stderr)
            return 1
        for profile in sorted(profiles.values(), key=lambda p: p.name):
            where = "shipped" if profile.path.parent == SHIPPED_DIR else str(profile.path)
            print(
                f"{profile.name:34} v{profile.version}  {profile.entity:14} {profile.format:9}"
                f" {where}"
            )
        print(f"user profiles: {settings.home / 'sources'}")
        return 0
    return _suggest(args, settings)


def _suggest(args: argparse.Namespace, settings) -> int:
    from moatmetrics.contract.readers import StructuralError
    from moatmetrics.sources.suggest import suggest_profile

    if not args.file:
        print("moatmetrics: sources suggest needs a FILE", file=sys.stderr)
        return 2
    path = Path(args.file)
    if not path.is_file():
        print(f"moatmetrics: no such file: {path}", file=sys.stderr)
        return 1
    try:
        name, text = suggest_profile(path, args.entity)
    except StructuralError as exc:
        print(f"moatmetrics: {exc}", file=sys.stderr)
        return 1
    ensure_home(settings)
    out = Path(args.out) if args.out else settings.home / "sources" / "drafts" / f"{name}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)
    print(f"draft written to {out}")
    print(
        f"fill the gaps it flags, then move it to {settings.home / 'sources'}/{name}.yaml"
        " and ingest the file again"
    )
    return 0


def add_parsers(sub) -> None:
    sources = sub.add_parser("sources", help="source profiles of vendor exports")
    sources.add_argument("action", choices=["list", "suggest"])
    sources.add_argument("file", nargs="?", help="suggest: the export to write a profile for")
    sources.add_argument("--entity", help="suggest: the entity the file feeds")
    sources.add_argument("--out", help="suggest: where to write the draft")
    sources.set_defaults(func=cmd_sources)
