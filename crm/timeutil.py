"""Time helpers: stored in UTC (naive, portable across SQLite and PostgreSQL), shown in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def utcnow() -> datetime:
    """Now in UTC, without tzinfo (the form every timestamp column stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


def local_tz() -> ZoneInfo:
    name = current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai") if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def to_local(value: datetime | None) -> datetime | None:
    """A stored UTC timestamp as local wall-clock time."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(local_tz())


def local_to_utc(value: datetime) -> datetime:
    """A local wall-clock time (e.g. from a filter form) as stored UTC."""
    return value.replace(tzinfo=local_tz()).astimezone(UTC).replace(tzinfo=None)


def today_local() -> date:
    """Today in the bank's time zone (Asia/Shanghai): from 16:00 UTC on, already tomorrow's date."""
    return to_local(utcnow()).date()
