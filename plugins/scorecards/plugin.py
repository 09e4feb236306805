"""The scorecards plugin object: metadata, permissions (who enters, computes, reviews and locks) and hooks."""

from __future__ import annotations

from pathlib import Path

from flask import url_for
from flask_babel import lazy_gettext as _l

from crm import hookimpl
from crm.contrib import NavItem, Permission, Widget
from crm.roles import POSTS

# Everyone is assessed by something and sees their own scores (staff: own; outlet heads: the outlet; branch
# management: the branch) — the scope of each row decides what is shown.
VIEW_POSTS = tuple(p.code for p in POSTS)
# Actuals are entered (or imported) for the people in one's scope: the outlet's management and the branch.
ENTER_POSTS = ("admin", "branch_admin", "marketing", "branch_head", "sub_branch_president", "retail_vp",
               "outlet_head", "outlet_deputy")
# the assessment is organised by the marketing and HR departments — open periods, compute, lock, correct.
MANAGE_POSTS = ("admin", "branch_admin", "marketing")
# … and checked by someone else before it is final (the audit office's review; maker-checker).
REVIEW_POSTS = ("admin", "branch_admin", "branch_head", "retail_vp")
# Schemes are data a branch administrator copies and edits.
SCHEME_POSTS = ("admin", "branch_admin")
# Bancassurance policies are recorded by the outlet's management and the branch.
BANCA_POSTS = ("admin", "branch_admin", "marketing", "outlet_head", "outlet_deputy", "supervisor")

AUDIT_LABELS = (
    ("scorecards.period_opened", _l("新建考核期")),
    ("scorecards.actual_saved", _l("录入考核指标")),
    ("scorecards.actuals_imported", _l("导入考核指标")),
    ("scorecards.crm_actuals", _l("从系统取数")),
    ("scorecards.computed", _l("计算考核得分")),
    ("scorecards.reviewed", _l("复核考核结果")),
    ("scorecards.locked", _l("锁定考核期")),
    ("scorecards.corrected", _l("更正已锁定的考核期")),
    ("scorecards.scheme_saved", _l("修改考核方案")),
    ("scorecards.exported", _l("导出考核结果")),
    ("scorecards.report_printed", _l("打印考核报告")),
    ("scorecards.policy_saved", _l("登记银保保单")),
    ("scorecards.policies_imported", _l("导入银保保单")),
    ("scorecards.policy_status", _l("登记保单契撤/退保")),
    ("scorecards.grade_event", _l("登记客户经理等级事项")),
    ("scorecards.pool_saved", _l("录入绩效分配金额")),
    ("scorecards_period", _l("考核期")),
    ("scorecards_scheme", _l("考核方案")),
    ("scorecards_result", _l("考核结果")),
    ("scorecards_policy", _l("银保保单")),
    ("scorecards_grade_event", _l("客户经理等级事项")),
    ("scorecards_pool", _l("绩效分配录入")),
)


class ScorecardsPlugin:
    name = "scorecards"
    label = "绩效考核"
    description = "绩效考核：KPI积分规则、客户经理等级、平衡计分卡、EVA、银保指标、排行榜（方案即数据，可复制修改）"
    version = "0.1"
    default_enabled = False

    @hookimpl
    def crm_register_blueprints(self, app):
        from plugins.scorecards.views import bp

        return [bp]

    @hookimpl
    def crm_register_permissions(self):
        return [
            Permission("scorecards.view", _l("查看绩效考核（本人、本网点或本行范围）"), posts=VIEW_POSTS),
            Permission("scorecards.enter", _l("录入、导入考核指标"), posts=ENTER_POSTS),
            Permission("scorecards.manage", _l("新建考核期、计算、锁定与更正"), posts=MANAGE_POSTS),
            Permission("scorecards.review", _l("复核考核结果"), posts=REVIEW_POSTS),
            Permission("scorecards.schemes", _l("复制、修改考核方案"), posts=SCHEME_POSTS),
            Permission("scorecards.banca", _l("登记、导入银保保单"), posts=BANCA_POSTS),
        ]

    @hookimpl
    def crm_migration_dirs(self):
        return str(Path(__file__).parent / "migrations" / "versions")

    @hookimpl
    def crm_nav_items(self, user, branch):
        return [NavItem(_l("绩效考核"), "scorecards.index", icon="bi-trophy", weight=50,
                        permission="scorecards.view")]

    @hookimpl
    def crm_dashboard_widgets(self, user, branch):
        from crm.access import can

        if not can("scorecards.view", user):
            return []
        return [Widget("scorecards.standing", _l("我的考核排名"), url_for("scorecards.widget"), weight=50, width=6)]

    @hookimpl
    def crm_register_audit_labels(self):
        return AUDIT_LABELS

    @hookimpl
    def crm_seed_demo(self, seed):
        from plugins.scorecards.demo import seed_demo

        made = seed_demo(seed)
        return f"绩效考核：{made} 个考核期（上月已锁定，本月和上年已计算）" if made else None
