"""Passwords, one-time passwords, and server-side sessions that the server can end."""

from __future__ import annotations

import secrets
import string
from datetime import timedelta
from functools import cache

from flask import current_app, session
from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.orm import contains_eager
from werkzeug.security import check_password_hash, generate_password_hash

from crm import audit
from crm.extensions import db
from crm.models import User, UserSession
from crm.timeutil import utcnow

# Passwords anyone would try first (the source's 111111 among them, spec R-01).
COMMON_PASSWORDS = frozenset({
    "111111", "123456", "12345678", "123456789", "1234567890", "00000000", "11111111", "88888888",
    "66666666", "password", "password1", "passw0rd", "qwerty123", "abc12345", "abcd1234", "a1234567",
    "admin123", "admin888", "1qaz2wsx", "qwertyui", "iloveyou", "woaini1314", "5201314a",
})
MIN_LENGTH = 8
# Letters and digits without look-alikes (0/O, 1/l/I), so a one-time password read off a screen is typed right.
OTP_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def password_problems(password: str, login: str, name: str | None = None) -> list[str]:
    """Why a new password is too weak (empty list: acceptable). Messages are shown to the user."""
    problems = []
    low = password.lower()
    if len(password) < MIN_LENGTH:
        problems.append(_("密码至少需要 %(n)d 位", n=MIN_LENGTH))
    if low in COMMON_PASSWORDS or len(set(password)) <= 2:
        problems.append(_("密码过于简单（如 111111、123456），请换一个"))
    if login and (low == login.lower() or login.lower() in low or (len(login) >= 6 and low in login.lower())):
        problems.append(_("密码不能与登录名相同或包含登录名"))
    if not any(c.isdigit() for c in password) or not any(c.isalpha() for c in password):
        problems.append(_("密码需同时包含字母和数字"))
    if _is_sequence(password):
        problems.append(_("密码不能是连续或重复的字符"))
    return problems


def _is_sequence(password: str) -> bool:
    if len(password) < 4:
        return False
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:], strict=False)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["CRM_PASSWORD_HASH"])


def verify_password(user: User | None, password: str) -> bool:
    if user is None:
        # Same work as a real check, so an unknown login is not faster than a wrong password.
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(user.password_hash, password)


def _dummy_hash() -> str:
    cache = current_app.extensions.setdefault("crm_dummy_hash", {})
    method = current_app.config["CRM_PASSWORD_HASH"]
    if method not in cache:
        cache[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return cache[method]


def one_time_password() -> str:
    """A random 12-character password shown once to the creator; the user must change it at first login."""
    while True:
        candidate = "".join(secrets.choice(OTP_ALPHABET) for _ in range(12))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


def set_password(user: User, password: str, *, must_change: bool) -> None:
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    user.password_changed_at = utcnow()


def normalise_login(login: str) -> str:
    login = (login or "").strip()
    if len(login) == 18 and login[:17].isdigit():
        login = login.upper()  # 身份证 check digit x/X
    return login


def find_user(login: str) -> User | None:
    login = normalise_login(login)
    if not login:
        return None
    return db.session.execute(select(User).where(User.login == login)).scalar_one_or_none()


# ---------------------------------------------------------------- sessions

def start_session(user: User, ip: str, user_agent: str) -> UserSession:
    """New random session token at every login: a token planted before login is worthless (no fixation)."""
    session.clear()
    # Ended sessions are kept 90 days for security review, then dropped, so the table does not grow forever.
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at < utcnow() - timedelta(days=90)))
    token = secrets.token_urlsafe(32)
    row = UserSession(token=token, user_id=user.id, ip=ip, user_agent=(user_agent or "")[:200])
    db.session.add(row)
    session["sid"] = token
    session.permanent = True
    return row


def session_limits() -> tuple[timedelta, timedelta]:
    cfg = current_app.config
    return timedelta(minutes=cfg["CRM_IDLE_TIMEOUT_MINUTES"]), timedelta(hours=cfg["CRM_SESSION_MAX_HOURS"])


@cache
def _session_query() -> Select:
    """One query for the session, its user, and the user's outlet and branch (needed on every page). Built once:
    constructing it and its cache key cost more than running it, and it runs before every page."""
    return (select(UserSession.id, UserSession.user_id, UserSession.created_at, UserSession.last_seen_at,
                   UserSession.ended_at, User)
            .join(User, User.id == UserSession.user_id)
            .outerjoin(User.outlet).outerjoin(User.branch)
            .options(contains_eager(User.outlet), contains_eager(User.branch))
            .where(UserSession.token == bindparam("token")))


def load_session_user(user_id: str) -> User | None:
    """flask-login's user loader: the cookie's token must name a live session of that user."""
    token = session.get("sid")
    if not token:
        return None
    found = db.session.execute(_session_query(), {"token": token}).first()
    if found is None:
        return None
    row, user = found, found.User
    if row.ended_at is not None or str(row.user_id) != str(user_id):
        return None
    now = utcnow()
    idle, absolute = session_limits()
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        # One row per expired session: of two requests racing on the same cookie, only the one that ends it writes.
        if end_sessions(row.user_id, "timeout", only_token=token):
            audit.record("auth.session_expired", actor=user, target=("user", user.id),
                         detail={"reason": "idle" if now - row.last_seen_at > idle else "absolute"})
        db.session.commit()
        session["expired"] = True
        return None
    if not user.active:
        return None
    if now - row.last_seen_at > timedelta(seconds=60):  # touch at most once a minute: no write per request
        db.session.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
        db.session.commit()
    return user


def end_sessions(user_id: int, reason: str, *, only_token: str | None = None, except_token: str | None = None) -> int:
    """End a user's live sessions server-side: the old cookies stop working at once."""
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if only_token:
        stmt = stmt.where(UserSession.token == only_token)
    if except_token:
        stmt = stmt.where(UserSession.token != except_token)
    result = db.session.execute(
        stmt.values(ended_at=utcnow(), end_reason=reason, version=UserSession.version + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
