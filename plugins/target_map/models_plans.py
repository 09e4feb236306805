"""Outreach plans (R-18 Gantt tasks and pre/during/post visit records), group marketing (R-20) and the three-week
rollout checklist (R-27): the plans part of the 金融生态图 plugin."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    select,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.access import ScopeSpec, register_scope, scoped, subtree_outlet_ids
from crm.extensions import db
from crm.models import Customer, Outlet, User
from crm.roles import SCOPE_ALL, SCOPE_BRANCH, SCOPE_OUTLET
from crm.timeutil import utcnow

# A task's state. "Overdue" is not stored: it is planned_end < today and not done, decided at read time.
TASK_STATUSES = {"planned": _l("未开始"), "in_progress": _l("进行中"), "done": _l("已完成")}
# R-18 before the visit: where the RM learnt about the customer.
INFO_SOURCES = {"network": _l("网络"), "referral": _l("老客户转介绍"), "investment_bureau": _l("招商局"),
                "personal_network": _l("人脉")}
CHANNELS = {"visit": _l("上门拜访"), "phone": _l("电话")}
VISIT_STAGES = {"pre": _l("拜访前"), "during": _l("拜访中"), "post": _l("拜访后")}
# R-20 / S-10: how the outlet chose its target group, and whether it is a group of stock or of new customers.
GROUP_BASES = {"industry": _l("行业"), "network": _l("人脉圈"), "association": _l("协会圈")}
GROUP_CUSTOMER_KINDS = {"stock": _l("存量客户"), "new": _l("新客户")}
GROUP_STATUSES = {"draft": _l("草稿"), "submitted": _l("已提交"), "closed": _l("已关闭")}
GROUP_MODULES = (
    ("module_a", _l("a. 目标客户群体及选择理由")),
    ("module_b", _l("b. 共性需求点与分群营销切入点")),
    ("module_c", _l("c. 产品匹配方案")),
    ("module_d", _l("d. 营销计划")),
)


class TargetMapTask(db.Model):
    """One bar of an outlet's 客户拓展工作计划甘特图 (R-18 (1)): a task on a customer of the outlet's map."""

    __tablename__ = "target_map_task"
    __table_args__ = (
        # The dashboard's overdue list of one owner and of one outlet, and the outlet's Gantt in date order; with the
        # status in the index, overdue counts and the page's state counts never read the table.
        Index("ix_target_map_task_owner_end", "owner_id", "planned_end", "status"),
        Index("ix_target_map_task_outlet_end", "outlet_id", "planned_end", "status"),
        Index("ix_target_map_task_customer_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    planned_start: Mapped[date] = mapped_column(Date)
    planned_end: Mapped[date] = mapped_column(Date)
    # Derived from the visits: the first visit that took place, and the day the post-visit report reached the head.
    actual_start: Mapped[date | None] = mapped_column(Date)
    actual_end: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="planned")  # planned | in_progress | done
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    outlet: Mapped[Outlet] = relationship()
    customer: Mapped[Customer] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return str(TASK_STATUSES.get(self.status, self.status))

    def is_overdue(self, today: date) -> bool:
        """Planned end before today and not done; a task due today is not overdue yet."""
        return self.status != "done" and self.planned_end < today


class TargetMapVisit(db.Model):
    """A 目标客户拓展记录 of a task (R-18 (2)): before, during and after one visit or call, filled in as it happens.
    `stage` is the last stage completely recorded; a task is done once a visit reaches "post"."""

    __tablename__ = "target_map_visit"
    __table_args__ = (
        Index("ix_target_map_visit_task_id", "task_id", "id"),
        Index("ix_target_map_visit_customer_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("target_map_task.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))
    visit_date: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(10))  # visit | phone
    major_matter: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str] = mapped_column(String(8), default="pre")  # pre | during | post
    # Before
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    hypotheses: Mapped[str] = mapped_column(Text, default="")
    questions: Mapped[str | None] = mapped_column(Text)
    pre_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    pre_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    # During
    key_info: Mapped[str | None] = mapped_column(Text)
    during_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    during_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    # After: the report to the outlet head, and the head's advice
    reported_on: Mapped[date | None] = mapped_column(Date)
    report_content: Mapped[str | None] = mapped_column(Text)
    post_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    post_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    advice: Mapped[str | None] = mapped_column(Text)
    advice_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    advice_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    task: Mapped[TargetMapTask] = relationship()
    pre_by: Mapped[User | None] = relationship(foreign_keys=[pre_by_id])
    during_by: Mapped[User | None] = relationship(foreign_keys=[during_by_id])
    post_by: Mapped[User | None] = relationship(foreign_keys=[post_by_id])
    advice_by: Mapped[User | None] = relationship(foreign_keys=[advice_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def stage_label(self) -> str:
        return str(VISIT_STAGES.get(self.stage, self.stage))

    @property
    def channel_label(self) -> str:
        return str(CHANNELS.get(self.channel, self.channel))

    @property
    def source_labels(self) -> list[str]:
        return [str(INFO_SOURCES.get(s, s)) for s in self.sources or []]

    @property
    def reported_on_time(self) -> bool | None:
        """A major matter is reported on time when the head hears of it the day of the visit or the next day
        (spec §2.4 names the flag without a deadline; this reading is documented in the README). None: no major
        matter, or not reported yet."""
        if not self.major_matter or self.reported_on is None:
            return None
        return (self.reported_on - self.visit_date).days <= 1


class TargetMapGroupPlan(db.Model):
    """An outlet's 分群营销方案 (R-20): one target group, chosen by industry / 人脉圈 / 协会圈, with modules a–d.
    At most one plan per outlet is not closed (a partial unique index, on SQLite and PostgreSQL alike)."""

    __tablename__ = "target_map_group_plan"
    __table_args__ = (
        Index("uq_target_map_group_plan_active_outlet", "outlet_id", unique=True,
              sqlite_where=text("status <> 'closed'"), postgresql_where=text("status <> 'closed'")),
        Index("ix_target_map_group_plan_outlet_id", "outlet_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))
    name: Mapped[str] = mapped_column(String(50))
    basis: Mapped[str] = mapped_column(String(12))  # industry | network | association
    basis_detail: Mapped[str] = mapped_column(String(100))
    customer_kind: Mapped[str] = mapped_column(String(8))  # stock | new
    participants: Mapped[str | None] = mapped_column(String(200))
    module_a: Mapped[str | None] = mapped_column(Text)
    module_b: Mapped[str | None] = mapped_column(Text)
    module_c: Mapped[str | None] = mapped_column(Text)
    module_d: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="draft")  # draft | submitted | closed
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    outlet: Mapped[Outlet] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return str(GROUP_STATUSES.get(self.status, self.status))

    @property
    def basis_label(self) -> str:
        return str(GROUP_BASES.get(self.basis, self.basis))

    @property
    def customer_kind_label(self) -> str:
        return str(GROUP_CUSTOMER_KINDS.get(self.customer_kind, self.customer_kind))


class TargetMapRollout(db.Model):
    """An outlet's three-week 对公服务标准化 rollout (R-27): when it started; its items carry the due dates."""

    __tablename__ = "target_map_rollout"

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"), unique=True)
    start_date: Mapped[date] = mapped_column(Date)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    started_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    outlet: Mapped[Outlet] = relationship()
    started_by: Mapped[User | None] = relationship(foreign_keys=[started_by_id])

    __mapper_args__ = {"version_id_col": version}


class TargetMapRolloutItem(db.Model):
    """One item of the rollout checklist; ticked done with who and when."""

    __tablename__ = "target_map_rollout_item"
    __table_args__ = (UniqueConstraint("rollout_id", "code", name="uq_target_map_rollout_item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("target_map_rollout.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(30))
    week: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    done_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])


# ---------------------------------------------------------------- scopes (design §4)

def _task_scope(user: Any) -> Any:
    """Branch posts: the tasks of their subtree; outlet heads, deputies and supervisors: their outlet's; RMs and the
    other outlet posts: the tasks they own and the tasks on the customers they maintain. One's own tasks always."""
    scope = user.scope
    if scope == SCOPE_ALL:
        return true()
    own = TargetMapTask.owner_id == user.id
    if scope == SCOPE_BRANCH:
        return (TargetMapTask.outlet_id + 0).in_(subtree_outlet_ids(user)) | own
    if scope == SCOPE_OUTLET:
        return (TargetMapTask.outlet_id == user.outlet_id) | own if user.outlet_id is not None else own
    maintained = scoped(Customer, user).with_only_columns(Customer.id)  # own scope: the customers they maintain
    return own | TargetMapTask.customer_id.in_(maintained)


def _visit_scope(user: Any) -> Any:
    return TargetMapVisit.task_id.in_(select(TargetMapTask.id).where(_task_scope(user)))


def _outlet_wide(column: Any):
    """Rows that belong to an outlet as a whole (its group plan, its rollout): every post of the outlet sees them,
    branch posts those of their subtree."""

    def build(user: Any) -> Any:
        if user.scope == SCOPE_ALL:
            return true()
        if user.scope == SCOPE_BRANCH:
            return (column + 0).in_(subtree_outlet_ids(user))
        return column == user.outlet_id if user.outlet_id is not None else false()

    return build


register_scope(TargetMapTask, ScopeSpec(custom=_task_scope))
register_scope(TargetMapVisit, ScopeSpec(custom=_visit_scope))
register_scope(TargetMapGroupPlan, ScopeSpec(custom=_outlet_wide(TargetMapGroupPlan.outlet_id)))
register_scope(TargetMapRollout, ScopeSpec(custom=_outlet_wide(TargetMapRollout.outlet_id)))
