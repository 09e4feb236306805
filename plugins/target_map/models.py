"""The map's own table: which customers an outlet put on its 金融生态图, with what the core customer lacks.

The rest of an entry lives on the core customer and is not duplicated here (design §3: plugins extend, core owns):
module = ``Customer.eco_module`` (R-03), perspective = ``Customer.status`` stock/target (R-04), responsible person =
``Customer.maintainer_id`` (维护责任人 of a stock entry, 营销人 of a target), goals = ``Customer.maintenance_target``
(维护目标) / ``Customer.near_term_target`` (近期拓展目标), enterprise size = ``Customer.annual_revenue`` (R-05),
node size = ``Customer.deposit_balance`` (stock) or ``TargetMapEntry.expected_scale`` (target), USCC =
``Customer.cert_no``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.access import ScopeSpec, register_scope
from crm.extensions import db
from crm.models import Customer, User
from crm.timeutil import utcnow

# 保抢挖 read as keep own stock / grab contested customers / dig customers of other banks.
TAGS = ("keep", "grab", "dig")
TAG_LABELS = {"keep": _l("保"), "grab": _l("抢"), "dig": _l("挖")}
TAG_HINTS = {"keep": _l("保：巩固本行存量客户"), "grab": _l("抢：与同业争夺的客户"), "dig": _l("挖：从他行挖转的客户")}


class TargetMapEntry(db.Model):
    """A customer on its outlet's map (one entry per customer: a customer belongs to one outlet)."""

    __tablename__ = "target_map_entry"
    __table_args__ = (Index("ix_target_map_entry_outlet_id", "outlet_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), unique=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))  # = the customer's outlet (kept in step)
    tag: Mapped[str | None] = mapped_column(String(4))  # keep | grab | dig
    expected_scale: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # target: expected deposits, 元
    source: Mapped[str | None] = mapped_column(String(100))  # the list it came from, e.g. 上级行企业名录
    tax_rank: Mapped[int | None] = mapped_column(Integer)  # 国地税纳税排名
    sales_rank: Mapped[int | None] = mapped_column(Integer)  # 销售排名
    trade_rank: Mapped[int | None] = mapped_column(Integer)  # 进出口排名
    plan: Mapped[str | None] = mapped_column(Text)  # 目标客户拓展方案 (R-18 (3)), free text
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    added_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    customer: Mapped[Customer] = relationship()
    added_by: Mapped[User | None] = relationship()

    # Optimistic locking, as on the core customer: a form carries the version it was read at, and a save over
    # someone else's later save is refused instead of silently overwriting it.
    __mapper_args__ = {"version_id_col": version}


def _of_visible_customers(column: Any):
    from crm.access import scoped

    return lambda user: column.in_(scoped(Customer, user).with_only_columns(Customer.id))


# An entry is visible exactly where its customer is (design §4). Unclaimed targets of one's own outlet (the claim
# pool, R-05 熟客认领) are offered by the map's own query, as the core claims page does.
register_scope(TargetMapEntry, ScopeSpec(custom=_of_visible_customers(TargetMapEntry.customer_id)))


import plugins.target_map.models_plans  # noqa: E402,F401 - the plans' tables load with the plugin
