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
