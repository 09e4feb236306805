"""Every sensitive action writes exactly one audit row (issue 8, promise 6): each recorded action code has a test.

The static check collects every action code the core and the plugins can record — literal `audit.record("…")`
codes, codes built from a module constant (`P + "locked"`, f-strings over constants) and every action declared in
an action registry (crm.audit.ACTIONS, each plugin's crm_register_audit_labels) — and asserts that each appears in
at least one test under tests/. The tests below this check write the missing core ones; what is still missing is
listed in PENDING with the reason, and the check fails both for a new untested code and for a PENDING entry that
has meanwhile got its test (so the list only shrinks)."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from flask_login import login_user
from sqlalchemy import select

from crm.audit import ACTIONS
from crm.customers.search import keys
from crm.extensions import db
from crm.models import Customer, CustomerProduct, FamilyMember, User
from tests.audit_rows import only_row, rows_of
from tests.conftest import ALL_PLUGINS, Client

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()
HX = {"HX-Request": "true"}

# Codes without a test asserting on them yet, with the reason (code → why). Empty: every code has its test; keep it
# so, or add an entry with a reason a reviewer accepts.
PENDING: dict[str, str] = {}


# ---------------------------------------------------------------------------------------------- the static check

def _module_constants(tree: ast.Module) -> dict[str, str]:
    return {node.targets[0].id: node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def _expand(node: ast.AST, constants: dict[str, str]) -> list[str] | None:
    """Every string an expression can evaluate to, or None when it depends on a runtime value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in constants:
        return [constants[node.id]]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _expand(node.left, constants), _expand(node.right, constants)
        return None if left is None or right is None else [a + b for a in left for b in right]
    if isinstance(node, ast.IfExp):
        a, b = _expand(node.body, constants), _expand(node.orelse, constants)
        return None if a is None or b is None else a + b
    if isinstance(node, ast.JoinedStr):
        out = [""]
        for part in node.values:
            values = [part.value] if isinstance(part, ast.Constant) else _expand(part.value, constants)
            if values is None:
                return None
            out = [a + str(b) for a in out for b in values]
        return out
    return None


def recorded_codes() -> dict[str, str]:
    """Action code → where it is recorded: audit.record(...) call sites that resolve statically."""
    found: dict[str, str] = {}
    for path in sorted([*ROOT.glob("crm/**/*.py"), *ROOT.glob("plugins/**/*.py")]):
        if "migrations" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        if "audit.record(" not in source:
            continue
        tree = ast.parse(source)
        constants = _module_constants(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "record" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "audit"):
                for code in _expand(node.args[0], constants) or []:
                    found.setdefault(code, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def registered_codes(make_app) -> dict[str, str]:
    """Action codes declared in the registries (actions are 'x.y'; audit target types have no dot)."""
    app = make_app(CRM_PLUGINS=ALL_PLUGINS)
    labels = app.extensions["crm"].audit_labels
    out = {code: "crm.audit.ACTIONS" for code in ACTIONS}
    out.update({code: "plugin registry" for code in labels if "." in code and code not in out})
    return out


def _test_strings() -> str:
    """The text of every test module, where this module counts only with its test functions (not PENDING)."""
    chunks = []
    for path in ROOT.glob("tests/**/*.py"):
        source = path.read_text(encoding="utf-8")
        if path.resolve() != THIS:
            chunks.append(source)
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and \
                    node.name != "test_every_recorded_action_has_a_test":
                chunks.append(ast.get_source_segment(source, node) or "")
    return "\n".join(chunks)


def test_every_recorded_action_has_a_test(make_app):
    codes = {**registered_codes(make_app), **recorded_codes()}
    assert len(codes) > 100 and "customer.revealed" in codes and "scorecards.locked" in codes  # the scan works
    tests = _test_strings()
    covered = {code for code in codes if f'"{code}"' in tests or f"'{code}'" in tests}
    missing = sorted(f"{code} ({codes[code]})" for code in codes if code not in covered and code not in PENDING)
    assert missing == [], "audit actions without a test asserting on them"
    assert sorted(set(PENDING) & covered) == [], "these now have a test: remove them from PENDING"
    assert sorted(set(PENDING) - set(codes)) == [], "PENDING names codes nobody records or declares"


# ---------------------------------------------------------------------------------------------- one row per action


def customer_of(outlet, name: str, maintainer=None) -> Customer:
    c = Customer(outlet_id=outlet.id, kind="personal", name=name, maintainer_id=maintainer.id if maintainer else None,
                 **keys(name, None, None))
    db.session.add(c)
    db.session.commit()
    return c


def logged_in(app, login: str) -> Client:
    c = Client(app)
    assert c.login(login).status_code == 302
    return c


def test_product_update_and_reveal_write_one_row_each(app, org):
    zhang = customer_of(org.a, "张三", org.rm_a)
    product = CustomerProduct(customer_id=zhang.id, category="fund", name="沪深300指数基金",
                              amount=Decimal("30000"), account_no="FUND00998877")
    db.session.add(product)
    db.session.commit()
    rm = logged_in(app, "RA0001")
    resp = rm.post(f"/customers/{zhang.id}/products/{product.id}",
                   {"category": "fund", "name": "沪深300指数基金", "amount": "35000", "version": "1"}, headers=HX)
    assert resp.status_code == 200
    only_row("customer.product.updated", org.rm_a, ("customer", zhang.id), product_id=product.id,
             fields=["amount"])
    head = logged_in(app, "HA0001")
    resp = head.post(f"/customers/{zhang.id}/products/{product.id}/reveal", headers=HX)
    assert resp.status_code == 200 and "FUND00998877" in resp.get_data(as_text=True)
    only_row("customer.product.revealed", org.head_a, ("customer", zhang.id), product_id=product.id,
             field="account_no")
    assert len(rows_of("customer.product.updated")) == 1  # the reveal wrote no second update row


def test_family_update_and_removal_write_one_row_each(app, org):
    zhang = customer_of(org.a, "张三", org.rm_a)
    member = FamilyMember(customer_id=zhang.id, relation="spouse", name="李梅", phone="13698765432")
    db.session.add(member)
    db.session.commit()
    member_id = member.id
    rm = logged_in(app, "RA0001")
    resp = rm.post(f"/customers/{zhang.id}/family/{member_id}",
                   {"relation": "spouse", "name": "李梅梅", "version": "1"}, headers=HX)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    row = only_row("customer.family.updated", org.rm_a, ("customer", zhang.id), member_id=member_id)
    assert "name" in row.detail["fields"]
    resp = rm.post(f"/customers/{zhang.id}/family/{member_id}/delete", {"version": "2"}, headers=HX)
    assert resp.status_code == 200
    only_row("customer.family.removed", org.rm_a, ("customer", zhang.id), member_id=member_id)
    assert db.session.get(FamilyMember, member_id) is None


def test_handover_writes_one_row_for_all_moved_customers(app, org):
    for name in ("张三", "李四", "王五"):
        customer_of(org.a, name, org.rm_a)
    head = logged_in(app, "HA0001")
    assert head.post("/customers/handover", {"from_id": str(org.rm_a.id), "to_id": str(org.lobby_a.id)}
                     ).status_code == 302
    only_row("customer.handover", org.head_a, ("user", org.rm_a.id), to=org.lobby_a.id, count=3)
    moved = db.session.execute(select(Customer.maintainer_id)).scalars().all()
    assert moved == [org.lobby_a.id] * 3


def test_plugin_settings_write_one_row(app, org):
    admin = logged_in(app, "ADM001")
    assert admin.post("/admin/plugins/example/settings", {"branch": str(org.b1.id), "set_greeting": "你好",
                                                          "set_max_items": "9"}).status_code == 302
    only_row("plugin.settings", org.admin, ("plugin", "example"), branch_id=org.b1.id)
    bad = admin.post("/admin/plugins/example/settings", {"branch": str(org.b1.id), "set_max_items": "十"})
    assert bad.status_code == 422 and len(rows_of("plugin.settings")) == 1  # a refused save is not a change


class TestSegmentation:
    """The segmentation plugin's settings and lists: one row per save or delete, naming the 分行 or the object."""

    @pytest.fixture
    def app(self, make_app):
        import plugins.segmentation.models  # noqa: F401 - the plugin's tables

        app = make_app(CRM_PLUGINS="tests.plugin_example,plugins.segmentation")
        with app.app_context():
            yield app

    @pytest.fixture
    def seg(self, app, org, enable_plugin):
        enable_plugin(org.b1, "segmentation")
        return org

    @staticmethod
    def as_user(app, user, fn, *args):
        with app.test_request_context():
            login_user(db.session.get(User, user.id))
            return fn(db.session.get(User, user.id), *args)

    def test_ladder_and_params_saves_write_one_row_each(self, app, seg):
        from plugins.segmentation import services

        self.as_user(app, seg.branch_admin1, services.save_ladder, seg.b1.id,
                     [("T1", "", "50000"), ("T0", "大众", "")], "deposit")
        only_row("segmentation.ladder_saved", seg.branch_admin1, ("branch", seg.b1.id),
                 basis="deposit", tiers=[["T1", "50000"], ["T0", ""]])
        form = {k: str(v) if not isinstance(v, list) else "，".join(v) for k, v in services.DEFAULT_SETTINGS.items()}
        self.as_user(app, seg.branch_admin1, services.save_params, seg.b1.id, {**form, "affluent_aum": "300000"})
        only_row("segmentation.params_saved", seg.branch_admin1, ("branch", seg.b1.id), affluent_aum="300000")

    def test_rule_save_and_list_delete_write_one_row_each(self, app, seg):
        from plugins.segmentation import services

        rule = self.as_user(app, seg.branch_admin1, services.save_custom_rule, seg.b1.id, "VIP客户", "and",
                            [("vip", "eq", "是")])
        only_row("segmentation.rule_saved", seg.branch_admin1, ("segmentation_custom_rule", rule.id), name="VIP客户")
        self.as_user(app, seg.branch_admin1, services.recompute, seg.b1.id)  # a list needs a computed segment
        lst = self.as_user(app, seg.branch_admin1, services.save_list, seg.b1.id, "无贷户名单", "no_loan", "live")
        list_id = lst.id
        assert self.as_user(app, seg.branch_admin1, services.delete_list, seg.b1.id, list_id) is True
        only_row("segmentation.list_deleted", seg.branch_admin1, ("segmentation_list", list_id), name="无贷户名单")
        # Another 分行's list id: nothing deleted, nothing recorded.
        assert self.as_user(app, seg.branch_admin2, services.delete_list, seg.b2.id, list_id) is False
        assert len(rows_of("segmentation.list_deleted")) == 1


class TestScorecards:
    """A scorecard period's life: open, figures, CRM figures, compute, review, lock — one row per step."""

    @pytest.fixture
    def app(self, make_app):
        import plugins.scorecards.models  # noqa: F401 - the plugin's tables

        app = make_app(CRM_PLUGINS="tests.plugin_example,plugins.scorecards")
        with app.app_context():
            yield app

    @pytest.fixture
    def sc(self, app, org, enable_plugin):
        from plugins.scorecards.services import ensure_default_schemes
        from tests.plugins.scorecards.conftest import SC

        for branch in (org.b1, org.b2, None):
            enable_plugin(branch, "scorecards")
        ensure_default_schemes()
        return SC(org)

    def test_period_lifecycle_writes_one_row_per_step(self, app, sc):
        from datetime import date

        from plugins.scorecards import services as s
        from tests.plugins.scorecards.conftest import as_user

        period = as_user(sc.marketing, s.open_period, "year", date(2024, 6, 30))
        target = ("scorecards_period", period.id)
        only_row("scorecards.period_opened", sc.marketing, target)
        person = s.find_subject(period, "staff", sc.rm_senior.id)
        as_user(sc.marketing, s.set_actual, period, person, "deposits", "33")
        only_row("scorecards.actual_saved", sc.marketing, target)
        as_user(sc.marketing, s.compute_period, period)
        only_row("scorecards.computed", sc.marketing, target)
        with pytest.raises(s.ServiceError):  # maker-checker: the one who computed may not review — and no row
            as_user(sc.marketing, s.review_period, period)
        assert rows_of("scorecards.reviewed") == []
        as_user(sc.branch_head, s.review_period, period)
        only_row("scorecards.reviewed", sc.branch_head, target)
        as_user(sc.marketing, s.lock_period, period)
        only_row("scorecards.locked", sc.marketing, target)

    def test_crm_figures_pull_writes_one_row(self, app, sc):
        from datetime import date

        from plugins.scorecards import services as s
        from tests.plugins.scorecards.conftest import as_user

        month = as_user(sc.marketing, s.open_period, "month", date(2024, 11, 15))  # process figures come from the CRM
        written = as_user(sc.marketing, s.pull_crm_actuals, month)
        assert written > 0
        only_row("scorecards.crm_actuals", sc.marketing, ("scorecards_period", month.id), rows=written)


class TestTargetMapTasks:
    """Outreach-plan tasks of the 金融生态图: an edit and a delete each write one row naming the customer."""

    @pytest.fixture
    def app(self, make_app):
        import plugins.target_map.models  # noqa: F401 - the plugin's tables

        app = make_app(CRM_PLUGINS="tests.plugin_example,plugins.target_map")
        with app.app_context():
            yield app

    def test_task_update_and_delete_write_one_row_each(self, app, org, enable_plugin):
        from datetime import timedelta

        from crm.timeutil import today_local
        from plugins.target_map import services_plans as plans
        from plugins.target_map.models_plans import TargetMapTask
        from tests.plugins.target_map.helpers_plans import make_corp, make_task

        enable_plugin(org.b1, "target_map")
        corp = make_corp(org.a, "甲科技公司", maintainer=org.rm_a)
        start = today_local() + timedelta(days=3)
        task = make_task(corp, org.rm_a, start, start + timedelta(days=7))
        task_id = task.id
        raw = {"title": "拜访财务负责人", "owner_id": str(org.rm_a.id), "planned_start": start.isoformat(),
               "planned_end": (start + timedelta(days=14)).isoformat()}
        with app.test_request_context():
            login_user(db.session.get(User, org.head_a.id))
            plans.update_task(db.session.get(User, org.head_a.id), task, raw, task.version)
        only_row("target_map.task_updated", org.head_a, ("customer", corp.id), task_id=task_id,
                 fields=["planned_end", "title"])
        task = db.session.get(TargetMapTask, task_id)
        with app.test_request_context():
            login_user(db.session.get(User, org.rm_a.id))
            plans.delete_task(db.session.get(User, org.rm_a.id), task, task.version)
        only_row("target_map.task_deleted", org.rm_a, ("customer", corp.id), task_id=task_id, title="拜访财务负责人")
        assert db.session.get(TargetMapTask, task_id) is None


class TestLoanInsurance:
    """银保贷: a case edit, its documents, default, claim and recovery steps, and an insurer's suspension — one row
    per step, naming the case (or the insurer)."""

    @pytest.fixture
    def app(self, make_app):
        import plugins.loan_insurance.models  # noqa: F401 - the plugin's tables

        app = make_app(CRM_PLUGINS="tests.plugin_example,plugins.loan_insurance")
        with app.app_context():
            yield app

    @pytest.fixture
    def li(self, app, org, enable_plugin):
        from tests.plugins.loan_insurance.conftest import LI

        for branch in (org.b1, org.b2, None):
            enable_plugin(branch, "loan_insurance")
        return LI(org)

    def test_case_edit_and_documents(self, app, li):
        from plugins.loan_insurance import services as s
        from tests.plugins.loan_insurance.conftest import as_user, case_data
        from tests.plugins.loan_insurance.test_services import create, fresh

        case = create(li)
        as_user(li.corp_rm, s.update_case, case.id, case_data(li, use_of_funds="支付货款"), version=case.version)
        only_row("loan_insurance.case_updated", li.corp_rm, ("loan_insurance_case", case.id))
        as_user(li.corp_rm, s.transition, case.id, "investigating")
        docs = [d.code for d in s.missing_documents(fresh(case.id))]
        assert len(docs) >= 2
        as_user(li.corp_rm, s.mark_document, case.id, docs[0])
        only_row("loan_insurance.document", li.corp_rm, ("loan_insurance_case", case.id), code=docs[0],
                 received=True)

    def test_default_claim_and_recovery_steps(self, app, li):
        from datetime import date

        from plugins.loan_insurance import services as s
        from tests.plugins.loan_insurance.conftest import as_user
        from tests.plugins.loan_insurance.test_services import to_disbursed

        case = to_disbursed(li)
        target = ("loan_insurance_case", case.id)
        event, _measures = as_user(li.corp_rm, s.record_default_event, case.id, 2, date(2024, 4, 15), "逾期未还本息")
        only_row("loan_insurance.default_event", li.corp_rm, target)
        as_user(li.corp_rm, s.record_measure, case.id, "accelerate", date(2024, 4, 16), default_event_id=event.id)
        only_row("loan_insurance.measure", li.corp_rm, target)
        as_user(li.corp_rm, s.open_claim, case.id)
        only_row("loan_insurance.claim_opened", li.corp_rm, target)
        as_user(li.corp_rm, s.submit_claim, case.id, date(2024, 5, 20))
        only_row("loan_insurance.claim_submitted", li.corp_rm, target)
        as_user(li.corp_rm, s.claim_docs_complete, case.id, date(2024, 5, 21))
        only_row("loan_insurance.claim_docs_complete", li.corp_rm, target)
        as_user(li.corp_rm, s.record_claim_payment, case.id, date(2024, 5, 27), "600000")
        as_user(li.corp_rm, s.record_recovery, case.id, date(2024, 7, 1), "100000", "1000")
        only_row("loan_insurance.recovery", li.corp_rm, target)

    def test_insurer_suspension_and_lifting(self, app, li):
        from datetime import date

        from plugins.loan_insurance import services as s
        from tests.plugins.loan_insurance.conftest import as_user

        with pytest.raises(s.ServiceError):  # not a panel administrator: refused, nothing recorded
            as_user(li.corp_rm, s.suspend_insurer, li.insurer.id, date(2024, 3, 1), "x")
        row = as_user(li.branch_admin1, s.suspend_insurer, li.insurer.id, date(2024, 3, 1), "保险公司未按时赔付")
        only_row("loan_insurance.insurer_suspended", li.branch_admin1, ("loan_insurance_insurer", li.insurer.id))
        as_user(li.branch_admin1, s.lift_suspension, row.id, date(2024, 6, 1))
        only_row("loan_insurance.suspension_lifted", li.branch_admin1, ("loan_insurance_insurer", li.insurer.id))

    def test_insurer_and_agreement_saves_write_one_row_each(self, app, li):
        from plugins.loan_insurance import services as s
        from tests.plugins.loan_insurance.conftest import as_user

        with pytest.raises(s.FormErrors):  # refused: nothing recorded
            as_user(li.branch_admin1, s.save_insurer, {"name": "人保财险", "hq": "1"})
        assert rows_of("loan_insurance.insurer_saved") == []
        ins = as_user(li.branch_admin1, s.save_insurer, {"name": "人保财险"})
        only_row("loan_insurance.insurer_saved", li.branch_admin1, ("loan_insurance_insurer", ins.id))
        ag = as_user(li.branch_admin1, s.save_agreement, ins.id, {
            "agreement_no": "RB-1", "valid_from": "2024-06-01", "valid_to": "2025-05-31", "premium_rate": "0.012",
            "mortgage_rate": "0.65", "insurer_recovery_share": "0.4", "waiting_days": "60", "collection_fee": "300"})
        only_row("loan_insurance.agreement_saved", li.branch_admin1, ("loan_insurance_agreement", ag.id),
                 agreement_no="RB-1", insurer="人保财险")


class TestSalonEvents:
    """客户沙龙: a campaign edit, an invitation batch and a cancelled registration — one row each."""

    @pytest.fixture
    def app(self, make_app):
        import plugins.salon_events.models  # noqa: F401 - the plugin's tables

        app = make_app(CRM_PLUGINS="tests.plugin_example,plugins.salon_events")
        with app.app_context():
            yield app

    def test_campaign_edit_invitations_and_cancellation(self, app, org, enable_plugin):
        from plugins.salon_events import services
        from plugins.salon_events.models import SalonCampaign, SalonRegistration
        from tests.plugins.salon_events.conftest import as_user, cust
        from tests.plugins.salon_events.test_rules import campaign, make_round

        enable_plugin(org.b1, "salon_events")
        org.a.has_reception_conditions = True
        db.session.commit()
        c = campaign(org)
        raw = {"name": "宝贝银行家暑期实习日", "kind": "kids", "code": "BBYH", "year": "2026",
               "outlets": [str(org.a.id), str(org.a2.id)]}
        as_user(org.marketing1, services.update_campaign, db.session.get(SalonCampaign, c.id), raw, c.version)
        only_row("salon_events.campaign_updated", org.marketing1, ("salon_events_campaign", c.id))
        parents = [cust(org.a, maintainer=org.rm_a) for _ in range(3)]
        n = as_user(org.head_a, services.invite_customers, db.session.get(SalonCampaign, c.id),
                    [p.id for p in parents])
        assert n == 3
        only_row("salon_events.invited", org.head_a, ("salon_events_campaign", c.id), count=3, source="search")
        session = make_round(org, db.session.get(SalonCampaign, c.id))
        reg = as_user(org.head_a, services.register, session,
                      services.RegistrationInput(customer_id=parents[0].id, child_name="王小明", child_age=8))
        as_user(org.head_a, services.cancel_registration, db.session.get(SalonRegistration, reg.id))
        only_row("salon_events.registration_cancelled", org.head_a, ("salon_events_registration", reg.id),
                 promoted=None)

    def test_split_rounds_and_route_save_write_one_row_each(self, app, org, enable_plugin):
        from plugins.salon_events import services
        from tests.plugins.salon_events.conftest import as_user
        from tests.plugins.salon_events.test_rules import SEED_ROUTES, campaign, round_raw

        enable_plugin(org.b1, "salon_events")
        org.a.has_reception_conditions = True
        db.session.commit()
        kids = campaign(org)
        rows, _warnings = as_user(org.head_a, services.split_rounds, kids,
                                  {**round_raw(org.a), "total": "23", "gap_days": "1"})
        assert len(rows) == 3
        only_row("salon_events.rounds_split", org.head_a, ("salon_events_campaign", kids.id), total=23,
                 sizes=[10, 10, 3])
        tour = campaign(org, kind="study_tour", name="环球游学夏令营", partner="新东方")
        route = as_user(org.marketing1, services.save_route, tour, SEED_ROUTES[0])
        only_row("salon_events.route_saved", org.marketing1, ("salon_events_route", route.id))

