"""The scorecards tables: schemes as versioned data, assessment periods (computed → reviewed → locked, corrections
as new revisions), indicator actuals, explained results, bancassurance policies. Every table is named
``scorecards_*`` (spec §2.9, R-72–R-98)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.access import ScopeSpec, register_scope
from crm.extensions import db
from crm.roles import SCOPE_ALL
from crm.timeutil import utcnow

MONEY = Numeric(18, 2)
VALUE = Numeric(20, 6)  # an indicator's actual: a rate in percent (33.5), an amount (1050000), a count (3)
POINTS = Numeric(12, 2)

PERIOD_KINDS = {"month": _l("月度"), "quarter": _l("季度"), "year": _l("年度")}
# open: actuals being gathered; computed: scores worked out; reviewed: checked by a second person; locked: final.
PERIOD_STATUSES = {"open": _l("采集中"), "computed": _l("已计算"), "reviewed": _l("已复核"), "locked": _l("已锁定")}
SUBJECTS = {"staff": _l("员工"), "outlet": _l("网点")}
SOURCES = {"crm": _l("系统取数"), "entry": _l("手工录入"), "import": _l("Excel导入")}
PAYMENT_MODES = {"single": _l("趸交"), "regular": _l("期缴")}
POLICY_STATUSES = {"active": _l("有效"), "cancelled_cooling": _l("契撤"), "surrendered": _l("退保")}
COUNTER_TYPES = {"high": _l("高柜"), "low": _l("低柜"), "wealth": _l("理财室"), "other": _l("其他")}


class ScorecardScheme(db.Model):
    """One version of a rule set (a KPI table, the comprehensive appraisal, BSC weights, EVA or bancassurance
    parameters …) as JSON data. Editing makes a new version: results keep pointing at the version that computed
    them, so a changed scheme changes only future computations."""

    __tablename__ = "scorecards_scheme"
    __table_args__ = (UniqueConstraint("branch_id", "code", "revision", name="uq_scorecards_scheme_code_revision"),
                      Index("ix_scorecards_scheme_branch_id", "branch_id", "code"))

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))  # None: the 全行 default
    code: Mapped[str] = mapped_column(String(40))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(10), default="staff")
    posts: Mapped[list[str]] = mapped_column(JSON, default=list)  # whom it assesses: posts …
    grades: Mapped[list[str]] = mapped_column(JSON, default=list)  # … and, when not empty, only these grades
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("scorecards_scheme.id"))
    current: Mapped[bool] = mapped_column(Boolean, default=True)  # the version new computations use
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # switched off: not computed at all
    note: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)


class ScorecardPeriod(db.Model):
    """An assessment period of one 分行 (a month, quarter or year). A locked period never changes; a correction is
    a new revision that copies its actuals and supersedes it (both stay on record)."""

    __tablename__ = "scorecards_period"
    __table_args__ = (UniqueConstraint("branch_id", "kind", "starts_on", "revision",
                                       name="uq_scorecards_period_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)  # the 分行 (root node)
    kind: Mapped[str] = mapped_column(String(10), default="month")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("scorecards_period.id"))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="open")
    correction_reason: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    locked_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    # Written by each computation, for the whole 分行: per scheme id, people assessed / scored / with a warning and
    # the outlet PK ([outlet id, average, people, best, rank]) — the leaderboard and the period page read it
    # instead of aggregating ten thousand rows on every view.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def label(self) -> str:
        if self.kind == "month":
            text = f"{self.starts_on.year}年{self.starts_on.month}月"
        elif self.kind == "quarter":
            text = f"{self.starts_on.year}年第{(self.starts_on.month - 1) // 3 + 1}季度"
        else:
            text = f"{self.starts_on.year}年度"
        return text if self.revision == 1 else f"{text}（更正第{self.revision - 1}版）"

    @property
    def locked(self) -> bool:
        return self.status == "locked"


class ScorecardActual(db.Model):
    """One indicator's actual for one person or outlet in a period, with where it came from."""

    __tablename__ = "scorecards_actual"
    __table_args__ = (UniqueConstraint("period_id", "subject", "subject_id", "code",
                                       name="uq_scorecards_actual_subject_code"),
                      Index("ix_scorecards_actual_outlet_id", "outlet_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("scorecards_period.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(10))  # staff | outlet
    subject_id: Mapped[int] = mapped_column(Integer)  # user id or outlet id
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # = subject_id for staff (scope)
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlet.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))  # the 支行 of branch-level staff
    code: Mapped[str] = mapped_column(String(40))
    value: Mapped[Decimal] = mapped_column(VALUE)
    source: Mapped[str] = mapped_column(String(10), default="entry")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)


class ScorecardResult(db.Model):
    """One scheme's score for one person or outlet in a period: total, item-by-item points with their reasons,
    warnings (demote / terminate with the rule that triggered them) and the scheme version that computed it."""

    __tablename__ = "scorecards_result"
    __table_args__ = (UniqueConstraint("period_id", "scheme_id", "subject", "subject_id",
                                       name="uq_scorecards_result_subject"),
                      Index("ix_scorecards_result_rank", "period_id", "scheme_id", "rank", "id"),
                      Index("ix_scorecards_result_outlet_id", "outlet_id"),
                      Index("ix_scorecards_result_user_id", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("scorecards_period.id", ondelete="CASCADE"))
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scorecards_scheme.id"))
    subject: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlet.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    total: Mapped[Decimal | None] = mapped_column(POINTS)  # None: actuals missing, not scored
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    action: Mapped[str] = mapped_column(String(10), default="keep")  # keep | demote | terminate
    rank: Mapped[int | None] = mapped_column(Integer)
    missing: Mapped[list[str]] = mapped_column(JSON, default=list)  # indicators without an actual: not scored
    computed_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)

    scheme: Mapped[ScorecardScheme] = relationship(lazy="joined")


class ScorecardPolicy(db.Model):
    """A bancassurance policy sold at an outlet (spec §2.7): the source of R-95 KPIs and R-96 premium progress."""

    __tablename__ = "scorecards_policy"
    __table_args__ = (UniqueConstraint("branch_id", "policy_no", name="uq_scorecards_policy_no"),
                      Index("ix_scorecards_policy_outlet_id", "outlet_id", "signed_on"),
                      Index("ix_scorecards_policy_signed_on", "branch_id", "signed_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))  # the 分行
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))
    policy_no: Mapped[str] = mapped_column(String(40))
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # the bank seller (teller)
    insurer_name: Mapped[str | None] = mapped_column(String(100))
    insurer_rm: Mapped[str | None] = mapped_column(String(50))  # the insurer's RM in the outlet
    customer_name: Mapped[str | None] = mapped_column(String(100))
    payment_mode: Mapped[str] = mapped_column(String(10))  # single (趸交) | regular (期缴)
    premium: Mapped[Decimal] = mapped_column(MONEY)
    fyc: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    signed_on: Mapped[date] = mapped_column(Date)
    counter_type: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="active")
    status_changed_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


def _period_scope(user: Any):
    """A period belongs to a 分行: everyone of that 分行 sees it exists (what they see inside is scoped again)."""
    if user.scope == SCOPE_ALL:
        return true()
    return ScorecardPeriod.branch_id == user.root_branch_id


def _scheme_scope(user: Any):
    if user.scope == SCOPE_ALL:
        return true()
    return ScorecardScheme.branch_id.is_(None) | (ScorecardScheme.branch_id == user.root_branch_id)


# Staff see their own scores, outlet heads their outlet's, branch management the branch's (issue 7).
register_scope(ScorecardResult, ScopeSpec(outlet=ScorecardResult.outlet_id, branch=ScorecardResult.branch_id,
                                          owner=ScorecardResult.user_id))
register_scope(ScorecardActual, ScopeSpec(outlet=ScorecardActual.outlet_id, branch=ScorecardActual.branch_id,
                                          owner=ScorecardActual.user_id))
register_scope(ScorecardPolicy, ScopeSpec(outlet=ScorecardPolicy.outlet_id, owner=ScorecardPolicy.seller_id))
register_scope(ScorecardPeriod, ScopeSpec(custom=_period_scope))
register_scope(ScorecardScheme, ScopeSpec(custom=_scheme_scope))
