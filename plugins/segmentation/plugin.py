"""The segmentation plugin object: metadata, settings and the hook implementations."""

from __future__ import annotations

from pathlib import Path

from flask import url_for
from flask_babel import lazy_gettext as _l

from crm import hookimpl
from crm.contrib import NavItem, Panel, Permission, Widget
from plugins.segmentation import rules
from plugins.segmentation.services import DEFAULT_SETTINGS

VIEW_POSTS = ("admin", "branch_admin", "branch_head", "marketing", "sub_branch_president", "retail_vp",
              "outlet_head", "outlet_deputy", "supervisor")
# Who grades customers with 5C1S (S-13): the people who know them — managers and the customer managers.
RATE_POSTS = ("admin", "branch_admin", "outlet_head", "outlet_deputy", "supervisor", "corporate_rm", "personal_rm",
              "wealth_manager")


# How the audit log names this plugin's actions and objects (crm_register_audit_labels).
AUDIT_LABELS = (
    ("segmentation.ladder_saved", _l("修改分层阶梯")),
    ("segmentation.params_saved", _l("修改分群参数")),
    ("segmentation.rule_saved", _l("保存自定义分群规则")),
    ("segmentation.rule_deleted", _l("删除自定义分群规则")),
    ("segmentation.recomputed", _l("重算客户分层")),
    ("segmentation.list_saved", _l("保存客户名单")),
    ("segmentation.list_deleted", _l("删除客户名单")),
    ("segmentation.quotas_saved", _l("修改岗位分层配额")),
    ("segmentation.fivec_saved", _l("修改5C1S评分设置")),
    ("segmentation.rated", _l("5C1S评级")),
    ("segmentation_custom_rule", _l("自定义分群规则")),
    ("segmentation_list", _l("客户名单")),
)


class SegmentationPlugin:
    name = "segmentation"
    label = "客户分层/分群"
    description = "按分行设置存款/资产分层阶梯与客户分群规则，一键重算并留存分层变动历史"
    version = "1.0"
    default_enabled = False
    default_branch_settings = DEFAULT_SETTINGS

    @hookimpl
    def crm_register_blueprints(self, app):
        from plugins.segmentation.views import bp

        return [bp]

    @hookimpl
    def crm_register_permissions(self):
        return [
            Permission("segmentation.view", _l("查看客户分层与分群"), posts=VIEW_POSTS),
            Permission("segmentation.manage", _l("设置分层阶梯、分群规则并重算"), posts=("admin", "branch_admin")),
            Permission("segmentation.rate", _l("为客户做5C1S评级"), posts=RATE_POSTS),
        ]

    @hookimpl
    def crm_migration_dirs(self):
        return str(Path(__file__).parent / "migrations" / "versions")

    @hookimpl
    def crm_register_segment_rules(self):
        return [*rules.BUILTIN_RULES, rules.CUSTOM_RULE]

    @hookimpl
    def crm_nav_items(self, user, branch):
        return [NavItem(_l("客户分层"), "segmentation.index", icon="bi-bar-chart-steps", weight=30,
                        permission="segmentation.view")]

    @hookimpl
    def crm_customer_panels(self, customer, user, branch):
        return [Panel("segmentation.tiers", _l("分层与分群"), url_for("segmentation.panel", customer_id=customer.id),
                      weight=20, wide=False)]

    @hookimpl
    def crm_allocation_quotas(self, user, branch):
        # Called only for 分行 that enable this plugin (core asks the enabled plugins of the head's 分行).
        from plugins.segmentation.services import quotas

        return (quotas(branch.id) or None) if branch is not None else None

    @hookimpl
    def crm_dashboard_widgets(self, user, branch):
        # Everyone sees the pyramid of their own scope (an RM: the customers they maintain).
        return [Widget("segmentation.pyramid", _l("客户分层与分群"), url_for("segmentation.widget"), weight=20,
                       width=6)]

    @hookimpl
    def crm_register_audit_labels(self):
        return AUDIT_LABELS

    @hookimpl
    def crm_seed_demo(self, seed):
        from plugins.segmentation.demo import seed_demo

        made = seed_demo(seed)
        if not made.branches:
            return None
        return (f"客户分层/分群：{made.branches} 个分行已重算，{made.customers} 位客户定级；"
                f"各 1 个自定义分群和 1 份客户名单（共 {made.list_size} 人）")
