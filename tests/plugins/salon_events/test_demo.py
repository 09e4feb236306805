"""The 营销活动 demo data (hook crm_seed_demo): campaigns of every kind at every stage, made through the services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from crm.auth.services import hash_password
from crm.demo import seed_demo, seed_plugin_demo
from crm.demo_customers import seed_customers
from crm.extensions import db
from crm.models import AuditLog, FamilyMember, User
from crm.timeutil import today_local
from crm.workdays import ensure_seeded
from plugins.salon_events import certificates as certs
from plugins.salon_events import services as s
from plugins.salon_events.models import (
    SalonCampaign,
    SalonCertTemplate,
    SalonInvitation,
    SalonRegistration,
    SalonRoute,
    SalonSession,
    SalonSessionStep,
)
from tests.conftest import PASSWORD


def _count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_demo_makes_campaigns_of_every_kind_at_every_stage_per_branch_and_only_once(app, client):
    seed_demo(11)
    ensure_seeded(echo=lambda _line: None)
    seed_customers(600, 11, lambda _line: None)
    printed: list[str] = []
    seed_plugin_demo(11, printed.append)
    summary = [line for line in printed if line.startswith("营销活动：")]
    regs = _count(SalonRegistration)
    attended_kids = _count(SalonRegistration, SalonRegistration.attended.is_(True),
                           SalonRegistration.child_name.is_not(None))
    assert summary == [f"营销活动：10 个演示活动（宝贝银行家、理财沙龙、产说会、游学），{regs} 人报名，"
                       f"{attended_kids} 张实习证明待打印"]
    today = today_local()
    campaigns = db.session.execute(select(SalonCampaign).order_by(SalonCampaign.id)).scalars().all()
    assert len({c.branch_id for c in campaigns}) == 2
    for branch_id in {c.branch_id for c in campaigns}:
        mine = [c for c in campaigns if c.branch_id == branch_id]
        assert sorted((c.kind, c.status) for c in mine) == [
            ("kids", "closed"), ("kids", "open"), ("salon", "open"), ("seminar", "open"), ("study_tour", "open")]

    # Upcoming 宝贝银行家: rounds ahead at outlets with reception conditions, children of demo families aged 1–15.
    upcoming = next(c for c in campaigns if c.kind == "kids" and c.status == "open")
    rounds = db.session.execute(select(SalonSession).where(SalonSession.campaign_id == upcoming.id)).scalars().all()
    assert rounds and all(r.starts_at.date() > today and r.outlet.has_reception_conditions for r in rounds)
    assert all(r.capacity == 10 and r.minutes == 150 and r.lobby_manager_id and r.president_id for r in rounds)
    kids = db.session.execute(select(SalonRegistration).where(SalonRegistration.campaign_id == upcoming.id)
                              ).scalars().all()
    assert len(kids) >= 4 and all(r.status == "registered" and 1 <= r.child_age <= 15 for r in kids)
    for reg in kids:
        member = db.session.get(FamilyMember, reg.family_member_id)
        assert member.customer_id == reg.customer_id and member.name == reg.child_name
    assert sum(r.seats_taken for r in rounds) == len(kids)

    # 产说会 in progress: its round was held two days ago; five of six steps logged, check-ins and outcomes.
    seminar = next(c for c in campaigns if c.kind == "seminar")
    held = db.session.execute(select(SalonSession).where(SalonSession.campaign_id == seminar.id)).scalar_one()
    assert held.starts_at.date() == today - timedelta(days=2) and held.starts_at.hour == 19
    assert _count(SalonSessionStep, SalonSessionStep.session_id == held.id) == 5
    guests = db.session.execute(select(SalonRegistration).where(SalonRegistration.campaign_id == seminar.id)
                                .order_by(SalonRegistration.id)).scalars().all()
    assert [g.attended for g in guests] == [True] * 6 + [False] * 2
    assert [g.closing_result for g in guests[:6]] == ["closed", "closed", "pending", "declined", "closed", "pending"]
    assert sum((g.booked_premium or Decimal(0)) for g in guests) == Decimal("110000.00")
    assert guests[2].follow_up_on == today + timedelta(days=5)
    admin = db.session.execute(select(User).where(User.post == "admin")).scalar_one()
    funnel, _per_outlet = s.results(admin, seminar)
    assert (funnel.invited, funnel.registered, funnel.attended) == (8, 8, 6)

    # Finished 宝贝银行家: closed, signed before the round, template saved, certificates printable (not yet printed).
    done = next(c for c in campaigns if c.kind == "kids" and c.status == "closed")
    assert db.session.get(SalonCertTemplate, done.id).footer.endswith("个人金融部")
    marketing = db.session.get(User, done.created_by_id)
    attending = _count(SalonRegistration, certs.attending(done.id))
    assert attending >= 6 and certs.count_printable(done, marketing) == attending
    rows = certs.round_rows(done, marketing)
    hosts = [o for o in s.branch_outlets(done.branch_id) if o.has_reception_conditions]
    assert len(rows) == len(hosts) >= 2 and sum(r.attending for r in rows) == attending
    assert all(r.attending and r.issued == 0 and r.problem is None for r in rows)
    assert all(r.session.starts_at.date() == today - timedelta(days=30) and r.session.status == "closed"
               for r in rows)

    # 游学: one route, member price below market, children of 小六–高三.
    tour = next(c for c in campaigns if c.kind == "study_tour")
    route = db.session.execute(select(SalonRoute).where(SalonRoute.campaign_id == tour.id)).scalar_one()
    assert (route.discount, route.days) == (Decimal("820.00"), 6)
    pupils = db.session.execute(select(SalonRegistration).where(SalonRegistration.route_id == route.id)
                                ).scalars().all()
    assert pupils and all(p.school_grade in s.TOUR_GRADES for p in pupils) and route.seats_taken == len(pupils)
    assert _count(AuditLog, AuditLog.action == "salon_events.registered") == regs

    # The marketing officer of the 分行 sees the campaigns and the certificates ready to print on the pages.
    marketing.password_hash = hash_password(PASSWORD)
    db.session.commit()
    assert client.login(marketing.login).status_code == 302
    index = client.get("/p/salon-events/").get_data(as_text=True)
    assert all(c.name in index for c in campaigns if c.branch_id == done.branch_id)
    cert_page = client.get(f"/p/salon-events/certificates/campaign/{done.id}")
    assert cert_page.status_code == 200 and marketing.branch.name + "个人金融部" in cert_page.get_data(as_text=True)

    # A second run adds nothing.
    before = (_count(SalonCampaign), regs, _count(SalonInvitation))
    again: list[str] = []
    seed_plugin_demo(12, again.append)
    assert not any(line.startswith("营销活动") for line in again)
    assert (_count(SalonCampaign), _count(SalonRegistration), _count(SalonInvitation)) == before
