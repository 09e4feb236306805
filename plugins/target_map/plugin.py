"""The target_map plugin object: metadata, settings, permissions and the hook implementations.

Two parts, each with its own blueprint: the map itself (views_map: map, table, export, enterprise-list import,
assignment and claims) and the outreach work (views_plans: Gantt plans, visit records, group marketing, rollout)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from flask import url_for
from flask_babel import lazy_gettext as _l

from crm import hookimpl
from crm.access import can
from crm.contrib import NavItem, Panel, Permission, Widget

NAME = "target_map"

# Who looks at an outlet's map: the outlet's own staff and the branch side above it.
VIEW_POSTS = ("admin", "branch_admin", "branch_head", "marketing", "sub_branch_president", "retail_vp",
              "outlet_head", "outlet_deputy", "supervisor", "corporate_rm", "personal_rm", "wealth_manager",
              "lobby_manager", "low_counter_teller", "high_counter_teller", "back_office")
# Who fills the map in and assigns targets (R-04/R-05: the outlet head and corporate RMs).
MANAGE_POSTS = ("admin", "branch_admin", "outlet_head", "outlet_deputy")
# Who plans and records outreach (R-18: corporate RMs visit, the outlet head takes the post-visit report).
PLAN_POSTS = ("admin", "branch_admin", "outlet_head", "outlet_deputy", "corporate_rm", "personal_rm")

DEFAULT_SETTINGS = {
    # targets with annual sales revenue at or above this (元) go to the outlet head, the others to the
    # corporate RMs.
    "head_revenue_threshold": Decimal("100000000"),
}


# How the audit log names this plugin's actions and objects (crm_register_audit_labels).
AUDIT_LABELS = (
    ("target_map.entry_added", _l("加入金融生态图")),
    ("target_map.entry_updated", _l("修改生态图条目")),
    ("target_map.entry_removed", _l("移出金融生态图")),
    ("target_map.imported", _l("导入企业名单")),
    ("target_map.exported", _l("导出金融生态图")),
    ("target_map.assigned", _l("按规模分派目标客户")),
    ("target_map.task_created", _l("新建拓展计划")),
    ("target_map.task_updated", _l("修改拓展计划")),
    ("target_map.task_rescheduled", _l("调整拓展计划日期")),
    ("target_map.task_deleted", _l("删除拓展计划")),
    ("target_map.visit_recorded", _l("登记走访")),
    ("target_map.visit_updated", _l("修改走访记录")),
    ("target_map.visit_advice", _l("负责人走访意见")),
    ("target_map.plan_text_saved", _l("保存拓展方案")),
    ("target_map.group_created", _l("新建集团营销计划")),
    ("target_map.group_submitted", _l("提交集团营销计划")),
    ("target_map.group_closed", _l("结束集团营销计划")),
    ("target_map.rollout_started", _l("启动三周导入")),
    ("target_map.rollout_rescheduled", _l("调整三周导入日期")),
    ("target_map.rollout_item_done", _l("完成导入事项")),
)


class TargetMapPlugin:
    name = NAME
    label = "金融生态图"
    description = "网点周边企业的存量/目标客户地图、名录导入与分配、外拓甘特计划与走访记录、分群营销和三周导入清单"
    version = "1.0"
    default_enabled = False
    default_branch_settings = DEFAULT_SETTINGS

    @hookimpl
    def crm_register_blueprints(self, app):
        from plugins.target_map.views_map import bp as map_bp
        from plugins.target_map.views_plans import bp as plans_bp

        return [map_bp, plans_bp]

    @hookimpl
    def crm_register_permissions(self):
        return [
            Permission("target_map.view", _l("查看金融生态图"), posts=VIEW_POSTS),
            Permission("target_map.manage", _l("维护生态图、导入企业名录、分配目标客户"), posts=MANAGE_POSTS),
            Permission("target_map.plan", _l("制定外拓计划、记录走访"), posts=PLAN_POSTS),
        ]

    @hookimpl
    def crm_migration_dirs(self):
        return str(Path(__file__).parent / "migrations" / "versions")

    @hookimpl
    def crm_seed_demo(self, seed):
        from sqlalchemy import select

        from crm.extensions import db
        from crm.models import Outlet
        from plugins.target_map.services_map import put_on_map

        outlets = db.session.execute(select(Outlet.id).where(Outlet.active).order_by(Outlet.id)).scalars().all()
        placed = sum(put_on_map(o, limit=60) for o in outlets)
        return f"金融生态图：{placed} 户对公客户标注到 {len(outlets)} 个网点的生态图" if placed else None

    @hookimpl
    def crm_customer_saved(self, customer, is_new):
        # A customer moved to another outlet takes its map entry along.
        if not is_new:
            from plugins.target_map.services_map import sync_customer_outlet

            sync_customer_outlet(customer)

    @hookimpl
    def crm_nav_items(self, user, branch):
        return [
            NavItem(_l("金融生态图"), "target_map.index", icon="bi-diagram-3", weight=35,
                    permission="target_map.view"),
            NavItem(_l("外拓计划"), "target_map_plans.index", icon="bi-calendar-range", weight=36,
                    permission="target_map.view"),
        ]

    @hookimpl
    def crm_customer_panels(self, customer, user, branch):
        if customer.kind != "corporate" or not can("target_map.view", user):
            return []
        return [
            Panel("target_map.entry", _l("金融生态图"), url_for("target_map.panel", customer_id=customer.id),
                  weight=25, wide=False),
            Panel("target_map.plans", _l("拓展计划与走访"),
                  url_for("target_map_plans.panel", customer_id=customer.id), weight=26, wide=True),
        ]

    @hookimpl
    def crm_dashboard_widgets(self, user, branch):
        # Each owner sees their own overdue outreach tasks (the outlet head: the outlet's).
        if not can("target_map.view", user):
            return []
        return [Widget("target_map.overdue", _l("逾期外拓任务"), url_for("target_map_plans.widget"), weight=30,
                       width=6)]

    @hookimpl
    def crm_register_audit_labels(self):
        return AUDIT_LABELS
