"""Organisation: the branch tree (分行 → 中心支行/支行) and outlets (网点), spec §2.1."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.timeutil import utcnow

BRANCH_LEVELS = {
    "branch": _l("分行"),
    "central_sub_branch": _l("中心支行"),
    "sub_branch": _l("支行"),
}

# Spec §2.1 / R-21: the three outlet types.
OUTLET_TYPES = {
    "sub_branch_business_dept": _l("支行营业部"),
    "urban": _l("城区/园区网点"),
    "township": _l("乡镇网点"),
}


class Branch(db.Model):
    """A node of the branch tree. Roots are 分行; plugins are enabled per root (分行)."""

    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), index=True)
    # Materialised path "/1/4/": subtree queries are one indexed LIKE, no recursion.
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    president_name: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(db.DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    parent: Mapped[Branch | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Branch]] = relationship(back_populates="parent", order_by="Branch.code")
    outlets: Mapped[list[Outlet]] = relationship(back_populates="branch", order_by="Outlet.code",
                                               foreign_keys="Outlet.branch_id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def level_label(self) -> str:
        return str(BRANCH_LEVELS.get(self.level, self.level))

    @property
    def root_id(self) -> int:
        """Id of the 分行 this node belongs to (first element of the path)."""
        return int(self.path.strip("/").split("/")[0]) if self.path else self.id

    def __repr__(self) -> str:
        return f"<Branch {self.code} {self.name}>"


class Outlet(db.Model):
    """网点: belongs to a 支行 (or directly to a 分行 for its own business department)."""

    __tablename__ = "outlet"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    # Denormalised 分行 id: the plugin gate and branch scoping need it on every request.
    root_branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    outlet_type: Mapped[str] = mapped_column(String(30))
    address: Mapped[str | None] = mapped_column(String(200))
    area_m2: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    has_reception_conditions: Mapped[bool] = mapped_column(Boolean, default=False)
    high_counter_count: Mapped[int] = mapped_column(Integer, default=0)
    low_counter_count: Mapped[int] = mapped_column(Integer, default=0)
    corp_cash_tx_daily: Mapped[int] = mapped_column(Integer, default=0)
    corp_noncash_tx_daily: Mapped[int] = mapped_column(Integer, default=0)
    teller_std_volume: Mapped[int] = mapped_column(Integer, default=0)
    phone: Mapped[str | None] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(db.DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    branch: Mapped[Branch] = relationship(foreign_keys=[branch_id], back_populates="outlets")

    __mapper_args__ = {"version_id_col": version}

    @property
    def type_label(self) -> str:
        return str(OUTLET_TYPES.get(self.outlet_type, self.outlet_type))

    def __repr__(self) -> str:
        return f"<Outlet {self.code} {self.name}>"
