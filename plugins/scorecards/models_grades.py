"""The grade events of customer managers: provisional 初级 granted, exam passed, separation notice, assistant facts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Date, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.access import ScopeSpec, register_scope
from crm.extensions import db
from crm.timeutil import utcnow

# provisional: R-73 provisional 初级 granted (amount = the cumulative daily-average deposits that justified it, A-16);
# qualified: the appointment exam passed (ends a provisional grade, T-58); notice: R-75 written notice given (facts:
# {"by": "bank" | "employee"}, T-59); assessment: R-77 assistant-entry facts (facts: education, cba_cert,
# bank_experience, good_conduct, T-60).
EVENT_KINDS = {"provisional": _l("暂定初级客户经理"), "qualified": _l("通过任职资格考试"),
               "notice": _l("书面提出离职"), "assessment": _l("个人客户经理助理资格审查")}
NOTICE_BY = {"bank": _l("银行提出"), "employee": _l("员工本人提出")}


class ScorecardGradeEvent(db.Model):
    """One dated fact about a person's grade (R-73, R-75, R-77). Rows are only added, never edited: the latest of a
    kind (on or before the day asked about) is what counts. Outlet and 支行 are copied from the person when recorded,
    so the row is scoped like the person (outlet heads: their outlet; branch posts: their subtree; the person: own)."""

    __tablename__ = "scorecards_grade_event"
    __table_args__ = (Index("ix_scorecards_grade_event_user_id", "user_id", "on", "id"),
                      Index("ix_scorecards_grade_event_outlet_id", "outlet_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(20))
    on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(String(300))
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlet.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)

    @property
    def kind_label(self) -> str:
        return str(EVENT_KINDS.get(self.kind, self.kind))


register_scope(ScorecardGradeEvent, ScopeSpec(outlet=ScorecardGradeEvent.outlet_id,
                                              branch=ScorecardGradeEvent.branch_id,
                                              owner=ScorecardGradeEvent.user_id))
