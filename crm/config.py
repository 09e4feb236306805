"""Settings: defaults, each overridable by a CRM_* environment variable."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Each setting: environment variable, Flask config key, type, default, description (shown in README and `crm check`).
# Defaults are for the embedded SQLite setup; production overrides them through the environment.


@dataclass(frozen=True)
class Setting:
    env: str
    key: str
    kind: type
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("CRM_ENV", "CRM_ENV", str, "production",
            "production | development | demo. Only development and demo may run without CRM_SECRET_KEY."),
    Setting("CRM_SECRET_KEY", "SECRET_KEY", str, None,
            "Signs session cookies and CSRF tokens. Required in production; the app refuses to start without it."),
    Setting("CRM_DATABASE_URL", "SQLALCHEMY_DATABASE_URI", str, None,
            "SQLAlchemy URL. Default: SQLite file instance/crm.sqlite3. "
            "PostgreSQL: postgresql+psycopg://user@host/db."),
    Setting("CRM_REDIS_URL", "CRM_REDIS_URL", str, None,
            "Redis URL for login rate-limit counters shared by all workers (redis://127.0.0.1:6379/0). "
            "Unset: counters live in each process's memory."),
    Setting("CRM_PLUGINS", "CRM_PLUGINS", str, None,
            "Comma-separated plugin modules to install. Default: every built-in plugin under plugins/."),
    Setting("CRM_IDLE_TIMEOUT_MINUTES", "CRM_IDLE_TIMEOUT_MINUTES", int, 30,
            "A session unused for this long ends; the user logs in again."),
    Setting("CRM_SESSION_MAX_HOURS", "CRM_SESSION_MAX_HOURS", int, 12,
            "Absolute session lifetime, however active the user is."),
    Setting("CRM_LOGIN_LIMIT_ACCOUNT", "CRM_LOGIN_LIMIT_ACCOUNT", str, "5 per 15 minutes",
            "Failed logins allowed per account before further attempts answer 429."),
    Setting("CRM_LOGIN_LIMIT_IP", "CRM_LOGIN_LIMIT_IP", str, "30 per 15 minutes",
            "Failed logins allowed per client IP before further attempts answer 429."),
    Setting("CRM_PASSWORD_HASH", "CRM_PASSWORD_HASH", str, "scrypt",
            "Werkzeug password-hash method (scrypt by default)."),
    Setting("CRM_COOKIE_SECURE", "SESSION_COOKIE_SECURE", bool, None,
            "Send the session cookie over HTTPS only. Default: on in production, off in development/demo."),
    Setting("CRM_TRUSTED_PROXIES", "CRM_TRUSTED_PROXIES", int, 0,
            "Number of reverse proxies in front of the app (X-Forwarded-For hops to trust for the client IP)."),
    Setting("CRM_DEFAULT_LOCALE", "BABEL_DEFAULT_LOCALE", str, "zh_Hans_CN",
            "UI language when the user has not chosen one: zh_Hans_CN or en."),
    Setting("CRM_TIMEZONE", "BABEL_DEFAULT_TIMEZONE", str, "Asia/Shanghai",
            "Times are stored in UTC and shown in this zone."),
    Setting("CRM_AUDIT_KEY", "CRM_AUDIT_KEY", str, None,
            "Key of the audit hash chain (`crm audit verify`). Default: derived from CRM_SECRET_KEY. Set it so the "
            "secret key can be rotated; a comma-separated list verifies older seals too (the first one seals)."),
    Setting("CRM_AUDIT_SEAL_DELAY_SECONDS", "CRM_AUDIT_SEAL_DELAY_SECONDS", int, 120,
            "Audit rows are sealed into the hash chain only when older than this, so a transaction still in flight "
            "cannot commit a row below the sealed head. Keep it above the longest request or job."),
    Setting("CRM_AUDIT_SEAL_INTERVAL_MINUTES", "CRM_AUDIT_SEAL_INTERVAL_MINUTES", int, 10,
            "Each app process seals new audit rows in the background at most this often (0: only the timer "
            "running `crm audit seal`)."),
    Setting("CRM_AUDIT_RETENTION_MONTHS", "CRM_AUDIT_RETENTION_MONTHS", int, 6,
            "How long audit rows are kept (at least 6; the application never deletes them). Less refuses to start."),
)

ENVIRONMENTS = ("production", "development", "demo")


class ConfigError(RuntimeError):
    """The configuration cannot run safely (e.g. no secret key in production)."""


def _parse(setting: Setting, raw: str) -> Any:
    if setting.kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if setting.kind is int:
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.env} must be a whole number, got {raw!r}") from exc
    return raw


def load(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config: defaults, then CRM_* environment variables, then explicit overrides."""
    cfg: dict[str, Any] = {s.key: s.default for s in SETTINGS}
    for s in SETTINGS:
        raw = os.environ.get(s.env)
        if raw not in (None, ""):
            cfg[s.key] = _parse(s, raw)
    cfg.update(overrides or {})

    env = cfg["CRM_ENV"]
    if env not in ENVIRONMENTS:
        raise ConfigError(f"CRM_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    testing = bool(cfg.get("TESTING"))

    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        cfg["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(instance_path, "crm.sqlite3")
    url = cfg["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        url = cfg["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + url[len("postgresql://"):]

    if not cfg.get("SECRET_KEY"):
        if env == "production" and not testing:
            raise ConfigError(
                "CRM_SECRET_KEY is not set. Refusing to start in production without a secret key: "
                "generate one with  python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        cfg["SECRET_KEY"] = _instance_secret(instance_path) if not testing else secrets.token_hex(32)
    elif len(cfg["SECRET_KEY"]) < 16 and env == "production":
        raise ConfigError("CRM_SECRET_KEY is too short: use at least 32 random characters.")

    if int(cfg["CRM_AUDIT_RETENTION_MONTHS"]) < 6:
        raise ConfigError("CRM_AUDIT_RETENTION_MONTHS must be at least 6 (JR/T 0171-2020 audit retention), "
                          f"got {cfg['CRM_AUDIT_RETENTION_MONTHS']}")

    if cfg.get("SESSION_COOKIE_SECURE") is None:
        cfg["SESSION_COOKIE_SECURE"] = env == "production" and not testing

    # A server database can drop idle connections (restart, failover): ping before use. An embedded SQLite
    # file cannot, and the ping would cost every request.
    cfg.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {} if url.startswith("sqlite") else {"pool_pre_ping": True})
    cfg.setdefault("SESSION_COOKIE_HTTPONLY", True)
    cfg.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    cfg.setdefault("SESSION_COOKIE_NAME", "crm_session")
    # Idle and absolute timeouts are enforced server-side (user_session), so the cookie need not be re-signed
    # on every request.
    cfg.setdefault("SESSION_REFRESH_EACH_REQUEST", False)
    cfg.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session, which has its own timeouts
    cfg.setdefault("WTF_CSRF_HEADERS", ["X-CSRFToken"])
    cfg.setdefault("BABEL_TRANSLATION_DIRECTORIES", os.path.join(os.path.dirname(__file__), "translations"))
    cfg.setdefault("RATELIMIT_STORAGE_URI", cfg.get("CRM_REDIS_URL") or "memory://")
    cfg.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    cfg.setdefault("RATELIMIT_STRATEGY", "moving-window")
    cfg.setdefault("MAX_CONTENT_LENGTH", 32 * 1024 * 1024)
    return cfg


def _instance_secret(instance_path: str) -> str:
    """Development/demo only: a random key kept in the instance folder so sessions survive a restart."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
