"""The salon_events plugin object: metadata, permissions and the hook implementations."""

from __future__ import annotations

from pathlib import Path

from flask import url_for
from flask_babel import lazy_gettext as _l

from crm import hookimpl
from crm.contrib import NavItem, Permission, Widget

# Everybody who works on or looks at campaigns: branch posts and the outlet staff who run the day.
VIEW_POSTS = ("admin", "branch_admin", "branch_head", "marketing", "sub_branch_president", "retail_vp",
              "outlet_head", "outlet_deputy", "supervisor", "corporate_rm", "personal_rm", "wealth_manager",
              "lobby_manager")
# Marketing designs campaigns, templates and prints certificates.
MANAGE_POSTS = ("admin", "branch_admin", "marketing")
# The outlet runs its rounds: scheduling, invitations, registration, check-in, steps, photos, outcomes.
RUN_POSTS = ("admin", "branch_admin", "marketing", "sub_branch_president", "retail_vp", "outlet_head",
             "outlet_deputy", "supervisor", "corporate_rm", "personal_rm", "wealth_manager", "lobby_manager")


# How the audit log names this plugin's actions and objects (crm_register_audit_labels).
AUDIT_LABELS = (
    ("salon_events.campaign_created", _l("新建营销活动")),
    ("salon_events.campaign_updated", _l("修改营销活动")),
    ("salon_events.campaign_status", _l("变更活动状态")),
    ("salon_events.round_created", _l("新建活动场次")),
    ("salon_events.round_updated", _l("修改活动场次")),
    ("salon_events.round_deleted", _l("删除活动场次")),
    ("salon_events.round_open", _l("重新开放报名")),
    ("salon_events.round_closed", _l("截止报名")),
    ("salon_events.rounds_split", _l("按人数拆分场次")),
    ("salon_events.route_saved", _l("保存游学线路")),
    ("salon_events.invited", _l("邀约客户")),
    ("salon_events.invitation_removed", _l("移除邀约")),
    ("salon_events.registered", _l("活动报名")),
    ("salon_events.registration_cancelled", _l("取消报名")),
    ("salon_events.checked_in", _l("现场签到")),
    ("salon_events.step_logged", _l("登记活动流程")),
    ("salon_events.photo_uploaded", _l("上传活动照片")),
    ("salon_events.outcome", _l("登记活动成效")),
    ("salon_events.exported", _l("导出活动报名")),
    ("salon_events.cert_template_saved", _l("保存证书模板")),
    ("salon_events.signature_recorded", _l("登记行长签名")),
    ("salon_events.signature_refused", _l("拒绝登记签名")),
    ("salon_events.certificates_printed", _l("打印实习证明")),
    ("salon_events.certificates_refused", _l("拒绝打印实习证明")),
    ("salon_events_campaign", _l("营销活动")),
    ("salon_events_session", _l("活动场次")),
    ("salon_events_route", _l("游学线路")),
    ("salon_events_invitation", _l("活动邀约")),
    ("salon_events_registration", _l("活动报名")),
    ("salon_events_signature", _l("行长签名")),
)


class SalonEventsPlugin:
    name = "salon_events"
    label = "营销活动"
    description = "宝贝银行家、游学、理财沙龙、产说会：活动、网点场次、邀约报名、现场签到与流程、成效统计、实习证明打印"
    version = "1.0"
    default_enabled = False

    @hookimpl
    def crm_register_blueprints(self, app):
        from plugins.salon_events.views import bp
        from plugins.salon_events.views_cert import bp as cert_bp

        return [bp, cert_bp]

    @hookimpl
    def crm_register_permissions(self):
        return [
            Permission("salon_events.view", _l("查看营销活动"), posts=VIEW_POSTS),
            Permission("salon_events.manage", _l("策划营销活动、证书模板与打印"), posts=MANAGE_POSTS),
            Permission("salon_events.run", _l("安排场次、邀约报名、现场签到"), posts=RUN_POSTS),
        ]

    @hookimpl
    def crm_migration_dirs(self):
        return str(Path(__file__).parent / "migrations" / "versions")

    @hookimpl
    def crm_nav_items(self, user, branch):
        return [NavItem(_l("营销活动"), "salon_events.index", icon="bi-balloon", weight=40,
                        permission="salon_events.view")]

    @hookimpl
    def crm_dashboard_widgets(self, user, branch):
        from crm.access import can

        if not can("salon_events.view", user):
            return []
        return [Widget("salon_events.upcoming", _l("近期活动场次"), url_for("salon_events.widget"), weight=40,
                       width=6)]

    @hookimpl
    def crm_register_audit_labels(self):
        return AUDIT_LABELS

    @hookimpl
    def crm_seed_demo(self, seed):
        from plugins.salon_events.demo import seed_demo

        made = seed_demo(seed)
        if not made.campaigns:
            return None
        return (f"营销活动：{made.campaigns} 个演示活动（宝贝银行家、理财沙龙、产说会、游学），{made.registrations} 人报名，"
                f"{made.printable} 张实习证明待打印")
