"""Staff accounts and their server-side sessions."""

from __future__ import annotations

from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.org import Branch, Outlet
from crm.roles import POST_BY_CODE, grade_label, post_label, probation_end
from crm.timeutil import utcnow


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    # the login is the 身份证号码 for outlet staff, or a staff number.
    login: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20))
    staff_no: Mapped[str | None] = mapped_column(String(20))
    post: Mapped[str] = mapped_column(String(30), index=True)
    grade: Mapped[str | None] = mapped_column(String(20))
    grade_effective_from: Mapped[date | None] = mapped_column(Date)
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlet.id"), index=True)
    # For branch staff: their node; for outlet staff: the outlet's 支行 (kept in step by the service).
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    last_login_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    # Optional second factor (TOTP, crm/auth/totp.py): the base32 secret once confirmed, and the last time step
    # accepted (a code is good once).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)

    outlet: Mapped[Outlet | None] = relationship(foreign_keys=[outlet_id])
    branch: Mapped[Branch | None] = relationship(foreign_keys=[branch_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive users
        return bool(self.active)

    @property
    def is_admin(self) -> bool:
        return self.post == "admin"

    @property
    def scope(self) -> str:
        post = POST_BY_CODE.get(self.post)
        return post.scope if post else "none"

    @property
    def post_label(self) -> str:
        return post_label(self.post)

    @property
    def grade_label(self) -> str:
        return grade_label(self.grade)

    @property
    def probation_end(self) -> date | None:
        return probation_end(self.grade, self.grade_effective_from)

    @property
    def root_branch_id(self) -> int | None:
        """The 分行 whose plugin settings apply to this user (None for the system administrator)."""
        if self.outlet is not None:
            return self.outlet.root_branch_id
        if self.branch is not None:
            return self.branch.root_id
        return None

    def __repr__(self) -> str:
        return f"<User {self.login} {self.post}>"


class UserSession(db.Model):
    """A server-side login session: the cookie carries only its random token, so the server can end it."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    end_reason: Mapped[str | None] = mapped_column(String(30))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
