"""The amounts entered for the 绩效分配 page of a period, per outlet: pools, the outlet average bonus and per-person
inputs (process scores, EVA figures) — stored so the page shows them again and every change is audited (R-84–R-93)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.access import ScopeSpec, register_scope
from crm.extensions import db
from crm.timeutil import utcnow

# kind → label. Amount kinds carry `amount`; person kinds carry `data` = {user id (str): {key: Decimal as str}}.
POOL_KINDS = {
    "bsc": _l("网点绩效工资总额（平衡计分卡分配）"),
    "outlet_average_bonus": _l("网点人均奖金"),
    "process": _l("包户包效过程得分"),                       # R-93 (entered when there is no 200-point result)
    "eva": _l("EVA绩效录入项"),
}
AMOUNT_KINDS = ("bsc", "outlet_average_bonus")
PERSON_KINDS = ("process", "eva")


class ScorecardPool(db.Model):
    """One entered amount (or set of per-person inputs) of one outlet in one period. A locked period's rows never
    change (services_rewards refuses); a correction revision starts without them."""

    __tablename__ = "scorecards_pool"
    __table_args__ = (UniqueConstraint("period_id", "outlet_id", "kind", name="uq_scorecards_pool_kind"),
                      Index("ix_scorecards_pool_outlet_id", "outlet_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("scorecards_period.id", ondelete="CASCADE"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))
    kind: Mapped[str] = mapped_column(String(30))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # yuan, for AMOUNT_KINDS
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # per person, for PERSON_KINDS
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)


# Outlet heads see their outlet's pools, branch posts their subtree's, staff (own scope) none.
register_scope(ScorecardPool, ScopeSpec(outlet=ScorecardPool.outlet_id))
