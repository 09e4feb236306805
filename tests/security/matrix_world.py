"""The world of the access-matrix test (tests/security/test_access_matrix.py): the demo organisation and staff, a few
hundred demo customers and every plugin's demo data, plus, for every kind of object a route takes, one object at each
scope relative to the acting users of outlet A — their own, a colleague's at A, outlet A2's (same 分行) and outlet B's
(other 分行). Afterwards every text field of every scoped row is stamped with a unique canary (``QZ<table><id>X``),
so a leak in any response can be traced to the row it came from."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, Text, func, select, update
from werkzeug.datastructures import FileStorage

from crm.access import _SCOPES, scoped
from crm.extensions import db
from crm.models import Activity, Branch, Customer, CustomerProduct, FamilyMember, Outlet, User
from crm.roles import SCOPE_ALL

SEED = 20261202
N_CUSTOMERS = 240
SCOPES = ("own", "same_outlet", "other_outlet", "other_branch")
# The acting users, one per post group issue 8 names; all at outlet A or its 分行.
ACTORS = {
    "admin": "admin",
    "branch_head": "branch_head",
    "marketing": "marketing",
    "outlet_head": "outlet_head",
    "personal_rm": "personal_rm",
    "teller": "low_counter_teller",
    "lobby_manager": "lobby_manager",
}
OUTLET_ACTORS = ("outlet_head", "personal_rm", "teller", "lobby_manager")
CANARY_RE = re.compile(r"QZ([a-z]{2,3})(\d+)X")
PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
CERT_RE = re.compile(r"(?<![0-9A-Z])\d{17}[\dX](?![0-9A-Z])")
# Text columns stamped with the row's canary (names, notes, titles): never codes, statuses or keys the code reads.
TEXT_COLUMNS = {
    "name", "notes", "note", "title", "summary", "legal_rep", "address", "employer", "product_needs", "family_info",
    "preferences", "maintenance_target", "customer_name", "insurer_rm", "child_name", "follow_up", "partner_teacher",
    "goal", "audience", "reason", "key_info", "hypotheses", "questions", "report_content", "advice", "participants",
    "module_a", "basis_detail", "description", "detail", "use_of_funds", "legal_rep_name", "label_text",
    "plan_text", "outcome", "content", "school", "hobbies", "work", "remark",
}
def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (40, 20), (200, 30, 30, 255)).save(buf, "PNG")
    return buf.getvalue()


PNG = _png()


@dataclass
class World:
    actors: dict[str, User]
    branch1: Branch
    branch2: Branch
    a: Outlet
    a2: Outlet
    b: Outlet
    colleague: User          # a customer manager at A (the "same outlet" scope)
    rm_a2: User
    rm_b: User
    # object family → scope → actor key (or "*") → id
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    canaries: dict[str, tuple[type, int]] = field(default_factory=dict)   # "QZcu12X" → (model, id)
    table_codes: dict[str, type] = field(default_factory=dict)            # "cu" → model
    phones: dict[str, int] = field(default_factory=dict)                  # full mobile → customer id
    certs: dict[str, int] = field(default_factory=dict)                   # full 身份证/USCC → customer id
    jobs: dict[str, dict[str, str]] = field(default_factory=dict)         # store kind → user key → job id

    def put(self, family: str, scope: str, value: Any, actor: str = "*") -> None:
        self.objects.setdefault(family, {}).setdefault(scope, {})[actor] = value

    def get(self, family: str, scope: str, actor: str) -> Any:
        per_scope = self.objects[family][scope]
        return per_scope[actor] if actor in per_scope else per_scope["*"]  # KeyError: no such object


def _as(user: User, fn, *args, **kw):
    from crm.demo import as_user

    return as_user(user, fn, *args, **kw)


def _one(post: str, **where: Any) -> User:
    stmt = select(User).where(User.post == post, User.active.is_(True)).order_by(User.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(User, key) == value)
    return db.session.execute(stmt.limit(1)).scalar_one()


def build_world(password: str) -> World:
    from crm.auth.services import set_password
    from crm.demo import seed_demo
    from crm.demo_customers import seed_customers
    from crm.workdays import ensure_seeded

    seed_demo(SEED)
    ensure_seeded(echo=lambda _line: None)
    seed_customers(N_CUSTOMERS, SEED, lambda _line: None)
    _seed_plugins()
    roots = db.session.execute(select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars().all()
    branch1, branch2 = roots[0], roots[1]
    outlets1 = db.session.execute(select(Outlet).where(Outlet.root_branch_id == branch1.id).order_by(Outlet.id)
                                  ).scalars().all()
    a, a2 = outlets1[0], outlets1[1]
    b = db.session.execute(select(Outlet).where(Outlet.root_branch_id == branch2.id).order_by(Outlet.id)
                           ).scalars().first()
    actors = {
        "admin": _one("admin"),
        "branch_head": _one("branch_head", branch_id=branch1.id),
        "marketing": _one("marketing", branch_id=branch1.id),
        "outlet_head": _one("outlet_head", outlet_id=a.id),
        "personal_rm": _one("personal_rm", outlet_id=a.id),
        "teller": _one("low_counter_teller", outlet_id=a.id),
        "lobby_manager": _one("lobby_manager", outlet_id=a.id),
    }
    for user in actors.values():
        set_password(user, password, must_change=False)
    db.session.commit()
    world = World(actors=actors, branch1=branch1, branch2=branch2, a=a, a2=a2, b=b,
                  colleague=_one("corporate_rm", outlet_id=a.id), rm_a2=_one("personal_rm", outlet_id=a2.id),
                  rm_b=_one("personal_rm", outlet_id=b.id))
    _org_objects(world)
    people = [(f"own:{k}", "own", k, a, actors[k]) for k in OUTLET_ACTORS]
    people += [("same", "same_outlet", "*", a, world.colleague), ("a2", "other_outlet", "*", a2, world.rm_a2),
               ("b", "other_branch", "*", b, world.rm_b)]
    campaigns = _branch_objects(world)
    sessions = _outlet_objects(world, campaigns)
    for n, (_tag, scope, key, outlet, maintainer) in enumerate(people):
        _person_bundle(world, n, scope, key, outlet, maintainer, sessions[outlet.id], campaigns)
    _jobs(world)
    db.session.commit()
    stamp_canaries(world)
    return world


def _seed_plugins() -> None:
    """Every plugin on (the global row), each plugin's own demo data; for 银保贷 only its panel (one insurer and
    agreement per 分行, as its demo makes them): its ten demo cases take most of a minute to walk through their
    stages, and the bundles below make cases of their own."""
    from flask import current_app

    from plugins.loan_insurance import services as li

    registry = current_app.extensions["crm"]
    for name in registry.plugins:
        registry.set_enabled(name, None, True, None)
    db.session.commit()
    for plugin in ("target_map", "scorecards"):
        registry.pm.get_plugin(plugin).crm_seed_demo(seed=SEED)
    year = date.today().year
    for root in db.session.execute(select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars():
        manager = _one("branch_admin", branch_id=root.id)
        insurer = _as(manager, li.save_insurer, {"name": f"人保财险{root.code}"})
        _as(manager, li.save_agreement, insurer.id, {
            "agreement_no": f"YBD-{root.code}", "valid_from": f"{year - 1}-01-01", "valid_to": f"{year + 1}-12-31",
            "premium_rate": "0.015", "mortgage_rate": "0.6", "waiting_days": "30", "collection_fee": "200",
            "insurer_recovery_share": "0.5"})


# ---------------------------------------------------------------- organisation

def _org_objects(w: World) -> None:
    # user_id: oneself, a colleague at A, a person at A2, a person at B.
    for key, user in w.actors.items():
        w.put("user", "own", user.id, key)
    w.put("user", "same_outlet", w.colleague.id)
    w.put("user", "other_outlet", w.rm_a2.id)
    w.put("user", "other_branch", w.rm_b.id)
    for scope, outlet in (("own", w.a), ("same_outlet", w.a), ("other_outlet", w.a2), ("other_branch", w.b)):
        w.put("outlet", scope, outlet.id)
    # branch_id (the org editor): the actors' own 分行 for the first three scopes, the other 分行 for the last.
    for scope in SCOPES:
        w.put("branch", scope, (w.branch2 if scope == "other_branch" else w.branch1).id)


# ---------------------------------------------------------------- objects of a 分行

def _branch_objects(w: World) -> dict[int, Any]:
    from plugins.loan_insurance.models import LoanAgreement, LoanInsurer, LoanSuspension
    from plugins.salon_events import uploads as salon_uploads
    from plugins.salon_events.models import (
        SalonCampaign,
        SalonCampaignOutlet,
        SalonCertTemplate,
        SalonRoute,
        SalonSignature,
    )
    from plugins.scorecards.models import ScorecardPeriod, ScorecardResult, ScorecardScheme
    from plugins.segmentation.models import SegmentationCustomRule, SegmentationList

    today = date.today()
    campaigns: dict[int, Any] = {}
    for root, outlets in ((w.branch1, (w.a, w.a2)), (w.branch2, (w.b,))):
        scope_names = ("own", "same_outlet", "other_outlet") if root is w.branch1 else ("other_branch",)
        manager = _one("branch_admin", branch_id=root.id)
        campaign = SalonCampaign(branch_id=root.id, code=f"MX{root.id}", kind="kids", name="宝贝银行家夏令营",
                                 year=today.year, status="open", starts_on=today - timedelta(days=10),
                                 ends_on=today + timedelta(days=60), goal="开卡", audience="少儿家庭",
                                 created_by_id=manager.id)
        db.session.add(campaign)
        db.session.flush()
        for outlet in outlets:
            db.session.add(SalonCampaignOutlet(campaign_id=campaign.id, outlet_id=outlet.id))
        route = SalonRoute(campaign_id=campaign.id, position=1, name="北京研学线", market_price=Decimal("3000"),
                           member_price=Decimal("2500"), depart_on=today + timedelta(days=30),
                           return_on=today + timedelta(days=35), group_size=30, deadline=today + timedelta(days=20))
        db.session.add(route)
        db.session.add(SalonCertTemplate(campaign_id=campaign.id, title="荣誉证书", body="特发此证"))
        sub_branch = db.session.get(Branch, outlets[0].branch_id)
        signer = _one("sub_branch_president", branch_id=sub_branch.id)
        stored = salon_uploads.save_image(FileStorage(io.BytesIO(PNG), "s.png"), "signature")
        seal = salon_uploads.save_image(FileStorage(io.BytesIO(PNG), "seal.png"), "signature")
        signature = SalonSignature(campaign_id=campaign.id, sub_branch_id=sub_branch.id, signer_id=signer.id,
                                   image=stored.stored_name, seal=seal.stored_name, uploaded_by_id=manager.id)
        db.session.add(signature)
        seg_list = SegmentationList(branch_id=root.id, name="高净值名单", segment="no_loan", kind="snapshot",
                                    created_by_id=manager.id)
        rule = SegmentationCustomRule(branch_id=root.id, name="存款大户", join="and",
                                      conditions=[{"field": "deposit_balance", "op": "gte", "value": "500000"}],
                                      created_by_id=manager.id)
        db.session.add_all([seg_list, rule])
        insurer = db.session.execute(select(LoanInsurer).where(LoanInsurer.branch_id == root.id)).scalars().first()
        agreement = db.session.execute(select(LoanAgreement).where(LoanAgreement.insurer_id == insurer.id)
                                       ).scalars().first()
        suspension = LoanSuspension(insurer_id=insurer.id, branch_id=root.id, starts_on=today - timedelta(days=400),
                                    ends_on=today - timedelta(days=300), reason="理赔时效不达标暂停合作",
                                    created_by_id=manager.id)
        db.session.add(suspension)
        db.session.flush()
        # The 分行's period with the most results (the demo computes this month and last).
        period = db.session.execute(
            select(ScorecardPeriod).where(ScorecardPeriod.branch_id == root.id)
            .order_by(select(func.count(ScorecardResult.id)).where(ScorecardResult.period_id == ScorecardPeriod.id)
                      .scalar_subquery().desc(), ScorecardPeriod.id)).scalars().first()
        scheme = db.session.execute(select(ScorecardScheme).where(ScorecardScheme.branch_id == root.id)
                                    .order_by(ScorecardScheme.id)).scalars().first()
        if scheme is None:  # the demo keeps the 全行 defaults: give this 分行 a scheme of its own
            base = db.session.execute(select(ScorecardScheme).where(ScorecardScheme.branch_id.is_(None))
                                      .order_by(ScorecardScheme.id)).scalars().first()
            scheme = ScorecardScheme(branch_id=root.id, code=f"{base.code}-mx{root.id}", name=f"{base.name}（分行）",
                                     kind=base.kind, subject=base.subject, posts=list(base.posts),
                                     grades=list(base.grades), definition=dict(base.definition),
                                     fingerprint=base.fingerprint, based_on_id=base.id, current=False,
                                     note="分行方案", created_by_id=manager.id)
            db.session.add(scheme)
            db.session.flush()
        for scope in scope_names:
            w.put("campaign", scope, campaign.id)
            w.put("salon_route", scope, route.id)
            w.put("signature", scope, signature.id)
            w.put("seg_list", scope, seg_list.id)
            w.put("seg_rule", scope, rule.id)
            w.put("insurer", scope, insurer.id)
            w.put("agreement", scope, agreement.id)
            w.put("suspension", scope, suspension.id)
            w.put("period", scope, period.id)
            w.put("scheme", scope, scheme.id)
        campaigns[root.id] = campaign
    db.session.commit()
    return campaigns


# ---------------------------------------------------------------- objects of an outlet

def _outlet_objects(w: World, campaigns: dict[int, Any]) -> dict[int, Any]:
    from plugins.salon_events import uploads as salon_uploads
    from plugins.salon_events.models import SalonPhoto, SalonSession
    from plugins.target_map.models_plans import TargetMapGroupPlan, TargetMapRollout, TargetMapRolloutItem
    from plugins.target_map.services_plans import ROLLOUT_ITEMS

    now = datetime.now().replace(microsecond=0)
    sessions = {}
    for scopes, outlet in ((("own", "same_outlet"), w.a), (("other_outlet",), w.a2), (("other_branch",), w.b)):
        head = _one("outlet_head", outlet_id=outlet.id)
        session = SalonSession(campaign_id=campaigns[outlet.root_branch_id].id, outlet_id=outlet.id,
                               starts_at=now + timedelta(days=7), ends_at=now + timedelta(days=7, hours=2),
                               capacity=30, status="open", note="第一场", partner_teacher="王老师",
                               created_by_id=head.id)
        db.session.add(session)
        db.session.flush()
        image = salon_uploads.save_image(FileStorage(io.BytesIO(PNG), "p.png"), "photo")
        photo = SalonPhoto(session_id=session.id, outlet_id=outlet.id, stored_name=image.stored_name,
                           thumb_name=image.thumb_name, width=image.width, height=image.height,
                           size_bytes=image.size_bytes, uploaded_by_id=head.id)
        group = TargetMapGroupPlan(outlet_id=outlet.id, name="商会集群拓展", basis="association",
                                   basis_detail="本地商会", customer_kind="target", participants="全体客户经理",
                                   module_a="走访商会会长", created_by_id=head.id)
        rollout = TargetMapRollout(outlet_id=outlet.id, start_date=date.today(), started_by_id=head.id)
        db.session.add_all([photo, group, rollout])
        db.session.flush()
        first = ROLLOUT_ITEMS[0]
        item = TargetMapRolloutItem(rollout_id=rollout.id, code=first.code, week=first.week, position=0,
                                    due_date=date.today() + timedelta(days=7))
        db.session.add(item)
        db.session.flush()
        for scope in scopes:
            w.put("session", scope, session.id)
            w.put("photo", scope, photo.id)
            w.put("group", scope, group.id)
            w.put("rollout", scope, rollout.id)
            w.put("rollout_item", scope, item.id)
        sessions[outlet.id] = session
    db.session.commit()
    return sessions


# ---------------------------------------------------------------- objects of a person

def _person_bundle(w: World, n: int, scope: str, key: str, outlet: Outlet, maintainer: User, session: Any,
                   campaigns: dict[int, Any]) -> None:
    """A personal and a corporate customer maintained by `maintainer`, with everything hanging off them."""
    import random

    from crm.customers.search import keys
    from crm.demo_customers import id_check_char, uscc_check_char
    from crm.timeutil import utcnow
    from plugins.loan_insurance import services as li
    from plugins.loan_insurance import uploads as li_uploads
    from plugins.loan_insurance.demo import _case_data
    from plugins.loan_insurance.models import LoanAgreement, LoanCase, LoanDocument, LoanInsurer
    from plugins.salon_events.models import SalonCertificate, SalonInvitation, SalonRegistration
    from plugins.scorecards.models import ScorecardPolicy
    from plugins.scorecards.models_grades import ScorecardGradeEvent
    from plugins.target_map.models import TargetMapEntry
    from plugins.target_map.models_plans import TargetMapTask, TargetMapVisit

    body = f"41010219800{n + 1:02d}1{n:03d}"[:17]
    cert = body + id_check_char(body)
    phone = f"1390077{n:04d}"
    person = Customer(outlet_id=outlet.id, kind="personal", status="stock", name=f"矩阵客户{n}", cert_no=cert,
                      phone=phone, maintainer_id=maintainer.id, deposit_balance=Decimal("88000"),
                      notes="客户备注", birthday=date(1980, 1, n + 1), **keys(f"矩阵客户{n}", phone, cert))
    uscc_body = f"91410100MA4{n:06d}"[:17]
    uscc = uscc_body + uscc_check_char(uscc_body)
    corp = Customer(outlet_id=outlet.id, kind="corporate", status="target", name=f"矩阵企业{n}有限公司",
                    cert_no=uscc, phone=f"1380077{n:04d}", maintainer_id=maintainer.id, legal_rep="王建国",
                    eco_module="upstream", registered_on=date(2015, 6, 1), **keys(f"矩阵企业{n}有限公司", None, uscc))
    db.session.add_all([person, corp])
    db.session.flush()
    activity = Activity(customer_id=person.id, user_id=maintainer.id, kind="call", occurred_at=utcnow(),
                        summary="电话回访", next_follow_up=date.today())
    member = FamilyMember(customer_id=person.id, relation="child", name=f"矩阵孩子{n}", phone=f"1370077{n:04d}",
                          birthday=date(2016, 3, 3), school_grade="g3")
    product = CustomerProduct(customer_id=person.id, category="wealth", name="稳健理财", amount=Decimal("50000"),
                              account_no=f"62220077{n:08d}")
    entry = TargetMapEntry(customer_id=corp.id, outlet_id=outlet.id, tag="grab", expected_scale=Decimal("500000"),
                           source="矩阵")
    task = TargetMapTask(outlet_id=outlet.id, customer_id=corp.id, title="上门拜访", owner_id=maintainer.id,
                         planned_start=date.today(), planned_end=date.today() + timedelta(days=14), note="带资料",
                         created_by_id=maintainer.id)
    db.session.add_all([activity, member, product, entry, task])
    db.session.flush()
    visit = TargetMapVisit(task_id=task.id, customer_id=corp.id, outlet_id=outlet.id, visit_date=date.today(),
                           channel="visit", hypotheses="资金周转", questions="结算需求")
    campaign = campaigns[outlet.root_branch_id]
    invitation = SalonInvitation(campaign_id=campaign.id, session_id=session.id, customer_id=person.id,
                                 outlet_id=outlet.id, invited_by_id=maintainer.id, status="invited")
    registration = SalonRegistration(campaign_id=campaign.id, session_id=session.id, outlet_id=outlet.id,
                                     customer_id=person.id, family_member_id=member.id, child_name=f"矩阵孩子{n}",
                                     child_age=9, school_grade="g3", dedupe_key=f"mx{n}", invited_by_id=maintainer.id,
                                     status="registered", follow_up="回访", created_by_id=maintainer.id)
    policy = ScorecardPolicy(branch_id=outlet.root_branch_id, outlet_id=outlet.id, policy_no=f"BX2026{n:06d}",
                             seller_id=maintainer.id, insurer_name="平安人寿", customer_name=f"矩阵投保人{n}",
                             payment_mode="regular", premium=Decimal("10000"), signed_on=date.today(),
                             created_by_id=maintainer.id)
    grade = ScorecardGradeEvent(user_id=maintainer.id, kind="award", on=date.today(), note="季度表彰",
                                outlet_id=outlet.id, branch_id=outlet.root_branch_id, created_by_id=maintainer.id)
    db.session.add_all([visit, invitation, registration, policy, grade])
    db.session.flush()
    certificate = SalonCertificate(number=f"MX{n:04d}", registration_id=registration.id, campaign_id=campaign.id,
                                   session_id=session.id, outlet_id=outlet.id, child_name=f"矩阵孩子{n}",
                                   issued_on=date.today(), token=f"mxtoken{n:04d}abcdefghijklmnop",
                                   issued_by_id=maintainer.id)
    db.session.add(certificate)
    db.session.commit()
    # A 银保贷 case through the service, as the outlet head; the case is then given to `maintainer`.
    preparer = _one("outlet_head", outlet_id=outlet.id)
    agreement = db.session.execute(select(LoanAgreement).where(LoanAgreement.insurer_id.in_(
        select(LoanInsurer.id).where(LoanInsurer.branch_id == outlet.root_branch_id)))).scalars().first()
    case = _as(preparer, li.create_case, _case_data(random.Random(n), corp, agreement, date.today()))  # nosec B311
    db.session.execute(update(LoanCase).where(LoanCase.id == case.id).values(rm_id=maintainer.id))
    doc = db.session.execute(select(LoanDocument).where(LoanDocument.case_id == case.id).order_by(LoanDocument.id)
                             ).scalars().first()
    stored = li_uploads.save_document(FileStorage(io.BytesIO(PNG), "doc.png"))
    doc.stored_name, doc.file_name, doc.received = stored.stored_name, f"材料{n}.png", True
    db.session.commit()
    for family, value in (("customer", person.id), ("corporate", corp.id), ("activity", activity.id),
                          ("family_member", member.id), ("product", product.id), ("entry", entry.id), ("task", task.id),
                          ("visit", visit.id), ("invitation", invitation.id), ("registration", registration.id),
                          ("certificate", certificate.id), ("token", certificate.token), ("policy", policy.id),
                          ("case", case.id), ("document", doc.id), ("grade_user", maintainer.id)):
        w.put(family, scope, value, key)


# ---------------------------------------------------------------- background jobs (JSON files of crm.jobs)

def _jobs(w: World) -> None:
    """A finished job of every store per person: one's own job must open, anyone else's answers 404."""
    import time

    from crm.customers.import_views import store as imports
    from crm.customers.ledger_views import store as ledgers
    from plugins.salon_events.views_cert import store as certificates
    from plugins.target_map.views_map import imports_store as map_imports

    owners = dict(w.actors)
    owners.update({"same": w.colleague, "a2": w.rm_a2, "b": w.rm_b})
    for kind, store in (("imports", imports), ("ledgers", ledgers), ("certificates", certificates),
                        ("map_imports", map_imports)):
        for key, user in owners.items():
            job_id = f"mx-{kind}-{user.id}-".ljust(24, "x")  # crm.jobs.JOB_ID: 20–40 characters
            store.save({"id": job_id, "user_id": user.id, "state": "failed", "started": time.time(),
                        "finished": time.time(), "error": f"矩阵任务{key}", "total": 0, "done": 0,
                        "campaign_id": w.get("campaign", "own", "*"), "outlet_id": user.outlet_id or w.a.id,
                        **({"counts": dict.fromkeys(("rows", "created", "added", "updated", "unchanged", "rejected"),
                                                    0)} if kind == "map_imports" else {})})
            w.jobs.setdefault(kind, {})[key] = job_id
    for kind, per in w.jobs.items():
        for key in OUTLET_ACTORS + ("admin", "branch_head", "marketing"):
            w.put(f"job:{kind}", "own", per[key], key)
        w.put(f"job:{kind}", "same_outlet", per["same"])
        w.put(f"job:{kind}", "other_outlet", per["a2"])
        w.put(f"job:{kind}", "other_branch", per["b"])
    w.objects["job_admin"] = w.objects["job:imports"]
    w.objects["activity_mine"] = w.objects["activity"]
    w.objects["scored_user"] = {scope: dict(per) for scope, per in w.objects["user"].items()}
    for key in ("admin", "branch_head", "marketing"):  # not assessed: nothing of theirs in a period
        w.objects["scored_user"]["own"].pop(key)
    w.objects["customer_claim"] = w.objects["customer"]


# ---------------------------------------------------------------- canaries

def _code(index: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[index // 26 % 26] + letters[index % 26]


def stamp_canaries(w: World) -> None:
    """Append `QZ<table><id>X` to every whitelisted text column of every scoped row (customers, staff, outlets,
    branches and every plugin table with a registered scope). Search keys are recomputed for customers."""
    from crm.customers.search import keys

    models = sorted({m for m in _SCOPES if hasattr(m, "__table__") and "id" in m.__table__.c},
                    key=lambda m: m.__tablename__)
    for index, model in enumerate(models):
        code = _code(index)
        w.table_codes[code] = model
        table = model.__table__
        columns = [c for c in table.columns
                   if c.name in TEXT_COLUMNS and isinstance(c.type, String | Text) and not c.primary_key]
        if not columns:
            continue
        for row in db.session.execute(select(model)).scalars():
            canary = f"QZ{code}{row.id}X"
            w.canaries[canary] = (model, row.id)
            for column in columns:
                value = getattr(row, column.key) or ""
                limit = getattr(column.type, "length", None) or 10_000
                setattr(row, column.key, (value[: max(limit - len(canary), 0)] + canary)[:limit])
            if model is Customer:
                for k, v in keys(row.name, row.phone, row.cert_no).items():
                    setattr(row, k, v)
                if row.phone:
                    w.phones[row.phone] = row.id
                if row.cert_no:
                    w.certs[row.cert_no] = row.id
        db.session.commit()


def org_outlets(user: User) -> set[int]:
    """Outlets whose names a user may see: all (admin), else those of their own 分行 — the organisation of one's
    own 分行 is no secret (a campaign lists its outlets, pickers name them); another 分行's is."""
    if user.scope == SCOPE_ALL:
        return set(db.session.execute(select(Outlet.id)).scalars())
    return set(db.session.execute(select(Outlet.id).where(Outlet.root_branch_id == user.root_branch_id)).scalars())


def visible_rows(w: World, user: User) -> dict[type, set[int]]:
    """Per stamped model, the row ids whose canaries `user` may see: what `scoped()` gives, except for the
    organisation itself, where one's own outlet, its staff and its branch chain are always shown."""
    out: dict[type, set[int]] = {}
    outlets = org_outlets(user)
    for model in w.table_codes.values():
        if model is Outlet:
            out[model] = outlets
        elif model is User:
            # Staff names: those in the user's scope, colleagues of the own outlet, and the 分行/支行 office staff
            # of the own 分行 (a campaign's organiser, a round's 支行行长).
            root = db.session.get(Branch, user.root_branch_id) if user.root_branch_id else None
            office = select(User.id).where(User.outlet_id.is_(None), User.branch_id.in_(
                select(Branch.id).where(Branch.path.like(root.path + "%")))) if root else select(User.id).where(False)
            ids = set(db.session.execute(scoped(User, user).with_only_columns(User.id)).scalars())
            ids |= set(db.session.execute(office).scalars())
            if user.outlet_id:
                ids |= set(db.session.execute(select(User.id).where(User.outlet_id == user.outlet_id)).scalars())
            out[model] = ids | {user.id}
        elif model is Customer:
            ids = set(db.session.execute(scoped(Customer, user).with_only_columns(Customer.id)).scalars())
            if user.outlet_id:  # R-07 / 熟客认领: the outlet's staff see its unmaintained customers, to claim them
                ids |= set(db.session.execute(select(Customer.id).where(
                    Customer.outlet_id == user.outlet_id, Customer.maintainer_id.is_(None))).scalars())
            out[model] = ids
        else:
            out[model] = set(db.session.execute(scoped(model, user).with_only_columns(model.id)).scalars())
    return out


def family_model(family: str) -> type | None:
    """The model of an object family (None for jobs and values), to tell a deleted object from a hidden one."""
    from plugins.loan_insurance.models import LoanAgreement, LoanCase, LoanDocument, LoanInsurer, LoanSuspension
    from plugins.salon_events.models import (
        SalonCampaign,
        SalonCertificate,
        SalonInvitation,
        SalonPhoto,
        SalonRegistration,
        SalonRoute,
        SalonSession,
        SalonSignature,
    )
    from plugins.scorecards.models import ScorecardPeriod, ScorecardPolicy, ScorecardScheme
    from plugins.segmentation.models import SegmentationCustomRule, SegmentationList
    from plugins.target_map.models import TargetMapEntry
    from plugins.target_map.models_plans import (
        TargetMapGroupPlan,
        TargetMapRollout,
        TargetMapRolloutItem,
        TargetMapTask,
        TargetMapVisit,
    )

    return {
        "customer": Customer, "corporate": Customer, "activity": Activity, "family_member": FamilyMember,
        "product": CustomerProduct, "user": User, "outlet": Outlet, "branch": Branch, "case": LoanCase,
        "document": LoanDocument, "insurer": LoanInsurer, "agreement": LoanAgreement, "suspension": LoanSuspension,
        "campaign": SalonCampaign, "certificate": SalonCertificate, "invitation": SalonInvitation,
        "photo": SalonPhoto, "registration": SalonRegistration, "salon_route": SalonRoute, "session": SalonSession,
        "signature": SalonSignature, "period": ScorecardPeriod, "policy": ScorecardPolicy,
        "scheme": ScorecardScheme, "seg_list": SegmentationList, "seg_rule": SegmentationCustomRule,
        "entry": TargetMapEntry, "group": TargetMapGroupPlan, "rollout": TargetMapRollout,
        "rollout_item": TargetMapRolloutItem, "task": TargetMapTask, "visit": TargetMapVisit,
    }.get(family)
