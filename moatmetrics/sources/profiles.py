"""Source profiles: YAML files shipped in ``shipped/`` here and in ``$MOATMETRICS_HOME/sources/``.

A profile is data, validated when it is loaded so that a mistake is reported with the file
and the key to fix instead of surfacing as a SQL error in the middle of an upload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from moatmetrics.contract.entities import ENTITIES
from moatmetrics.sources.expressions import ExpressionError, check_expression

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
FAMILIES = ("connectwise", "autotask", "halopsa", "xero", "qbo", "m365_domain", "m365_tenant")
FORMATS = ("csv", "json")
TRANSFORMS = ("text", "date", "local_date", "money", "pseudonym")
MONEY_LAYOUTS = ("plain", "formatted")


class ProfileError(ValueError):
    """A profile file is not usable; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Mapping:
    """How one contract column is filled: a source header, an expression or a constant."""

    column: str
    source: str | None = None  # a header of the file
    expr: str | None = None  # SQL with {Header} placeholders (see expressions.py)
    value: str | None = None  # a constant
    transform: str = "text"
    value_map: dict[str, str] = field(default_factory=dict)
    negate_when: str | None = None
    date_format: str | None = None
    header: str | None = None  # the file column problems are reported on (expressions)

    @property
    def reported_as(self) -> str | None:
        return self.source or self.header


@dataclass(frozen=True)
class Skip:
    when: str
    reason: str


@dataclass(frozen=True)
class Profile:
    name: str
    version: int
    entity: str
    format: str  # "csv", "json" or "json|csv"
    family: str | None
    description: str
    origin: str  # where the layout is documented
    signature: tuple[str, ...]
    mappings: tuple[Mapping, ...]
    path: Path
    header_row: int | str = 1  # a 1-based line, or "auto" (below a title block)
    discriminator: tuple[str, tuple[str, ...]] | None = None
    date_format: str | None = None
    money: str = "plain"
    skips: tuple[Skip, ...] = ()
    group_when: str | None = None
    group_value: str | None = None
    explode: tuple[str, str] | None = None  # (header, separator)
    drop: tuple[str, ...] = ()
    pseudonymise: tuple[str, ...] = ()
    truncation_rows: int | None = None
    as_of: str | None = None  # "file" when the file carries no date of its own

    @property
    def private(self) -> bool:
        """Files holding personal data: the original is never archived (docs/sources.md)."""
        return bool(self.pseudonymise)


def _fail(path: Path, message: str) -> ProfileError:
    return ProfileError(f"source profile {path}: {message}")


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _fail(path, f"'{key}' must be a non-empty list of header names")
    return tuple(value)


def _mapping(path: Path, column: str, spec: Any, entity: str) -> Mapping:
    known = {c for c in ENTITIES[entity].column_names}
    if column not in known:
        raise _fail(
            path,
            f"column '{column}' is not a column of the {entity} contract;"
            f" known: {', '.join(sorted(known))}",
        )
    if isinstance(spec, str):
        return Mapping(column, source=spec)
    if not isinstance(spec, dict):
        raise _fail(
            path, f"column '{column}': give a header name or a mapping with from/expr/value"
        )
    allowed = {"from", "expr", "value", "as", "map", "negate_when", "date_format", "header"}
    extra = set(spec) - allowed
    if extra:
        raise _fail(path, f"column '{column}': unknown key(s) {', '.join(sorted(extra))}")
    given = [k for k in ("from", "expr", "value") if k in spec]
    if len(given) != 1:
        raise _fail(path, f"column '{column}': give exactly one of from, expr or value")
    transform = spec.get("as", "text")
    if transform not in TRANSFORMS:
        raise _fail(path, f"column '{column}': 'as' must be one of {', '.join(TRANSFORMS)}")
    value_map = spec.get("map", {}) or {}
    if not isinstance(value_map, dict):
        raise _fail(path, f"column '{column}': 'map' must map source values to contract values")
    return Mapping(
        column,
        source=spec.get("from"),
        expr=spec.get("expr"),
        value=None if "value" not in spec else str(spec["value"]),
        transform=transform,
        value_map={str(k).strip().lower(): str(v) for k, v in value_map.items()},
        negate_when=spec.get("negate_when"),
        date_format=spec.get("date_format"),
        header=spec.get("header"),
    )


def parse_profile(path: Path) -> Profile:
    """Read and validate one profile file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(path, f"cannot be read as YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise _fail(path, "must be a YAML mapping with name, entity, format, signature, columns")
    for key in ("name", "version", "entity", "format", "signature", "columns"):
        if key not in doc:
            raise _fail(path, f"'{key}' is missing")
    entity = doc["entity"]
    if entity not in ENTITIES:
        raise _fail(path, f"entity '{entity}' is not one of {', '.join(ENTITIES)}")
    formats = doc["format"] if isinstance(doc["format"], list) else [doc["format"]]
    if not formats or any(f not in FORMATS for f in formats):
        raise _fail(path, f"format must be one of {', '.join(FORMATS)} (or a list of them)")
    family = doc.get("family")
    if family is not None and family not in FAMILIES:
        raise _fail(path, f"family '{family}' is not one of {', '.join(FAMILIES)}")
    if not isinstance(doc["version"], int):
        raise _fail(path, "'version' must be a whole number (raise it when the profile changes)")
    money = doc.get("money", "plain")
    if money not in MONEY_LAYOUTS:
        raise _fail(path, f"'money' must be one of {', '.join(MONEY_LAYOUTS)}")
    header_row = doc.get("header_row", 1)
    if header_row != "auto" and not (isinstance(header_row, int) and header_row >= 1):
        raise _fail(path, "'header_row' must be a line number (1 = first line) or 'auto'")
    columns = doc["columns"]
    if not isinstance(columns, dict) or not columns:
        raise _fail(path, "'columns' must map contract columns to source headers or expressions")
    discriminator = None
    if "discriminator" in doc:
        disc = doc["discriminator"]
        if not isinstance(disc, dict) or "column" not in disc or "values" not in disc:
            raise _fail(path, "'discriminator' needs 'column' and 'values'")
        discriminator = (disc["column"], _strings(path, "discriminator.values", disc["values"]))
    skips = []
    for index, skip in enumerate(doc.get("skip", []) or []):
        if not isinstance(skip, dict) or "when" not in skip or "reason" not in skip:
            raise _fail(path, f"skip rule {index + 1} needs 'when' and 'reason'")
        skips.append(Skip(str(skip["when"]), str(skip["reason"])))
    group = doc.get("group") or {}
    if group and ("when" not in group or "value" not in group):
        raise _fail(path, "'group' needs 'when' (a group row) and 'value' (what it names)")
    explode = None
    if "explode" in doc:
        ex = doc["explode"]
        if not isinstance(ex, dict) or "column" not in ex or "separator" not in ex:
            raise _fail(path, "'explode' needs 'column' and 'separator'")
        explode = (ex["column"], str(ex["separator"]))
    profile = Profile(
        name=str(doc["name"]),
        version=doc["version"],
        entity=entity,
        format="|".join(formats),
        family=family,
        description=str(doc.get("description", "")).strip(),
        origin=str(doc.get("origin", "")).strip(),
        signature=_strings(path, "signature", doc["signature"]),
        mappings=tuple(_mapping(path, c, s, entity) for c, s in columns.items()),
        path=path,
        header_row=header_row,
        discriminator=discriminator,
        date_format=doc.get("date_format"),
        money=money,
        skips=tuple(skips),
        group_when=group.get("when"),
        group_value=group.get("value"),
        explode=explode,
        drop=tuple(doc.get("drop", []) or []),
        pseudonymise=tuple(doc.get("pseudonymise", []) or []),
        truncation_rows=doc.get("truncation_rows"),
        as_of=doc.get("as_of"),
    )
    if profile.name != path.stem:
        raise _fail(path, f"name '{profile.name}' must equal the file name '{path.stem}'")
    check_profile_expressions(profile)
    return profile


def profile_dirs(home: Path | None) -> list[Path]:
    dirs = [SHIPPED_DIR]
    if home is not None:
        dirs.append(home / "sources")
    return dirs


@cache
def _parse_cached(path: Path, mtime: float) -> Profile:
    return parse_profile(path)


def load_profiles(home: Path | None) -> dict[str, Profile]:
    """Every profile by name; a user profile with a shipped profile's name replaces it."""
    profiles: dict[str, Profile] = {}
    for folder in profile_dirs(home):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.y*ml")):
            profile = _parse_cached(path, path.stat().st_mtime)
            profiles[profile.name] = profile
    return profiles


def check_profile_expressions(profile: Profile) -> None:
    """Every expression of a profile is in the allowed language (`sources.expressions`)."""
    exprs = [m.expr for m in profile.mappings if m.expr]
    exprs += [m.negate_when for m in profile.mappings if m.negate_when]
    exprs += [s.when for s in profile.skips]
    exprs += [e for e in (profile.group_when, profile.group_value) if e]
    for expr in exprs:
        try:
            check_expression(expr)
        except ExpressionError as exc:
            raise ProfileError(f"source profile {profile.path}: {exc}") from exc
