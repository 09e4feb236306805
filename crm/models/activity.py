"""Customer contacts (visits, calls, follow-ups) and the daily 2511 / 511 activity logs (spec §2.4, R-35, R-36)."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.customers import Customer
from crm.models.users import User
from crm.timeutil import utcnow

ACTIVITY_KINDS = {"visit": _l("上门走访"), "call": _l("电话联系"), "meeting": _l("到店面谈"), "message": _l("微信/短信"),
                  "other": _l("其他")}
# R-37, T-56: the five steps of the sales process.
SALES_STAGES = {"identify": _l("识别接触"), "arouse": _l("需求激发"), "present": _l("产品推介"),
                "objection": _l("拒绝处理"), "close": _l("销售促成")}
LOG_MODELS = {"2511": _l("2511 日志"), "511": _l("511 日志")}


class Activity(db.Model):
    """One contact with a customer; a next follow-up date makes it a reminder until it is done."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_customer_id", "customer_id", "occurred_at"),
                      Index("ix_activity_followup", "user_id", "follow_up_done", "next_follow_up"))

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str | None] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(db.DateTime)
    summary: Mapped[str] = mapped_column(Text)
    next_follow_up: Mapped[date | None] = mapped_column(Date)
    follow_up_done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)

    customer: Mapped[Customer] = relationship()
    user: Mapped[User] = relationship()

    @property
    def kind_label(self) -> str:
        return str(ACTIVITY_KINDS.get(self.kind, self.kind))


class DailyLog(db.Model):
    """A staff member's activity log for one day, kept under the 2511 or the 511 model."""

    __tablename__ = "daily_log"
    __table_args__ = (UniqueConstraint("user_id", "day", "model", name="uq_daily_log_user_day_model"),
                      Index("ix_daily_log_day", "day", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlet.id"))
    day: Mapped[date] = mapped_column(Date)
    model: Mapped[str] = mapped_column(String(5))  # 2511 | 511
    contacts: Mapped[int] = mapped_column(Integer, default=0)  # 2511: customers contacted
    effective: Mapped[int] = mapped_column(Integer, default=0)  # 2511: effectively developed
    policies: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[str | None] = mapped_column(Text)  # the problem(s) submitted, one per line
    log_text: Mapped[str | None] = mapped_column(Text)  # the activity log itself
    on_site: Mapped[bool] = mapped_column(Boolean, default=True)  # 511: a policy is due on on-site days
    peers_results: Mapped[str | None] = mapped_column(Text)  # 511: peers' results that day
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
    entries: Mapped[list[DailyLogEntry]] = relationship(back_populates="log", cascade="all, delete-orphan",
                                                        order_by="DailyLogEntry.id")


class DailyLogEntry(db.Model):
    """511: one effective customer of the day, with what was learned (family, work, product needs)."""

    __tablename__ = "daily_log_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    log_id: Mapped[int] = mapped_column(ForeignKey("daily_log.id", ondelete="CASCADE"), index=True)
    customer_name: Mapped[str] = mapped_column(String(100))
    family: Mapped[str | None] = mapped_column(String(300))
    work: Mapped[str | None] = mapped_column(String(300))
    needs: Mapped[str | None] = mapped_column(String(300))

    log: Mapped[DailyLog] = relationship(back_populates="entries")

    @property
    def complete(self) -> bool:
        """R-36 / T-14: effective only with family data, work situation AND product needs."""
        return bool((self.family or "").strip() and (self.work or "").strip() and (self.needs or "").strip())
