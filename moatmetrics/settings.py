"""Where MoatMetrics keeps its state, and the knobs a user may turn.

Everything lives under one folder, ``MOATMETRICS_HOME`` (default: ``.moatmetrics`` in the
checkout, git-ignored), so a whole installation can be backed up or wiped as one folder.
Settings are read from the environment each time they are asked for, so tests and the CLI
can point one process at several homes.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

from moatmetrics import TELEMETRY_OFF_ENV

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

WAREHOUSE_URL_ENV = "MOATMETRICS_WAREHOUSE_URL"
#: In PostgreSQL mode the pipeline's layers live in schemas `warehouse_raw`, `warehouse_marts`...
#: so that schema `marts` stays free for the stable views BI tools read (docs/warehouse.md).
PG_WAREHOUSE_SCHEMA_PREFIX = "warehouse_"


class SettingsError(ValueError):
    """A setting has a value MoatMetrics cannot use; the message says which and the fix."""


@dataclass(frozen=True)
class Settings:
    """Resolved paths and limits of one MoatMetrics installation."""

    home: Path
    reporting_currency: str
    max_rejected_share: Decimal
    max_upload_bytes: int
    # Governed API (app database, keys, limits); see docs/api.md.
    database_url: str | None = None
    # PostgreSQL mode (docs/operations.md): dbt, trust tables, snapshots and the API on it.
    warehouse_url: str | None = None
    rate_limit_per_minute: int = 600
    metrics_token: str | None = None
    run_on_upload: bool = True
    # Trust layer: rows with confidence below this enter the review queue (docs/trust.md).
    review_threshold: float = 0.7
    # Rendered mart pages kept per API process (immutable snapshots; api/page_cache.py).
    page_cache_mb: int = 64
    # DuckDB's memory budget in the pipeline (warehouse connection and dbt); past it DuckDB
    # spills to disk instead of growing (its default is 80 % of RAM). docs/benchmarks.md.
    duckdb_memory_limit: str = "3GB"
    # Snapshots kept after each publish (the newest N, the current one always); None keeps
    # every snapshot. A daily schedule otherwise adds a full copy of the marts every day.
    snapshot_keep: int | None = None
    # Hardening of the API (docs/security.md): refused anonymous requests allowed per client
    # address and minute (past it: 429, counted, not logged one by one; 0 = off), the proxies
    # whose X-Forwarded-For is believed (none by default), and where the installation's
    # signing key and the audit log's signed checkpoint live (outside the app database).
    anonymous_limit_per_minute: int = 60
    trusted_proxies: tuple[str, ...] = ()
    signing_key_file: Path | None = None
    audit_checkpoint_file: Path | None = None

    @property
    def signing_key_path(self) -> Path:
        """The installation's secret key (HMAC): never in the app database, mode 0600."""
        return self.signing_key_file or self.home / "secrets" / "signing.key"

    @property
    def audit_checkpoint_path(self) -> Path:
        """The newest signed checkpoint of the audit log's head (moatmetrics.appdb.checkpoints)."""
        return self.audit_checkpoint_file or self.home / "audit-checkpoint.json"

    @property
    def landing_dir(self) -> Path:
        """Drop exports here; `moatmetrics run` ingests whatever is new."""
        return self.home / "landing"

    @property
    def uploads_dir(self) -> Path:
        """Immutable archive of every accepted or rejected upload, named by SHA-256."""
        return self.home / "uploads"

    @property
    def quarantine_dir(self) -> Path:
        """Landing files that could not be read, moved aside with their reason."""
        return self.home / "quarantine"

    @property
    def warehouse_path(self) -> Path:
        """The pipeline's DuckDB warehouse: one writer (the pipeline), no outside readers."""
        return self.home / "warehouse.duckdb"

    @property
    def snapshots_dir(self) -> Path:
        """Published, never-modified DuckDB files of the marts plus the `current` pointer."""
        return self.home / "snapshots"

    @property
    def reports_dir(self) -> Path:
        """Rejected-rows reports as CSV, one per upload with problems."""
        return self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def app_database_url(self) -> str:
        """API keys, uploads, reviews and the audit log: SQLite in the home unless a URL is set."""
        return self.database_url or self.warehouse_url or f"sqlite:///{self.home / 'app.db'}"

    @property
    def postgres_mode(self) -> bool:
        """True when MOATMETRICS_WAREHOUSE_URL names a PostgreSQL warehouse."""
        return self.warehouse_url is not None


def default_home() -> Path:
    return REPO_ROOT / ".moatmetrics"


def get_settings() -> Settings:
    """Read the settings from the environment (cheap; call it where needed)."""
    home = Path(os.environ.get("MOATMETRICS_HOME") or default_home()).expanduser().resolve()
    return Settings(
        home=home,
        reporting_currency=os.environ.get("MOATMETRICS_REPORTING_CURRENCY", "USD").upper(),
        max_rejected_share=Decimal(os.environ.get("MOATMETRICS_MAX_REJECTED_SHARE", "0.01")),
        max_upload_bytes=int(os.environ.get("MOATMETRICS_MAX_UPLOAD_BYTES", str(512 * 2**20))),
        database_url=os.environ.get("MOATMETRICS_DATABASE_URL") or None,
        warehouse_url=warehouse_url_from_env(),
        rate_limit_per_minute=int(os.environ.get("MOATMETRICS_RATE_LIMIT_PER_MINUTE", "600")),
        metrics_token=os.environ.get("MOATMETRICS_METRICS_TOKEN") or None,
        run_on_upload=os.environ.get("MOATMETRICS_RUN_ON_UPLOAD", "1").strip().lower()
        not in ("0", "false", "no", "off"),
        review_threshold=_fraction("MOATMETRICS_REVIEW_THRESHOLD", 0.7),
        page_cache_mb=int(os.environ.get("MOATMETRICS_PAGE_CACHE_MB", "64")),
        duckdb_memory_limit=os.environ.get("MOATMETRICS_DUCKDB_MEMORY_LIMIT", "").strip() or "3GB",
        snapshot_keep=snapshot_keep_from_env(),
        anonymous_limit_per_minute=int(
            os.environ.get("MOATMETRICS_ANONYMOUS_LIMIT_PER_MINUTE", "60")
        ),
        trusted_proxies=trusted_proxies_from_env(),
        signing_key_file=_path_from_env("MOATMETRICS_SIGNING_KEY_FILE"),
        audit_checkpoint_file=_path_from_env("MOATMETRICS_AUDIT_CHECKPOINT_FILE"),
    )


def _path_from_env(name: str) -> Path | None:
    text = os.environ.get(name, "").strip()
    return Path(text).expanduser().resolve() if text else None


def trusted_proxies_from_env() -> tuple[str, ...]:
    """MOATMETRICS_TRUSTED_PROXIES: addresses or networks (comma-separated) of reverse proxies.

    Only a request arriving from one of them may name the client in X-Forwarded-For; by
    default none may, so no local process can put another address in the audit log.
    """
    text = os.environ.get("MOATMETRICS_TRUSTED_PROXIES", "")
    proxies = tuple(part.strip() for part in text.split(",") if part.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(
                f"MOATMETRICS_TRUSTED_PROXIES: {proxy!r} is not an IP address or network; use"
                " e.g. 127.0.0.1 or 10.0.0.0/24 (comma-separated), or leave it unset"
            ) from None
    return proxies


def mask_password(url: str) -> str:
    """The URL with its password replaced by `***`, for messages and logs."""
    return re.sub(r"^([a-z0-9+]+://[^:/@]*:)[^@]*@", r"\1***@", url, flags=re.IGNORECASE)


def warehouse_url_from_env() -> str | None:
    """MOATMETRICS_WAREHOUSE_URL, checked: unset (or empty) means the embedded DuckDB."""
    url = os.environ.get(WAREHOUSE_URL_ENV, "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.lower().split("+")[0]
    if scheme not in ("postgresql", "postgres"):
        raise SettingsError(
            f"{WAREHOUSE_URL_ENV}={mask_password(url)!r} is not a PostgreSQL URL; use"
            " postgresql://user@host:5432/database (or unset it for the embedded DuckDB)"
        )
    if not parts.path.strip("/"):
        raise SettingsError(
            f"{WAREHOUSE_URL_ENV}={mask_password(url)!r} names no database; use"
            " postgresql://user@host:5432/database"
        )
    return url


def postgres_env(url: str) -> dict[str, str]:
    """The MOATMETRICS_PG_* variables dbt's `postgres` target reads, taken from a URL."""
    parts = urlsplit(url)
    env = {
        "MOATMETRICS_PG_HOST": parts.hostname or "127.0.0.1",
        "MOATMETRICS_PG_PORT": str(parts.port or 5432),
        "MOATMETRICS_PG_DBNAME": unquote(parts.path.lstrip("/")),
    }
    # libpq's default user is the operating-system user; dbt's profile must say the same.
    env["MOATMETRICS_PG_USER"] = unquote(parts.username) if parts.username else getpass.getuser()
    if parts.password:
        env["MOATMETRICS_PG_PASSWORD"] = unquote(parts.password)
    return env


def snapshot_keep_from_env() -> int | None:
    """MOATMETRICS_SNAPSHOT_KEEP: a whole number of snapshots, at least 1; unset keeps all."""
    text = os.environ.get("MOATMETRICS_SNAPSHOT_KEEP", "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise SettingsError(
            f"MOATMETRICS_SNAPSHOT_KEEP={text!r} must be a whole number of snapshots, at least 1"
            " (for example 30); leave it unset to keep every snapshot"
        )
    return int(text)


def _fraction(name: str, default: float) -> float:
    """A setting in [0, 1]; a typo must fail loudly, not silently flag every row (or none)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number; use a fraction such as 0.7") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={text!r} must be between 0 and 1")
    return value


def ensure_home(settings: Settings) -> None:
    """Create the folders of a home and the Dagster instance config (telemetry off)."""
    for folder in (
        settings.home,
        settings.landing_dir,
        settings.uploads_dir,
        settings.snapshots_dir,
        settings.reports_dir,
        settings.dagster_home,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    dagster_yaml = settings.dagster_home / "dagster.yaml"
    shipped = REPO_ROOT / "dagster.yaml"
    if not dagster_yaml.exists() or dagster_yaml.read_text() != shipped.read_text():
        dagster_yaml.write_text(shipped.read_text())


def apply_process_environment(settings: Settings | None = None) -> None:
    """Set telemetry switches and the paths dbt and Dagster read from the environment."""
    for key, value in TELEMETRY_OFF_ENV.items():
        os.environ[key] = value
    settings = settings or get_settings()
    os.environ["MOATMETRICS_HOME"] = str(settings.home)
    os.environ["MOATMETRICS_WAREHOUSE_PATH"] = str(settings.warehouse_path)
    os.environ["MOATMETRICS_DUCKDB_MEMORY_LIMIT"] = settings.duckdb_memory_limit
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    if settings.warehouse_url:  # dbt's `postgres` target, connection taken from the URL
        os.environ.update(postgres_env(settings.warehouse_url))
        os.environ["MOATMETRICS_DBT_TARGET"] = "postgres"
        os.environ["MOATMETRICS_DBT_SCHEMA_PREFIX"] = PG_WAREHOUSE_SCHEMA_PREFIX
    else:
        os.environ.pop("MOATMETRICS_DBT_TARGET", None)
        os.environ.pop("MOATMETRICS_DBT_SCHEMA_PREFIX", None)
