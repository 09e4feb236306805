"""Issue 8, promise 1 — the access matrix: every route of `app.url_map` (core and every built-in plugin, enabled for
both 分行) × every post group (系统管理员, 分行负责人, 市场营销岗, 网点负责人, 个人客户经理, 柜员, 大堂经理) × every
object scope (own, a colleague's at the same outlet, another outlet of the 分行, the other 分行), GET (page and
htmx fragment) and POST, compared with the DECLARED policy of the table below; and not one canary of a row outside
the actor's scope in any response (pages, fragments, JSON, Excel, PDF, searches for the canary text, phone and ID).

How the expected status is derived (`expected()`):
- the route's `@policy` is public → any non-error answer;
- the actor's post lacks the route's permission (or the finer one the view checks, `R(needs=...)`) → 403. The
  permission check runs BEFORE the object lookup (crm/web.py `enforce_policy`), so a post without the permission
  gets 403 whatever the object's scope — the same for every route;
- otherwise the object is looked up through the scope: in scope → allowed (2xx/3xx, or 400/409/422 for a POST whose
  empty form is refused), out of scope → 404, the same bytes as an id that does not exist.
Which scopes an actor may open is the object family's visibility rule (`RULES`): "person" objects follow the post's
data scope (all / 分行 subtree / outlet / what one maintains); "outlet" objects belong to an outlet as a whole (every
post of the outlet sees them); "branch" objects belong to a 分行 (every post of it sees them); "job" objects only
their starter.
The branch posts and the administrator maintain no customers, so "own" objects exist for the outlet posts only.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import url_for

from crm.access import can, policy_of
from crm.extensions import db
from crm.roles import SCOPE_ALL, SCOPE_BRANCH, SCOPE_OUTLET
from tests.conftest import PASSWORD, Client
from tests.security.matrix_world import (
    CANARY_RE,
    CERT_RE,
    PHONE_RE,
    SCOPES,
    World,
    build_world,
    visible_rows,
)
from tests.test_access import visible_text

ALLOWED_GET = {200, 204, 302, 303}
ALLOWED_POST = {200, 201, 204, 302, 303, 400, 409, 422}


@dataclass(frozen=True)
class R:
    """The declared matrix policy of one endpoint.

    args: overrides of the object family (or the literal value) per URL argument;
    needs: a finer permission the view itself checks after the route's (403 for posts without it);
    post: the form a POST sends (besides the CSRF token), for actions whose empty form would change shared state;
    skip: why the route is deliberately not exercised (it is still listed and its policy still checked);
    scope_first: the view looks the object up BEFORE checking `needs` / `refuse` (the usual order), so out of
        scope answers 404 even to a post without the finer permission; False where the view checks the post first.
    """

    args: dict = field(default_factory=dict)
    needs: str | None = None
    post: dict | None = None
    skip: str | None = None
    scope_first: bool = True
    search: bool = False
    query: dict = field(default_factory=dict)     # query-string arguments naming objects: arg → family
    refuse: dict = field(default_factory=dict)    # post code → the status the view answers it, in or out of scope
    why: str = ""                                 # the reason for `refuse` / `self_refused` / `empty_post_404`
    self_refused: bool = False                    # one's own account (the "own" user) is refused: 403
    post_needs: str | None = None                 # `needs`, for the POST of a GET/POST route only
    empty_post_404: bool = False                  # the empty form names no row of the object: 404 in scope too
    in_scope_404: bool = False                    # in scope too, 404 (a job of the world has no file to send)
    extra_ok: frozenset = frozenset()             # further statuses a route may answer (429 of a rate limit)
    no_leak_check: str = ""                       # why the canary check does not apply (a capability URL)
    # A PDF rendered per request (0.3–0.6 s each): in scope, rendered for the narrowest and the widest post that may
    # open it at each scope (what a narrower post must not see shows with the first; everything with the last);
    # every refusal is still probed for every post.
    rendered: bool = False


# URL argument → object family of the world (matrix_world.py); literal values for arguments that name no object.
ARG_FAMILIES = {
    "activity_id": "activity", "customer_id": "customer", "row_id": "family_member", "user_id": "user",
    "outlet_id": "outlet", "branch_id": "branch", "case_id": "case", "doc_id": "document", "insurer_id": "insurer",
    "agreement_id": "agreement", "suspension_id": "suspension", "campaign_id": "campaign",
    "certificate_id": "certificate", "signature_id": "signature", "invitation_id": "invitation",
    "photo_id": "photo", "reg_id": "registration", "session_id": "session", "route_id": "salon_route",
    "token": "token", "policy_id": "policy", "period_id": "period", "scheme_id": "scheme", "list_id": "seg_list",
    "rule_id": "seg_rule", "entry_id": "entry", "group_id": "group", "rollout_id": "rollout",
    "item_id": "rollout_item", "task_id": "task", "visit_id": "visit", "target_id": "session",
}
ARG_VALUES = {"section": "family", "field_name": "phone", "form": "claim", "name": "segmentation", "kind": "round"}
# Object family → visibility rule.
RULES = {
    **dict.fromkeys(("customer", "corporate", "activity", "family_member", "product", "case", "document", "policy",
                     "entry", "task", "visit", "user"), "person"),
    **dict.fromkeys(("session", "photo", "group", "rollout", "rollout_item", "invitation", "registration",
                     "certificate", "outlet"), "outlet"),
    **dict.fromkeys(("campaign", "salon_route", "signature", "seg_list", "seg_rule", "insurer", "agreement",
                     "suspension", "period", "scheme", "branch"), "branch"),
    **dict.fromkeys(("job:imports", "job:ledgers", "job:certificates", "job:map_imports"), "job"),
    "token": "public",
    "job_admin": "person",
    "activity_mine": "job",
    "scored_user": "person",     # a person assessed in the period (the outlet posts)      # a follow-up is closed by the person who set it
    "customer_claim": "outlet",  # R-07: claimers see and claim (or mark 重复认领) the outlet's customers
}
IMPORT_JOB = {"job_id": "job:imports"}
LEDGER_JOB = {"job_id": "job:ledgers"}
CERT_JOB = {"job_id": "job:certificates"}
MAP_JOB = {"job_id": "job:map_imports"}
CORPORATE = {"customer_id": "corporate"}
ADMIN_JOB = {"kind": "imports", "job_id": "job_admin"}  # the failed-jobs page: anyone's job, for the administrator

# ---------------------------------------------------------------- THE MATRIX: one entry per endpoint
MATRIX: dict[str, R] = {
    "activity.compliance": R(),
    "activity.done": R(args={"activity_id": "activity_mine"}),
    "activity.logs": R(search=True),
    "activity.record": R(),
    "activity.reminders": R(),
    "activity.timeline": R(),
    "admin.audit_log": R(),
    "admin.branch_form": R(),
    "admin.failed_job_delete": R(args=ADMIN_JOB),
    "admin.failed_job_retry": R(args=ADMIN_JOB, in_scope_404=True, why="the world's jobs carry no registered work to run again"),
    "admin.failed_jobs": R(),
    "admin.org": R(),
    "admin.outlet_form": R(),
    "admin.plugin_settings": R(),
    "admin.plugin_toggle": R(post={"branch": "", "enabled": "1"}),
    "admin.plugins": R(),
    "admin.workdays_page": R(),
    "admin.workdays_remove": R(),
    "admin.workdays_save": R(),
    "auth.change_password": R(),
    "auth.login": R(),
    "auth.login_totp": R(),
    "auth.logout": R(skip="ends the session every other probe of the actor runs in; logout is tested in tests/test_auth.py"),
    "auth.set_language": R(post={"lang": "zh_Hans_CN"}),
    "auth.totp_disable": R(refuse={p: 404 for p in ("outlet_head", "personal_rm", "low_counter_teller", "lobby_manager", "marketing")}, why="the second factor is offered to 系统管理员, 分行管理员 and 分行负责人 only"),
    "auth.totp_enable": R(refuse={p: 404 for p in ("outlet_head", "personal_rm", "low_counter_teller", "lobby_manager", "marketing")}, why="the second factor is offered to 系统管理员, 分行管理员 and 分行负责人 only"),
    "auth.totp_page": R(refuse={p: 404 for p in ("outlet_head", "personal_rm", "low_counter_teller", "lobby_manager", "marketing")}, why="the second factor is offered to 系统管理员, 分行管理员 and 分行负责人 only"),
    "auth.totp_reset": R(refuse={"outlet_head": 403}, why="only the system administrator resets a second factor", scope_first=False),
    "customers.allocate": R(),
    "customers.allocate_by_quota": R(),
    "customers.claim": R(args={"customer_id": "customer_claim"}, refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "customers.claim_page": R(search=True, refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "customers.count": R(search=True),
    "customers.create": R(),
    "customers.detail": R(),
    "customers.edit": R(),
    "customers.export": R(search=True),
    "customers.handover": R(),
    "customers.import_job": R(args=IMPORT_JOB),
    "customers.import_page": R(),
    "customers.import_progress": R(args=IMPORT_JOB),
    "customers.import_rejects": R(args=IMPORT_JOB, in_scope_404=True, why="the world's jobs failed before writing a file: nothing to send"),
    "customers.import_template": R(),
    "customers.index": R(search=True),
    "customers.ledger_download": R(args=LEDGER_JOB, in_scope_404=True, why="the world's jobs failed before writing a file: nothing to send"),
    "customers.ledger_job": R(args=LEDGER_JOB),
    "customers.ledger_job_progress": R(args=LEDGER_JOB),
    "customers.ledger_page": R(),
    "customers.ledger_print": R(rendered=True),
    "customers.maintainer_choices": R(search=True),
    "customers.maintenance_panel": R(),
    "customers.outlet_choices": R(search=True),
    "customers.profile_create": R(),
    "customers.profile_delete": R(),
    "customers.profile_edit": R(),
    "customers.profile_new": R(),
    "customers.profile_panel": R(),
    "customers.profile_reveal": R(),
    "customers.profile_update": R(),
    "customers.resolve": R(refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "customers.reveal": R(),
    "dashboard.index": R(search=True),
    "dashboard.logins_widget": R(),
    "dashboard.org_widget": R(),
    "loan_insurance.case_checks": R(),
    "loan_insurance.case_customers": R(search=True),
    "loan_insurance.case_edit": R(needs="loan_insurance.prepare", scope_first=True),
    "loan_insurance.case_new": R(),
    "loan_insurance.case_override": R(),
    "loan_insurance.case_page": R(),
    "loan_insurance.case_review": R(),
    "loan_insurance.case_transition": R(),
    "loan_insurance.claim_docs": R(),
    "loan_insurance.claim_event": R(),
    "loan_insurance.claim_measure": R(),
    "loan_insurance.claim_open": R(),
    "loan_insurance.claim_page": R(),
    "loan_insurance.claim_payment": R(),
    "loan_insurance.claim_recovery": R(),
    "loan_insurance.claim_submit": R(),
    "loan_insurance.claim_suspend": R(refuse={"outlet_head": 403}, why="suspending an insurer is for the panel managers and approvers (manage_panel or approve)", scope_first=False),
    "loan_insurance.document_file": R(),
    "loan_insurance.document_mark": R(),
    "loan_insurance.document_upload": R(),
    "loan_insurance.documents": R(),
    "loan_insurance.export": R(search=True),
    "loan_insurance.form_pdf": R(rendered=True),
    "loan_insurance.index": R(search=True),
    "loan_insurance.panel": R(),
    "loan_insurance.panel_agreement_edit": R(),
    "loan_insurance.panel_agreement_new": R(),
    "loan_insurance.panel_customer": R(args=CORPORATE),
    "loan_insurance.panel_insurer_edit": R(),
    "loan_insurance.panel_insurer_new": R(),
    "loan_insurance.panel_lift": R(refuse={"outlet_head": 403}, why="suspending an insurer is for the panel managers and approvers (manage_panel or approve)", scope_first=False),
    "loan_insurance.panel_suspend": R(refuse={"outlet_head": 403}, why="suspending an insurer is for the panel managers and approvers (manage_panel or approve)", scope_first=False),
    "loan_insurance.widget": R(),
    "salon_events.campaign": R(),
    "salon_events.campaign_edit": R(),
    "salon_events.campaign_new": R(),
    "salon_events.campaign_status": R(),
    "salon_events.checkin": R(),
    "salon_events.checkin_page": R(),
    "salon_events.customer_search": R(search=True),
    "salon_events.export": R(),
    "salon_events.index": R(search=True),
    "salon_events.invitation_remove": R(),
    "salon_events.invitation_status": R(),
    "salon_events.invite": R(),
    "salon_events.photo": R(),
    "salon_events.photo_upload": R(),
    "salon_events.register": R(),
    "salon_events.register_form": R(query={"customer_id": "customer"}),
    "salon_events.registration_cancel": R(),
    "salon_events.registration_contact": R(),
    "salon_events.registration_outcome": R(),
    "salon_events.results": R(),
    "salon_events.round_create": R(),
    "salon_events.round_delete": R(),
    "salon_events.round_edit": R(),
    "salon_events.round_page": R(),
    "salon_events.round_staff": R(query={"outlet_id": "outlet"}, refuse={"personal_rm": 404, "lobby_manager": 404}, why="a round's staff pickers are for who may place rounds at an outlet"),
    "salon_events.round_status": R(),
    "salon_events.route_page": R(),
    "salon_events.route_save": R(),
    "salon_events.step_log": R(),
    "salon_events.widget": R(),
    "salon_events_cert.page": R(),
    "salon_events_cert.preview": R(),
    "salon_events_cert.print_batch": R(),
    "salon_events_cert.print_job": R(args=CERT_JOB),
    "salon_events_cert.print_job_download": R(args=CERT_JOB, in_scope_404=True, why="the world's jobs failed before writing a file: nothing to send"),
    "salon_events_cert.print_job_progress": R(args=CERT_JOB),
    "salon_events_cert.print_one": R(),
    "salon_events_cert.save_template": R(),
    "salon_events_cert.signature_image": R(args={"kind": "image"}),
    "salon_events_cert.upload_signature": R(),
    "salon_events_verify.verify": R(extra_ok=frozenset({429}), no_leak_check="a certificate's QR token is a capability: the public page shows that certificate by design"),
    "scorecards.banca_export": R(search=True),
    "scorecards.banca_import": R(needs="scorecards.banca"),
    "scorecards.banca_import_template": R(needs="scorecards.banca"),
    "scorecards.banca_index": R(),
    "scorecards.banca_policies": R(search=True),
    "scorecards.banca_policy": R(post_needs="scorecards.banca"),
    "scorecards.banca_policy_new": R(needs="scorecards.banca"),
    "scorecards.banca_policy_status": R(needs="scorecards.banca"),
    "scorecards.entry": R(needs="scorecards.enter"),
    "scorecards.entry_cell": R(needs="scorecards.enter", empty_post_404=True, why="the empty form names no cell"),
    "scorecards.export": R(),
    "scorecards.grade_event": R(needs="scorecards.manage", scope_first=False),
    "scorecards.grade_person": R(),
    "scorecards.grades": R(),
    "scorecards.import_page": R(needs="scorecards.enter"),
    "scorecards.import_template": R(needs="scorecards.enter"),
    "scorecards.index": R(),
    "scorecards.leaderboard": R(),
    "scorecards.outlet_pdf": R(refuse={p: 404 for p in ("personal_rm", "low_counter_teller", "lobby_manager")}, why="an outlet's report is outside what own-scope staff see", rendered=True),
    "scorecards.period": R(),
    "scorecards.period_compute": R(needs="scorecards.manage"),
    "scorecards.period_correct": R(needs="scorecards.manage"),
    "scorecards.period_crm": R(needs="scorecards.manage"),
    "scorecards.period_lock": R(needs="scorecards.manage"),
    "scorecards.period_open": R(needs="scorecards.manage"),
    "scorecards.period_review": R(needs="scorecards.review"),
    "scorecards.person": R(args={"user_id": "scored_user"}),
    "scorecards.person_pdf": R(args={"user_id": "scored_user"}, rendered=True),
    "scorecards.rewards": R(refuse={p: 403 for p in ("personal_rm", "low_counter_teller", "lobby_manager")}, why="the reward distribution is seen per outlet, by its management and up"),
    "scorecards.rewards_person": R(empty_post_404=True, why="the empty form names no person or pool (looked up before the manage check)"),
    "scorecards.rewards_pool": R(empty_post_404=True, why="the empty form names no person or pool (looked up before the manage check)"),
    "scorecards.rhythm": R(),
    "scorecards.rhythm_export": R(),
    "scorecards.scheme": R(),
    "scorecards.scheme_active": R(needs="scorecards.schemes", scope_first=False),
    "scorecards.scheme_save": R(needs="scorecards.schemes", scope_first=False),
    "scorecards.schemes": R(),
    "scorecards.widget": R(),
    "segmentation.condition_row": R(),
    "segmentation.delete_list": R(),
    "segmentation.delete_rule": R(refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "segmentation.export_list": R(needs="customers.export"),
    "segmentation.index": R(search=True),
    "segmentation.list_index": R(),
    "segmentation.panel": R(),
    "segmentation.rate": R(),
    "segmentation.recompute": R(refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "segmentation.recompute_progress": R(args={"job_id": "mx-segmentation-no-such-job"}, in_scope_404=True, why="the world builds no recompute job: every id answers 404 (who sees a real one: tests/plugins/segmentation/test_recompute_job.py)"),
    "segmentation.save_fivec": R(refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "segmentation.save_ladder": R(refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "segmentation.save_list": R(refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "segmentation.save_params": R(refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "segmentation.save_quotas": R(refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "segmentation.save_rule": R(refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "segmentation.show_list": R(),
    "segmentation.suggest_quotas": R(refuse={"admin": 404}, why="the administrator belongs to no outlet or 分行: nothing of its own to claim, allocate or segment"),
    "segmentation.widget": R(),
    "target_map.add_entry": R(),
    "target_map.assign": R(),
    "target_map.candidates": R(search=True),
    "target_map.claim": R(),
    "target_map.edit_entry": R(),
    "target_map.entry_card": R(),
    "target_map.export": R(needs="customers.export"),
    "target_map.import_job": R(args=MAP_JOB),
    "target_map.import_page": R(),
    "target_map.import_rejects": R(args=MAP_JOB, in_scope_404=True, why="the world's jobs failed before writing a file: nothing to send"),
    "target_map.import_template": R(),
    "target_map.index": R(search=True),
    "target_map.map_json": R(),
    "target_map.outlet_map": R(),
    "target_map.outlet_table": R(),
    "target_map.panel": R(args=CORPORATE),
    "target_map.remove_entry": R(),
    "target_map_plans.close_group": R(),
    "target_map_plans.create_group": R(),
    "target_map_plans.create_task": R(),
    "target_map_plans.create_visit": R(),
    "target_map_plans.customer_options": R(search=True),
    "target_map_plans.delete_task": R(),
    "target_map_plans.edit_visit": R(),
    "target_map_plans.group": R(),
    "target_map_plans.groups": R(),
    "target_map_plans.index": R(),
    "target_map_plans.new_group": R(),
    "target_map_plans.new_task": R(search=True),
    "target_map_plans.new_visit": R(),
    "target_map_plans.panel": R(args=CORPORATE),
    "target_map_plans.reschedule": R(),
    "target_map_plans.restart_rollout": R(),
    "target_map_plans.rollout": R(),
    "target_map_plans.save_advice": R(refuse={"admin": 403, "personal_rm": 403}, why="负责人建议 is the outlet management's"),
    "target_map_plans.save_plan_text": R(),
    "target_map_plans.start_rollout": R(),
    "target_map_plans.task": R(),
    "target_map_plans.tick_item": R(),
    "target_map_plans.update_group": R(),
    "target_map_plans.update_task": R(),
    "target_map_plans.update_visit": R(),
    "target_map_plans.widget": R(),
    "users.create": R(),
    "users.detail": R(post_needs="users.manage", self_refused=True, why="nobody edits their own account here"),
    "users.index": R(search=True),
    "users.reset_password": R(self_refused=True, why="nobody resets or disables their own account"),
    "users.set_active": R(post={"active": "1"}, self_refused=True, why="nobody resets or disables their own account"),
}


def visible_scopes(rule: str, post_scope: str) -> set[str]:
    """The scopes whose objects a user of `post_scope` may open, for a visibility rule."""
    if rule == "public" or post_scope == SCOPE_ALL and rule != "job":
        return set(SCOPES)
    if rule == "job":
        return {"own"}
    if post_scope == SCOPE_BRANCH:
        return {"own", "same_outlet", "other_outlet"}
    if rule == "branch":
        return {"own", "same_outlet", "other_outlet"}
    if rule == "outlet" or post_scope == SCOPE_OUTLET:
        return {"own", "same_outlet"}
    return {"own"}


# ---------------------------------------------------------------- fixtures: one app and one world per module

@pytest.fixture(scope="module")
def world_app(tmp_path_factory, schema_template):
    """An app of its own for this module (the conftest `app` is per test): building the world once keeps the
    whole matrix within its time budget. On PostgreSQL it empties the shared test database first, as make_app."""
    import shutil

    from crm import create_app
    from tests.conftest import ALL_PLUGINS, PG_URL, TEMPLATES, IsolatedClient, _truncate_pg, base_config

    folder = tmp_path_factory.mktemp("matrix")
    if PG_URL:
        url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    else:
        shutil.copy(schema_template, folder / "db.sqlite3")
        url = f"sqlite:///{folder / 'db.sqlite3'}"
    plugins = ",".join(p for p in ALL_PLUGINS.split(",") if p != "tests.plugin_example")
    # A view that crashes answers 500 like in production (a mismatch in the report) instead of ending the run.
    app = create_app(base_config(folder, url, CRM_PLUGINS=plugins, PROPAGATE_EXCEPTIONS=False))
    app.test_client_class = IsolatedClient
    app.jinja_env.bytecode_cache = TEMPLATES
    with app.app_context():
        if PG_URL:
            _truncate_pg()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def world(world_app) -> World:
    return build_world(PASSWORD)


# ---------------------------------------------------------------- the matrix run

@dataclass
class Probe:
    endpoint: str
    method: str
    actor: str
    scope: str          # one of SCOPES, or "-" for a route without objects
    url: str
    expect: set[int]
    htmx: bool = False
    objects: tuple = ()  # (family, id) of the objects in the URL, to tell "deleted by an earlier POST" from a leak
    echo: str = ""       # a search query the page echoes (the search box): not a leak by itself


def routes(app) -> Iterator[tuple]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def expected(spec: R, pol, user, families: dict[str, str], scope: str, method: str) -> set[int]:
    allowed = (ALLOWED_POST if method == "POST" else ALLOWED_GET) | spec.extra_ok
    if pol.kind == "public":
        return allowed | {404} if families else allowed
    if pol.kind == "permission" and not can(pol.permission, user):
        return {403}
    in_scope = all(scope in visible_scopes(RULES[f], user.scope) for f in families.values()) if families else True
    needs = spec.post_needs if method == "POST" and spec.post_needs else spec.needs
    lacks = bool(needs) and not can(needs, user)
    if not spec.scope_first:
        if lacks:
            return {403}
        if user.post in spec.refuse:
            return {spec.refuse[user.post]}
    if not in_scope:
        return {404}
    if lacks:
        return {403}
    if user.post in spec.refuse:
        return {spec.refuse[user.post]}
    if spec.in_scope_404:
        return {404}
    if spec.self_refused and scope == "own" and (method == "POST" or not spec.post_needs):
        return {403}
    if spec.empty_post_404 and method == "POST":
        return {404}
    return allowed


def declared(rule) -> tuple[R | None, dict[str, str], dict[str, str], list[str]]:
    """A route's matrix entry, the object family per object argument, literal values, and the table's errors."""
    spec = MATRIX.get(rule.endpoint)
    if spec is None:
        return None, {}, {}, [f"route {rule.endpoint} ({rule.rule}) has no declared matrix policy"]
    families: dict[str, str] = {}
    values: dict[str, str] = {}
    errors = []
    for arg in sorted(rule.arguments):
        choice = spec.args.get(arg, ARG_FAMILIES.get(arg, ARG_VALUES.get(arg)))
        if choice is None:
            errors.append(f"route {rule.endpoint}: unknown argument {arg!r} (add it to ARG_FAMILIES)")
        elif choice in RULES:
            families[arg] = choice
        else:
            values[arg] = choice
    return spec, families, values, errors


def plan(app, world: World) -> tuple[list[Probe], list[str], list[str]]:
    """Every probe of the matrix, the table's own errors, and the routes listed as not exercised."""
    probes: list[Probe] = []
    errors: list[str] = []
    skipped: list[str] = []
    seen: set[tuple] = set()
    fragments: set[tuple] = set()
    for rule, method in routes(app):
        spec, families, values, problems = declared(rule)
        if spec is not None:
            families = {**families, **spec.query}
        pol = policy_of(rule.endpoint)
        if pol is None:
            problems.append(f"route {rule.endpoint} has no @policy")
        if problems:
            errors += problems
            continue
        if spec.skip:
            skipped.append(f"{rule.endpoint} {method}: {spec.skip}")
            continue
        for actor, user in world.actors.items():
            for scope in (SCOPES if families else ("-",)):
                try:
                    ids = {arg: world.get(family, scope, actor) for arg, family in families.items()}
                except KeyError:
                    continue  # no "own" object for posts that maintain nothing (branch posts, administrator)
                url = url_for(rule.endpoint, **values, **ids)
                expect = expected(spec, pol, user, families, scope, method)
                objects = tuple((families[a], i) for a, i in ids.items())
                if (actor, method, url) in seen:
                    continue  # an object of the 分行 stands for the first three scopes at once
                seen.add((actor, method, url))
                probes.append(Probe(rule.endpoint, method, actor, scope, url, expect, objects=objects))
                if method == "GET" and 200 in expect and (rule.endpoint, actor) not in fragments:
                    # The htmx variant once per route and actor, at the first scope the actor may open: out of scope
                    # it answers the same 404 before any template is chosen.
                    fragments.add((rule.endpoint, actor))
                    probes.append(Probe(rule.endpoint, method, actor, scope, url, expect, htmx=True, objects=objects))
            if spec.search and method == "GET":
                # Searched inside an object of the actor's own outlet (the campaign, the outlet's map).
                ids = {arg: world.get(family, "same_outlet", actor) for arg, family in families.items()}
                for query in search_queries(world):
                    url = url_for(rule.endpoint, **values, **ids, q=query, find=query)
                    probes.append(Probe(rule.endpoint, method, actor, "search", url,
                                        expected(spec, pol, user, {}, "-", method), echo=query))
    return thin_rendered(probes), errors, skipped


def thin_rendered(probes: list[Probe]) -> list[Probe]:
    """`R.rendered` routes: of the probes that render (allowed, in scope), the narrowest and the widest post per
    route, method and scope; every other probe stays."""
    ok = ALLOWED_GET | ALLOWED_POST
    groups: dict[tuple, list[Probe]] = {}
    for p in probes:
        if MATRIX[p.endpoint].rendered and p.expect <= ok:
            groups.setdefault((p.endpoint, p.method, p.htmx, p.scope), []).append(p)
    dropped: set[int] = set()
    for group in groups.values():
        group.sort(key=lambda p: ORDER.index(p.actor))
        dropped |= {id(p) for p in group[1:-1]}
    return [p for p in probes if id(p) not in dropped]


def search_queries(world: World) -> list[str]:
    """Search for what must not be found: the other 分行's and the other outlet's customer by canary name, mobile
    and ID number, and a colleague's customer's mobile (own-scope posts must not find it)."""
    from crm.models import Customer

    other_branch, other_outlet, colleague = (db.session.get(Customer, world.get("customer", scope, "*"))
                                             for scope in ("other_branch", "other_outlet", "same_outlet"))
    canary = CANARY_RE.search(other_branch.name).group(0)
    # The canary alone; the name without it (a leak shows the full, canaried name); mobiles and ID numbers whole.
    return [canary, other_branch.name.replace(canary, ""), other_branch.phone, other_outlet.phone,
            colleague.cert_no]


def leaks(world: World, visible: dict, text: str) -> list[str]:
    """Canaries, mobiles and ID numbers of rows outside the actor's scope found in a response."""
    from crm.models import Customer

    found = []
    for match in set(CANARY_RE.finditer(text)):
        model = world.table_codes.get(match.group(1))
        if model is not None and int(match.group(2)) not in visible[model]:
            found.append(f"{model.__tablename__}#{match.group(2)}")
    customers = visible[Customer]
    for number in set(PHONE_RE.findall(text)):
        if number in world.phones and world.phones[number] not in customers:
            found.append(f"phone of customer#{world.phones[number]}")
    for number in set(CERT_RE.findall(text)):
        if number in world.certs and world.certs[number] not in customers:
            found.append(f"ID of customer#{world.certs[number]}")
    return sorted(set(found))


def still_exists(world: World, objects: tuple) -> bool:
    from tests.security.matrix_world import family_model

    for family, value in objects:
        model = family_model(family)
        if model is not None and db.session.get(model, value) is None:
            return False
    return True


ORDER = ("teller", "lobby_manager", "personal_rm", "outlet_head", "marketing", "branch_head", "admin")
SCOPE_ORDER = ("other_branch", "other_outlet", "same_outlet", "own", "-", "search")


def test_access_matrix(world_app, world):
    app = world_app
    with app.test_request_context():
        probes, errors, skipped = plan(app, world)
    assert errors == [], "\n".join(errors)
    # GETs first, POSTs after; POSTs out of scope before in scope and the narrowest posts first, so an in-scope
    # action (a delete, a claim) changes the world only after everyone who must be refused has been refused.
    probes.sort(key=lambda p: (p.method != "GET", p.endpoint, SCOPE_ORDER.index(p.scope), ORDER.index(p.actor)))
    clients = {}
    visible = {}
    for key, user in world.actors.items():
        client = Client(app)
        assert client.login(user.login).status_code == 302, key
        clients[key] = client
        visible[key] = visible_rows(world, user)
    mismatches: list[str] = []
    leaked: list[str] = []
    counts = Counter()
    cost = Counter()
    started = time.monotonic()
    for probe in probes:
        t0 = time.monotonic()
        client = clients[probe.actor]
        headers = {"HX-Request": "true"} if probe.htmx else {}
        if probe.method == "GET":
            resp = client.get(probe.url, headers=headers)
        else:
            form = dict(MATRIX[probe.endpoint].post or {})
            resp = client.post(probe.url, form, headers=headers)
        counts[probe.method + (" hx" if probe.htmx else "")] += 1
        status = resp.status_code
        ok = status in probe.expect
        if not ok and status == 404 and probe.method == "POST" and not still_exists(world, probe.objects):
            ok = True  # an earlier in-scope POST of the matrix deleted the object: 404 is right
        if not ok:
            mismatches.append(f"{probe.method}{' hx' if probe.htmx else ''} {probe.url} as {probe.actor} "
                              f"[{probe.scope}] ({probe.endpoint}): {status}, declared {sorted(probe.expect)}")
        text = visible_text(resp)
        if probe.echo:  # the query itself, echoed in the search box and the pushed URL, is not a result
            from urllib.parse import quote, quote_plus

            for form in {probe.echo, quote(probe.echo), quote_plus(probe.echo)}:
                text = text.replace(form, "")
        resp.close()  # a file sent with send_file (a photo, a document) holds its handle until closed
        found = [] if MATRIX[probe.endpoint].no_leak_check else leaks(world, visible[probe.actor], text)
        cost[probe.endpoint] += time.monotonic() - t0
        if found:
            leaked.append(f"{probe.method} {probe.url} as {probe.actor} [{probe.scope}] ({probe.endpoint}): "
                          f"{', '.join(found[:8])}{' …' if len(found) > 8 else ''}")
    elapsed = time.monotonic() - started
    endpoints = {p.endpoint for p in probes}
    print(f"\naccess matrix: {len(endpoints)} endpoints exercised ({len(skipped)} listed as not exercised), "
          f"{len(world.actors)} actors, {len(SCOPES)} scopes, {sum(counts.values())} requests "
          f"({dict(counts)}) in {elapsed:.1f} s; {len(mismatches)} mismatches, {len(leaked)} responses with leaks")
    for line in skipped:
        print("  not exercised:", line)
    print("  slowest endpoints:", ", ".join(f"{e} {t:.1f}s" for e, t in cost.most_common(12)))
    report = "\n".join(["MISMATCHES:", *mismatches, "LEAKS:", *leaked])
    assert not mismatches and not leaked, report


def test_a_route_without_declared_matrix_policy_fails():
    """The guard itself: a new route, or a new kind of URL argument, is reported by name."""
    from werkzeug.routing import Map, Rule

    rules = Map([Rule("/mx-probe/<int:widget_id>", endpoint="mx_probe.probe"),
                 Rule("/customers/<int:customer_id>/<int:gadget_id>", endpoint="customers.detail")]).iter_rules()
    errors = [e for rule in rules for e in declared(rule)[3]]
    assert errors == ["route mx_probe.probe (/mx-probe/<int:widget_id>) has no declared matrix policy",
                      "route customers.detail: unknown argument 'gadget_id' (add it to ARG_FAMILIES)"]


def test_every_declared_entry_names_a_real_route(world_app):
    """No stale entries: a removed route's line goes too (the table stays the truth)."""
    endpoints = {r.endpoint for r in world_app.url_map.iter_rules()}
    assert sorted(set(MATRIX) - endpoints) == []
