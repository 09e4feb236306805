"""The PRC working-day calendar (design §6): statutory holidays and weekend make-up workdays (调休上班)."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow

# Only the exceptions are stored: a weekday is a working day and a Saturday/Sunday is not, unless a row says otherwise.
KINDS = {
    "holiday": _l("法定节假日"),  # nobody works, even on a Monday–Friday
    "workday": _l("调休上班"),    # a Saturday/Sunday on which everybody works
}
SOURCES = {"package": _l("节假日数据包"), "admin": _l("管理员录入")}


class WorkdayCalendarDay(db.Model):
    """One exceptional day. Rows from the `chinesecalendar` package have source 'package'; a system administrator's
    rows have source 'admin' and are never overwritten by seeding."""

    __tablename__ = "workday_calendar"
    __table_args__ = (
        CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),
        CheckConstraint("source IN ('package', 'admin')", name="source"),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(10))
    # The holiday (春节, 国庆节); for a make-up workday, the holiday it makes up for.
    name: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(10), default="admin")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)

    @property
    def kind_label(self) -> str:
        return str(KINDS.get(self.kind, self.kind))

    @property
    def source_label(self) -> str:
        return str(SOURCES.get(self.source, self.source))
