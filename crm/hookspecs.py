"""Every crm_* hook: what it returns and when it is called (design §3.2)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("crm")
hookimpl = pluggy.HookimplMarker("crm")

# crm_register_* hooks run once at start-up over every installed plugin.
# The others run per request over the plugins enabled for the current user's 分行.


@hookspec
def crm_register_blueprints(app: Any) -> Iterable[Any]:
    """Return the plugin's Flask blueprints. Core mounts each under /p/<plugin-name> and gates it:
    every route answers 404 for users whose 分行 has the plugin disabled.

    Example::

        @hookimpl
        def crm_register_blueprints(self, app):
            return [views.bp]
    """


@hookspec
def crm_register_permissions() -> Iterable[Any]:
    """Return Permission objects (crm.contrib.Permission) named '<plugin>.<verb>', with the posts that hold them.

    Example::

        @hookimpl
        def crm_register_permissions(self):
            return [Permission("salon_events.edit", "编辑活动", posts=("marketing",))]
    """


@hookspec
def crm_register_commands(cli: Any) -> None:
    """Add click commands to the `crm` command group (called once at start-up, for every installed plugin).

    Example::

        @hookimpl
        def crm_register_commands(self, cli):
            cli.add_command(recompute_command)
    """


@hookspec
def crm_migration_dirs() -> str | None:
    """Return the folder of the plugin's Alembic versions (its own branch label), or None.

    Example::

        @hookimpl
        def crm_migration_dirs(self):
            return str(Path(__file__).parent / "migrations")
    """


@hookspec
def crm_register_segment_rules() -> Iterable[Any]:
    """Return SegmentRule objects; each compiles its parameters to a SQLAlchemy expression, so segments are
    computed in the database. Offered in the UI only to branches that enable the contributing plugin.

    Example::

        @hookimpl
        def crm_register_segment_rules(self):
            return [SegmentRule("no_loan", "无贷户", compile=lambda p: Customer.has_loan.is_(False))]
    """


@hookspec
def crm_register_pdf_documents() -> Iterable[Any]:
    """Return PdfDocument objects the plugin can print (offered only where the plugin is enabled).

    Example::

        @hookimpl
        def crm_register_pdf_documents(self):
            return [PdfDocument("certificate", "实习证明", "salon_events/certificate.html")]
    """


@hookspec
def crm_register_audit_labels() -> Iterable[tuple[str, Any]]:
    """Return (code, label) pairs naming the plugin's audit actions ("plugin.verb") and audit target types
    ("plugin_table") on the audit log page, in the user's language. Called once at start-up.

    Example::

        @hookimpl
        def crm_register_audit_labels(self):
            return [("salon_events.registered", _l("活动报名")), ("salon_events_session", _l("活动场次"))]
    """


@hookspec
def crm_nav_items(user: Any, branch: Any) -> Iterable[Any]:
    """Return NavItem objects for the top menu, for `user` whose 分行 is `branch` (None for the system admin).

    Example::

        @hookimpl
        def crm_nav_items(self, user, branch):
            return [NavItem("客户分层", "segmentation.index", icon="bi-diagram-3", weight=30)]
    """


@hookspec
def crm_customer_panels(customer: Any, user: Any, branch: Any) -> Iterable[Any]:
    """Return Panel objects shown on a customer's page; each loads lazily from its URL (an HTMX fragment).
    Side-column boxes by default; `Panel(..., wide=True)` puts a table-like box in the main column.

    Example::

        @hookimpl
        def crm_customer_panels(self, customer, user, branch):
            return [Panel("tiers", "分层历史", url_for("segmentation.panel", customer_id=customer.id))]
    """


@hookspec
def crm_dashboard_widgets(user: Any, branch: Any) -> Iterable[Any]:
    """Return Widget objects for the dashboard; each loads lazily from its URL.

    Example::

        @hookimpl
        def crm_dashboard_widgets(self, user, branch):
            return [Widget("pyramid", "客户分层", url_for("segmentation.pyramid_widget"))]
    """


@hookspec
def crm_plugin_available(plugin_name: str, branch: Any) -> bool | None:
    """Veto: return False to make `plugin_name` unavailable to `branch` (it cannot be enabled there);
    None or True to abstain. Any False wins.

    Example::

        @hookimpl
        def crm_plugin_available(self, plugin_name, branch):
            return False if plugin_name == "loan_insurance" and branch.code == "B99" else None
    """


@hookspec
def crm_customer_saved(customer: Any, is_new: bool) -> None:
    """Event: a customer was created (is_new) or edited and committed. Return value ignored.

    Example::

        @hookimpl
        def crm_customer_saved(self, customer, is_new):
            services.retier(customer)
    """


@hookspec
def crm_customers_imported(created_ids: list[int], updated_ids: list[int], user: Any, branch: Any) -> None:
    """Event: an Excel/CSV import by `user` committed a batch of customers of `branch` (a 分行): `created_ids`
    were created, `updated_ids` had stored values changed (rows that matched a customer but changed nothing are in
    neither). Called for the plugins enabled for `branch`, after each committed chunk of the import (at most a few
    thousand rows; a chunk holding customers of several 分行 makes one call per 分行), never per row — an import
    writes up to 200,000 rows — and `crm_customer_saved` is not called for imported rows. Once per chunk rather than
    once at the end: the id lists stay small enough for one `IN (…)` query, and chunks already committed are
    reported even if the import stops later. Read the customers through `scoped(Customer, user)`. Return value
    ignored.

    Example::

        @hookimpl
        def crm_customers_imported(self, created_ids, updated_ids, user, branch):
            services.retier_many([*created_ids, *updated_ids])
    """


@hookspec(firstresult=True)
def crm_allocation_quotas(user: Any, branch: Any) -> dict[tuple[str, str], int] | None:
    """Per-post tier quotas for allocation (包户包效 R-08/R-14, A-04): `{(tier_code, post): n}` = each staff member
    of `post` maintains at most `n` customers of tier `tier_code`; a (tier, post) missing from a non-empty dict means
    that post gets none of that tier. Return the dict in allocation order (top tier first, then the R-07 claim
    order; "按配额分配" follows it), or None (or an empty dict) for "no quotas here": allocation then works without
    them. Called when the outlet head `user` (of 分行 `branch`) opens the claims page or allocates, for the plugins
    enabled for `branch`. firstresult: the first non-None answer is used, so only one plugin should supply quotas.

    Example::

        @hookimpl
        def crm_allocation_quotas(self, user, branch):
            return {("T1", "outlet_head"): 20, ("T0", "back_office"): 100}
    """


@hookspec
def crm_seed_demo(seed: int) -> str | None:
    """Demo data: fill this plugin's tables for the demo database (`crm serve --demo`, `crm demo --customers N`),
    after core has made the organisation, the staff and the customers. Called once, for every installed plugin
    (the demo switches every plugin on); use `seed` for any randomness so the same seed gives the same data, act
    through the plugin's own services so the data obeys its rules, and commit. Return a one-line Chinese summary
    to print, or None.

    Example::

        @hookimpl
        def crm_seed_demo(self, seed):
            return f"银保贷：{services.seed_demo(seed)} 笔演示案件"
    """
