"""Demo data for 营销活动 (hook crm_seed_demo): per 分行 a 宝贝银行家 open for registration, a 理财沙龙 with guests
booked, a 产说会 whose first round was held (check-ins, the six steps, outcomes), a finished 宝贝银行家 whose
实习证明 are ready to print, and a 游学 route — all made through the services, obeying the plugin's rules."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update

from crm import audit
from crm.access import scoped
from crm.demo import as_user
from crm.extensions import db
from crm.models import Branch, Customer, FamilyMember, Outlet, User
from crm.timeutil import local_to_utc, today_local
from plugins.salon_events import certificates as certs
from plugins.salon_events import services, uploads
from plugins.salon_events.models import (
    SalonCampaign,
    SalonCertTemplate,
    SalonRegistration,
    SalonSession,
    SalonSignature,
)


@dataclass
class Made:
    campaigns: int = 0
    registrations: int = 0
    printable: int = 0
    kinds: set[str] = field(default_factory=set)


def _one(post: str, **where: Any) -> User | None:
    stmt = select(User).where(User.post == post, User.active.is_(True)).order_by(User.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(User, key) == value)
    return db.session.execute(stmt.limit(1)).scalar_one_or_none()


def _at(day: date, clock: time) -> dict[str, str]:
    return {"day": day.isoformat(), "start": clock.strftime("%H:%M")}


def _staff(outlet: Outlet) -> dict[str, Any]:
    """The first eligible person of each staff role of a round (大堂经理, 客户经理, 支行行长, 理财经理)."""
    return {key: (people[0].id if people else "") for key, people in services.staff_choices(outlet).items()}


def _campaign(marketing: User, root: Branch, outlets: list[Outlet], kind: str, name: str, code: str, year: int,
              **extra: Any) -> SalonCampaign:
    campaign = as_user(marketing, services.create_campaign, {
        "name": name, "kind": kind, "code": code, "year": str(year), "outlets": [o.id for o in outlets], **extra})
    as_user(marketing, services.advance_status, campaign, "open")
    return campaign


def _round(head: User, campaign: SalonCampaign, outlet: Outlet, day: date, start: time, end: time,
           capacity: int, teacher: str | None = None) -> SalonSession:
    raw = {**_at(day, start), "end": end.strftime("%H:%M"), "outlet_id": outlet.id, "capacity": capacity,
           "partner_teacher": teacher or "", **_staff(outlet)}
    session, _warnings = as_user(head, services.create_round, campaign, raw)
    return session


def _move(session_id: int, day: date, start: time, end: time) -> SalonSession:
    """A round of the demo's past: the services schedule only rounds that have not started yet, so the round is
    planned for tomorrow, filled, and then moved back to the day it was held."""
    db.session.execute(update(SalonSession).where(SalonSession.id == session_id).values(
        starts_at=datetime.combine(day, start), ends_at=datetime.combine(day, end))
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.expire_all()
    return db.session.get(SalonSession, session_id)


def _children(outlet: Outlet, on: date, *, grades: tuple[str, ...] = (), limit: int = 6,
              skip: set[int] | None = None) -> list[FamilyMember]:
    """Children of the outlet's personal customers: aged 1–15 on the day (宝贝银行家), or in the given school
    grades (游学); one child per family."""
    stmt = (select(FamilyMember).join(Customer, Customer.id == FamilyMember.customer_id)
            .where(Customer.outlet_id == outlet.id, Customer.kind == "personal", FamilyMember.relation == "child")
            .order_by(FamilyMember.id))
    if grades:
        stmt = stmt.where(FamilyMember.school_grade.in_(grades))
    else:
        stmt = stmt.where(FamilyMember.birthday.is_not(None))
    out: list[FamilyMember] = []
    seen = set(skip or ())
    for member in db.session.execute(stmt).scalars():
        if member.customer_id in seen:
            continue
        # One year inside 1–15 on either side: a round planned for tomorrow and moved back a month keeps every
        # child eligible on both days.
        if not grades and not services.KIDS_MIN_AGE < (member.age_on(on) or 0) < services.KIDS_MAX_AGE:
            continue
        seen.add(member.customer_id)
        out.append(member)
        if len(out) == limit:
            break
    return out


def _guests(head: User, outlet: Outlet, rng: random.Random, n: int) -> list[Customer]:
    """Personal customers of the outlet with money to invest, as its head sees them: the guests of a salon or a
    seminar."""
    pool = list(db.session.execute(scoped(Customer, head).where(
        Customer.outlet_id == outlet.id, Customer.kind == "personal").order_by(Customer.aum.desc(), Customer.id)
        .limit(n * 3)).scalars())
    return sorted(rng.sample(pool, min(n, len(pool))), key=lambda c: c.id)


def _invite_and_register(head: User, campaign: SalonCampaign, target: Any, parents: list[int],
                         children: dict[int, FamilyMember] | None = None) -> list[SalonRegistration]:
    if not parents:  # a demo with few customers: nobody to invite at this outlet
        return []
    as_user(head, services.invite_customers, campaign, parents)
    regs = []
    for parent in parents:
        member = (children or {}).get(parent)
        data = services.RegistrationInput(customer_id=parent, family_member_id=member.id if member else None)
        regs.append(as_user(head, services.register, target, data))
    return regs


def seed_demo(seed: int) -> Made:
    """The demo's campaigns, per 分行; nothing when a campaign exists already (the demo is seeded once)."""
    made = Made()
    if db.session.execute(select(SalonCampaign.id).limit(1)).first() is not None:
        return made
    rng = random.Random(seed)  # nosec B311  # reproducible demo data, not a secret
    today = today_local()
    roots = db.session.execute(select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars().all()
    for root in roots:
        marketing = _one("marketing", branch_id=root.id) or _one("branch_admin", branch_id=root.id)
        outlets = services.branch_outlets(root.id)
        hosts = [o for o in outlets if o.has_reception_conditions]
        if marketing is None or not hosts:
            continue
        heads = {o.id: _one("outlet_head", outlet_id=o.id) for o in outlets}
        if any(heads[o.id] is None for o in hosts):
            continue
        _upcoming_kids(made, marketing, root, hosts, heads, today)
        _salon(made, marketing, root, hosts, heads, today, rng)
        _seminar(made, marketing, root, hosts, heads, today, rng)
        _finished_kids(made, marketing, root, hosts, heads, today)
        _study_tour(made, marketing, root, outlets, heads, today)
    return made


def _upcoming_kids(made: Made, marketing: User, root: Branch, hosts: list[Outlet], heads: dict[int, User],
                   today: date) -> None:
    """宝贝银行家 open for registration: a Saturday-morning round at each host outlet, half full."""
    day = today + timedelta(days=(5 - today.weekday()) % 7 + 7)  # the Saturday after next
    campaign = _campaign(marketing, root, hosts, "kids", f"{day.year}宝贝银行家·小小银行家实习日", "BBYH", day.year,
                         audience="1至15岁客户子女及家长", goal="每场10组亲子家庭，带动儿童卡开卡",
                         core_products="儿童成长卡、少儿教育金保险", starts_on=day.isoformat(),
                         ends_on=(day + timedelta(days=30)).isoformat())
    made.campaigns += 1
    made.kinds.add("kids")
    for outlet in hosts:
        session = _round(heads[outlet.id], campaign, outlet, day, time(9, 0), time(11, 30), 10, "少儿财商讲师")
        kids = _children(outlet, day, limit=5)
        regs = _invite_and_register(heads[outlet.id], campaign, session, [k.customer_id for k in kids],
                                    {k.customer_id: k for k in kids})
        made.registrations += len(regs)
        for reg in regs[:2]:  # R-33 ②: the confirmation calls made so far
            as_user(heads[outlet.id], services.mark_contact, reg, "confirmed")


def _salon(made: Made, marketing: User, root: Branch, hosts: list[Outlet], heads: dict[int, User], today: date,
           rng: random.Random) -> None:
    """理财沙龙 next week in the evening, guests invited and booked."""
    day = today + timedelta(days=6)
    outlet = hosts[0]
    campaign = _campaign(marketing, root, [outlet], "salon", "资产配置理财沙龙", "LCSL", day.year,
                         audience="金融资产50万元以上客户", core_products="稳健理财、基金定投", partner="合作基金公司")
    made.campaigns += 1
    made.kinds.add("salon")
    session = _round(heads[outlet.id], campaign, outlet, day, time(19, 0), time(21, 0), 20, "基金公司投资顾问")
    guests = _guests(heads[outlet.id], outlet, rng, 8)
    made.registrations += len(_invite_and_register(heads[outlet.id], campaign, session, [g.id for g in guests[:6]]))
    if guests[6:]:  # invited, not booked yet: the funnel's first step
        as_user(heads[outlet.id], services.invite_customers, campaign, [g.id for g in guests[6:]])


def _seminar(made: Made, marketing: User, root: Branch, hosts: list[Outlet], heads: dict[int, User], today: date,
             rng: random.Random) -> None:
    """产说会 in progress: its first round was held two days ago (check-ins, the six steps, outcomes)."""
    outlet = hosts[-1]
    head = heads[outlet.id]
    campaign = _campaign(marketing, root, [outlet], "seminar", "养老年金保险产品说明会", "CSH", today.year,
                         audience="45岁以上存款客户", core_products="养老年金保险", partner="合作保险公司",
                         premium_cap="100000")
    made.campaigns += 1
    made.kinds.add("seminar")
    session = _round(head, campaign, outlet, today + timedelta(days=1), time(19, 0), time(21, 0), 15, "保险公司讲师")
    regs = _invite_and_register(head, campaign, session, [g.id for g in _guests(head, outlet, rng, 8)])
    made.registrations += len(regs)
    session = _move(session.id, today - timedelta(days=2), time(19, 0), time(21, 0))
    for step in range(1, len(services.steps_of("seminar"))):  # 后期跟踪 (the last step) is still under way
        as_user(head, services.log_step, session, step)
    outcomes = [("closed", "2", "60000"), ("closed", "1", "30000"), ("pending", "0", ""), ("declined", "0", ""),
                ("closed", "1", "20000"), ("pending", "0", "")]
    for i, reg in enumerate(regs):
        reg = db.session.get(SalonRegistration, reg.id)
        if i >= len(outcomes):  # the last guests did not come
            continue
        as_user(head, services.check_in, reg)
        closing, policies, premium = outcomes[i]
        as_user(head, services.record_outcome, db.session.get(SalonRegistration, reg.id), {
            "closing_result": closing, "policies": policies, "booked_premium": premium,
            "card_opened": "1" if i % 3 == 0 else "",
            "follow_up": "下周电话回访，约到网点面谈" if closing == "pending" else "",
            "follow_up_on": (today + timedelta(days=5)).isoformat() if closing == "pending" else ""})


def _finished_kids(made: Made, marketing: User, root: Branch, hosts: list[Outlet], heads: dict[int, User],
                   today: date) -> None:
    """宝贝银行家 held a month ago at each host outlet and closed: the 支行行长 signed the day before, the children
    attended (all but one per round), the certificate template is saved — the 实习证明 are ready to print."""
    held = today - timedelta(days=30)
    campaign = _campaign(marketing, root, hosts, "kids", "宝贝银行家·春季实习日", "BBCJ", held.year,
                         audience="1至15岁客户子女及家长", core_products="儿童成长卡",
                         starts_on=held.isoformat(), ends_on=held.isoformat())
    made.campaigns += 1
    _template(marketing, campaign, root)
    signed: set[int] = set()
    for outlet in hosts:
        head = heads[outlet.id]
        session = _round(head, campaign, outlet, today + timedelta(days=1), time(9, 0), time(11, 30), 10)
        kids = _children(outlet, held, limit=6)
        regs = _invite_and_register(head, campaign, session, [k.customer_id for k in kids],
                                    {k.customer_id: k for k in kids})
        made.registrations += len(regs)
        session = _move(session.id, held, time(9, 0), time(11, 30))
        signer = _one("sub_branch_president", branch_id=outlet.branch_id)
        if signer is not None and outlet.branch_id not in signed:
            signed.add(outlet.branch_id)
            _signature(marketing, campaign, signer, datetime.combine(held - timedelta(days=1), time(16, 0)))
        for i, reg in enumerate(regs):
            if i == len(regs) - 1 and i > 0:  # one child did not come: no certificate for them
                continue
            as_user(head, services.check_in, db.session.get(SalonRegistration, reg.id))
            if i % 2 == 0:
                as_user(head, services.record_outcome, db.session.get(SalonRegistration, reg.id),
                        {"card_opened": "1", "closing_result": "closed"})
        for step in range(1, len(services.steps_of("kids")) + 1):
            as_user(head, services.log_step, session, step)
    as_user(marketing, services.advance_status, db.session.get(SalonCampaign, campaign.id), "closed")
    made.printable += db.session.execute(select(func.count()).select_from(SalonRegistration).where(
        certs.attending(campaign.id), SalonRegistration.outlet_id.in_(
            select(Outlet.id).where(Outlet.branch_id.in_(signed))))).scalar_one()


def _signature(marketing: User, campaign: SalonCampaign, signer: User, recorded_local: datetime) -> None:
    """The 支行行长's signature and the bank seal, recorded the day before the round (A-10, T-10), as the
    certificate page records an upload (sample images drawn by the plugin, demo only)."""
    image = uploads.save_image(io.BytesIO(certs.sample_signature_png(signer.name)), kind="signature")
    seal = uploads.save_image(io.BytesIO(certs.sample_seal_png()), kind="seal")
    row = SalonSignature(campaign_id=campaign.id, sub_branch_id=signer.branch_id, signer_id=signer.id,
                         image=image.stored_name, seal=seal.stored_name, recorded_at=local_to_utc(recorded_local),
                         uploaded_by_id=marketing.id)
    db.session.add(row)
    db.session.flush()
    audit.record("salon_events.signature_recorded", target=("salon_events_signature", row.id), actor=marketing,
                 detail={"campaign": campaign.id, "sub_branch": signer.branch_id, "signer": signer.id, "seal": True})
    db.session.commit()


def _template(marketing: User, campaign: SalonCampaign, root: Branch) -> None:
    footer = f"{root.name}个人金融部"
    assert not certs.check_text(certs.DEFAULT_TITLE, certs.DEFAULT_BODY, footer)  # nosec B101  # constant text
    db.session.add(SalonCertTemplate(campaign_id=campaign.id, title=certs.DEFAULT_TITLE, body=certs.DEFAULT_BODY,
                                     footer=footer, updated_by_id=marketing.id))
    audit.record("salon_events.cert_template_saved", target=("salon_events_campaign", campaign.id), actor=marketing)
    db.session.commit()


def _study_tour(made: Made, marketing: User, root: Branch, outlets: list[Outlet], heads: dict[int, User],
                today: date) -> None:
    """游学 with one route (R-29): member price below the market price, children of 小六 to 高三 registered."""
    depart = today + timedelta(days=45)
    campaign = _campaign(marketing, root, outlets, "study_tour", "暑期名校游学营", "YX", depart.year,
                         audience="小学六年级至高三学生", partner="合作研学机构")
    made.campaigns += 1
    made.kinds.add("study_tour")
    route = as_user(marketing, services.save_route, campaign, {
        "name": "北京名校研学六日游", "market_price": "6800", "member_price": "5980", "departure_city": "郑州",
        "depart_on": depart.isoformat(), "return_on": (depart + timedelta(days=5)).isoformat(),
        "deadline": (depart - timedelta(days=15)).isoformat(), "group_size": "20", "grade_from": "p6",
        "grade_to": "h3", "hotline": "400-600-8888"})
    for outlet in outlets[:2]:
        head = heads.get(outlet.id)
        if head is None:
            continue
        kids = _children(outlet, today, grades=services.TOUR_GRADES, limit=2)
        made.registrations += len(_invite_and_register(head, campaign, route, [k.customer_id for k in kids],
                                                       {k.customer_id: k for k in kids}))
