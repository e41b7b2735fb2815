"""Where MoatMetrics keeps its state, and the knobs a user may turn.

Everything lives under one folder, ``MOATMETRICS_HOME`` (default: ``.moatmetrics`` in the
folder MoatMetrics is started from; git-ignored in the checkout), so a whole installation can
be backed up or wiped as one folder.
Settings are read from the environment each time they are asked for, so tests and the CLI
can point one process at several homes.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

from moatmetrics import TELEMETRY_OFF_ENV

# The files the code runs with ship inside the package, so an installed MoatMetrics (a wheel
# in site-packages) finds them where the code is, whatever the working directory. In the
# checkout `dbt_project` and `quality/expectations` are links to its top level.
PACKAGE_DIR = Path(__file__).resolve().parent
DBT_PROJECT_DIR = PACKAGE_DIR / "dbt_project"
EXPECTATIONS_DIR = PACKAGE_DIR / "quality" / "expectations"
#: Dagster's instance configuration, copied into each home's `dagster/` folder.
DAGSTER_INSTANCE_YAML = PACKAGE_DIR / "dagster.yaml"

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
    # Insights: the gross margin the action list reprices clients to (docs/metrics.md#martsactions).
    target_margin: float = 0.4
    # Insights: the overtime premium (0.5 = time and a half) a rebalanced hour stops costing.
    overtime_premium: float = 0.5
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
    # The MSP as its clients know it, printed on the client version of the QBR report
    # (docs/reports.md): a name, and a local PNG, JPEG or SVG logo (checked when read).
    company_name: str | None = None
    company_logo: Path | None = None
    # Single sign-on to the web console (docs/security.md, "Single sign-on"): the OpenID
    # provider's issuer URL, this installation's client id there, the file holding its client
    # secret (read when needed, never logged), the scopes asked for, the ID-token claim that
    # carries groups (a dotted path such as realm_access.roles), and groups -> roles.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret_file: Path | None = None
    oidc_scopes: str = "openid email profile"
    oidc_role_claim: str = "groups"
    oidc_group_roles: tuple[tuple[str, str], ...] = ()
    # Client-scoped access for single sign-on: groups -> the only clients their members see.
    oidc_group_clients: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Encryption at rest (docs/security.md): the key file that locks the warehouse, the
    # snapshots and the upload archive (None: off), and DuckDB's crypto module for writing
    # them: `auto` (OpenSSL from its httpfs extension when installed, else its built-in module,
    # with a warning), `openssl` (refuse without httpfs) or `mbedtls-unsafe` (built-in always).
    encryption_key_file: Path | None = None
    duckdb_crypto: str = "auto"

    @property
    def oidc_enabled(self) -> bool:
        """Single sign-on is offered once an issuer and a client id are set."""
        return bool(self.oidc_issuer and self.oidc_client_id)

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
    def dbt_target_dir(self) -> Path:
        """dbt's target folder for this home's builds: one per home, reused run after run, so
        dbt parses the project partially (only what changed) instead of in full each run,
        and a run leaves one folder's worth of compiled SQL and results, not one per run."""
        return self.home / "dbt-target"

    @property
    def app_database_url(self) -> str:
        """API keys, uploads, reviews and the audit log: SQLite in the home unless a URL is set."""
        return self.database_url or self.warehouse_url or f"sqlite:///{self.home / 'app.db'}"


def default_home() -> Path:
    return Path.cwd() / ".moatmetrics"


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
        target_margin=_fraction("MOATMETRICS_TARGET_MARGIN", 0.4),
        overtime_premium=_fraction("MOATMETRICS_OVERTIME_PREMIUM", 0.5),
        page_cache_mb=int(os.environ.get("MOATMETRICS_PAGE_CACHE_MB", "64")),
        duckdb_memory_limit=os.environ.get("MOATMETRICS_DUCKDB_MEMORY_LIMIT", "").strip() or "3GB",
        snapshot_keep=snapshot_keep_from_env(),
        anonymous_limit_per_minute=int(
            os.environ.get("MOATMETRICS_ANONYMOUS_LIMIT_PER_MINUTE", "60")
        ),
        trusted_proxies=trusted_proxies_from_env(),
        signing_key_file=_path_from_env("MOATMETRICS_SIGNING_KEY_FILE"),
        encryption_key_file=_path_from_env("MOATMETRICS_ENCRYPTION_KEY_FILE"),
        duckdb_crypto=duckdb_crypto_from_env(),
        audit_checkpoint_file=_path_from_env("MOATMETRICS_AUDIT_CHECKPOINT_FILE"),
        company_name=company_name_from_env(),
        company_logo=company_logo_from_env(),
        oidc_issuer=os.environ.get("MOATMETRICS_OIDC_ISSUER", "").strip() or None,
        oidc_client_id=os.environ.get("MOATMETRICS_OIDC_CLIENT_ID", "").strip() or None,
        oidc_client_secret_file=_path_from_env("MOATMETRICS_OIDC_CLIENT_SECRET_FILE"),
        oidc_scopes=os.environ.get("MOATMETRICS_OIDC_SCOPES", "").strip() or "openid email profile",
        oidc_role_claim=os.environ.get("MOATMETRICS_OIDC_ROLE_CLAIM", "").strip() or "groups",
        oidc_group_roles=group_roles_from_env(),
        oidc_group_clients=group_clients_from_env(),
    )


OIDC_ROLES = ("viewer", "analyst", "admin")


def group_roles_from_env() -> tuple[tuple[str, str], ...]:
    """MOATMETRICS_OIDC_GROUP_ROLES: `group=role` pairs, comma-separated, e.g.
    `msp-admins=admin,msp-analysts=analyst`. A typo must fail at startup, not lock people out
    (or let them in) silently."""
    text = os.environ.get("MOATMETRICS_OIDC_GROUP_ROLES", "")
    pairs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        group, sep, role = (x.strip() for x in part.rpartition("="))
        if not sep or not group or role not in OIDC_ROLES:
            raise SettingsError(
                f"MOATMETRICS_OIDC_GROUP_ROLES: {part!r} is not group=role with a role of"
                f" {', '.join(OIDC_ROLES)}; use e.g. msp-admins=admin,msp-viewers=viewer"
            )
        pairs.append((group, role))
    return tuple(pairs)


def group_clients_from_env() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """MOATMETRICS_OIDC_GROUP_CLIENTS: `group=C1,C2` mappings separated by `;`, e.g.
    `acme-staff=C1,C2;globex-finance=C7`. A member of such a group sees only those clients
    (client-scoped access, docs/security.md). A malformed entry fails at startup."""
    text = os.environ.get("MOATMETRICS_OIDC_GROUP_CLIENTS", "")
    pairs = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        group, sep, listed = (x.strip() for x in part.partition("="))
        clients = tuple(sorted({c.strip() for c in listed.split(",") if c.strip()}))
        if not sep or not group or not clients:
            raise SettingsError(
                f"MOATMETRICS_OIDC_GROUP_CLIENTS: {part!r} is not group=client ids; use e.g."
                " acme-staff=C1,C2;globex-finance=C7"
            )
        pairs.append((group, clients))
    return tuple(pairs)


def duckdb_crypto_from_env() -> str:
    """MOATMETRICS_DUCKDB_CRYPTO: `auto` (the default), `openssl` or `mbedtls-unsafe`."""
    text = os.environ.get("MOATMETRICS_DUCKDB_CRYPTO", "").strip().lower() or "auto"
    if text not in ("auto", "openssl", "mbedtls-unsafe"):
        raise SettingsError(
            f"MOATMETRICS_DUCKDB_CRYPTO={text!r}: use `auto` (OpenSSL from DuckDB's httpfs"
            " extension when installed, else DuckDB's built-in module), `openssl` or"
            " `mbedtls-unsafe`"
        )
    return text


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


COMPANY_NAME_ENV = "MOATMETRICS_COMPANY_NAME"
COMPANY_LOGO_ENV = "MOATMETRICS_COMPANY_LOGO"
#: A logo is printed a few centimetres wide; a larger file is a photo or the wrong file.
MAX_LOGO_BYTES = 2 * 2**20
COMPANY_NAME_MAX_CHARS = 120
#: What a logo file starts with, by kind. SVG is recognised only to say what to do with it:
#: drawing it would need an SVG renderer the reports do not ship.
_LOGO_SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}


def company_name_from_env() -> str | None:
    """MOATMETRICS_COMPANY_NAME: the MSP's name on client reports; unset prints none."""
    name = " ".join(os.environ.get(COMPANY_NAME_ENV, "").split())
    if len(name) > COMPANY_NAME_MAX_CHARS:
        raise SettingsError(
            f"{COMPANY_NAME_ENV} is {len(name)} characters long; a report header holds at most"
            f" {COMPANY_NAME_MAX_CHARS}: use the short trading name"
        )
    return name or None


def company_logo_from_env() -> Path | None:
    """MOATMETRICS_COMPANY_LOGO: a local logo file, checked now so a typo fails at startup."""
    path = _path_from_env(COMPANY_LOGO_ENV)
    if path is not None:
        read_logo(path, head_only=True)  # settings are read often: the first bytes say enough
    return path


class LogoError(SettingsError):
    """MOATMETRICS_COMPANY_LOGO names a file reports cannot print. `reason` says what is wrong
    without the path (for API answers, which never show server paths)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{COMPANY_LOGO_ENV}={str(path)!r}: {reason}")
        self.reason = reason


def read_logo(path: Path, head_only: bool = False) -> bytes:
    """The logo's bytes (PNG or JPEG; only the first 4 KiB with `head_only`), or a LogoError
    saying what is wrong with the file and how to fix it. Reports call it again when they
    print the logo: the file may have changed since the settings were read."""
    if not path.exists():
        raise LogoError(path, "no such file; point it at a PNG or JPEG logo file on this"
                        " machine, or unset it")  # fmt: skip
    if not path.is_file():
        raise LogoError(path, "not a file; point it at a PNG or JPEG logo file")
    size = path.stat().st_size
    if size > MAX_LOGO_BYTES:
        raise LogoError(path, f"the file is {size:,} bytes, a logo may be at most"
                        f" {MAX_LOGO_BYTES:,}; export it smaller (a few hundred pixels wide"
                        " is plenty for a report)")  # fmt: skip
    try:
        with path.open("rb") as file:
            data = file.read(4096 if head_only else -1)
    except OSError as exc:
        raise LogoError(path, f"the file cannot be read ({exc.strerror}); let the user"
                        " running MoatMetrics read it") from None  # fmt: skip
    if any(data.startswith(signature) for signature in _LOGO_SIGNATURES.values()):
        return data
    if b"<svg" in data[:4096]:
        raise LogoError(path, "an SVG image; reports print PNG or JPEG logos: export the logo"
                        " as PNG (a few hundred pixels wide)")  # fmt: skip
    raise LogoError(path, "not a PNG or JPEG image (by its content); save the logo as PNG"
                    " or JPEG")  # fmt: skip


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
    shipped = DAGSTER_INSTANCE_YAML
    if not dagster_yaml.exists() or dagster_yaml.read_text() != shipped.read_text():
        dagster_yaml.write_text(shipped.read_text())


@contextmanager
def process_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set `values` in this process's environment for the block, then put back what was
    there: dbt, run in-process, reads its variables (`env_var()`) from the environment."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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
        os.environ.pop("MOATMETRICS_DBT_SCHEMA_PREFIX", None)
        # dbt's `duckdb` target attaches the warehouse with its key when encryption is on.
        os.environ.pop("MOATMETRICS_DBT_TARGET", None)
