"""Core features contributed through the same hooks plugins use, so the mechanism runs on every page."""

from __future__ import annotations

from flask import url_for

from crm.contrib import NavItem, Panel, Widget
from crm.hookspecs import hookimpl
from crm.i18n import gettext as _  # the per-request catalogue: the menu is built on every page


class CorePlugin:
    name = "core"

    @hookimpl
    def crm_nav_items(self, user, branch):
        items = [
            NavItem(_("工作台"), "dashboard.index", icon="bi-speedometer2", weight=0),
            NavItem(_("客户"), "customers.index", icon="bi-person-vcard", weight=10, permission="customers.view"),
            NavItem(_("台账"), "customers.ledger_page", icon="bi-printer", weight=14, permission="customers.view"),
            NavItem(_("工作日志"), "activity.logs", icon="bi-journal-check", weight=15),
            NavItem(_("日志达标"), "activity.compliance", icon="bi-clipboard-check", weight=16,
                    permission="activity.review"),
            NavItem(_("员工账号"), "users.index", icon="bi-people", weight=80, permission="users.view"),
            NavItem(_("机构管理"), "admin.org", icon="bi-diagram-3", weight=90, permission="org.view"),
            NavItem(_("工作日历"), "admin.workdays_page", icon="bi-calendar3", weight=92, permission="org.manage"),
            NavItem(_("插件管理"), "admin.plugins", icon="bi-plug", weight=95, permission="plugins.manage"),
            NavItem(_("后台任务"), "admin.failed_jobs", icon="bi-exclamation-octagon", weight=97, permission="jobs.manage"),
            NavItem(_("审计日志"), "admin.audit_log", icon="bi-journal-text", weight=99, permission="audit.view"),
        ]
        if user is not None and getattr(user, "outlet_id", None) is not None:
            # Claiming and allocating happen inside one outlet: staff without an outlet have no pool.
            items.append(NavItem(_("认领分配"), "customers.claim_page", icon="bi-person-check", weight=12,
                                 permission="customers.claim"))
        return items

    @hookimpl
    def crm_customer_panels(self, customer, user, branch):
        return [
            Panel("core.activity", _("联系与跟进"), url_for("activity.timeline", customer_id=customer.id), weight=5),
            Panel("core.maintenance", _("维护与归属"),
                  url_for("customers.maintenance_panel", customer_id=customer.id), weight=10),
            Panel("core.products", _("持有产品"),
                  url_for("customers.profile_panel", customer_id=customer.id, section="products"), weight=5, wide=True),
            *([Panel("core.family", _("家庭成员"),
                     url_for("customers.profile_panel", customer_id=customer.id, section="family"), weight=10,
                     wide=True)] if getattr(customer, "kind", None) == "personal" else []),
        ]

    @hookimpl
    def crm_dashboard_widgets(self, user, branch):
        return [
            Widget("core.reminders", _("待跟进与客户生日"), url_for("activity.reminders"), weight=5, width=6),
            Widget("core.org", _("机构与人员"), url_for("dashboard.org_widget"), weight=90, width=6),
            Widget("core.logins", _("我的最近登录"), url_for("dashboard.logins_widget"), weight=95, width=6),
        ]
