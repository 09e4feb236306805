"""Per-branch plugin enablement and settings (design §3.1)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.timeutil import utcnow


class BranchPlugin(db.Model):
    """One row per (分行, plugin); branch_id NULL is the global row every branch inherits from."""

    __tablename__ = "branch_plugin"
    __table_args__ = (UniqueConstraint("branch_id", "plugin", name="uq_branch_plugin_branch_plugin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), index=True)
    plugin: Mapped[str] = mapped_column(String(50))
    enabled: Mapped[bool | None] = mapped_column(Boolean)  # None: inherit from the global row
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
