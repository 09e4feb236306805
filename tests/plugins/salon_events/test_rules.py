"""Business rules through the services: T-10 (rounds ≤10 children, ≤180 min, split 23 → 10/10/3, reception
conditions), T-11 (age 1–15, grades 小六–高三), T-12 (evening warning, steps in order, premium cap), T-09 routes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog
from crm.timeutil import today_local
from plugins.salon_events import services
from plugins.salon_events.models import SalonCampaign, SalonRegistration, SalonSession, SalonSessionStep
from plugins.salon_events.services import FormErrors, ServiceError
from tests.plugins.salon_events.conftest import as_user, child, cust, future


def campaign(org, kind="kids", status="open", outlets=None, **kw) -> SalonCampaign:
    raw = {"name": kw.pop("name", "宝贝银行家实习日"), "kind": kind, "code": "BBYH", "year": "2026",
           "outlets": [str(o.id) for o in (outlets or [org.a, org.a2])], **kw}
    c = as_user(org.marketing1, services.create_campaign, raw)
    if status != "draft":
        as_user(org.marketing1, services.advance_status, db.session.get(SalonCampaign, c.id), "open")
    return db.session.get(SalonCampaign, c.id)


def round_raw(outlet, day=None, start="09:00", end="12:00", capacity=10, **kw):
    day = day or (today_local() + timedelta(days=7))
    return {"outlet_id": str(outlet.id), "day": day.isoformat(), "start": start, "end": end,
            "capacity": str(capacity), **kw}


def make_round(org, c, **kw) -> SalonSession:
    s, _w = as_user(org.head_a, services.create_round, c, round_raw(org.a, **kw))
    return db.session.get(SalonSession, s.id)


# ---------------------------------------------------------------- T-10 rounds

def test_t10_kids_round_capacity_10_accepted_11_rejected(app, se):
    c = campaign(se)
    s = make_round(se, c, capacity=10)
    assert s.capacity == 10 and s.minutes == 180
    with pytest.raises(FormErrors) as exc:
        as_user(se.head_a, services.create_round, c, round_raw(se.a, capacity=11))
    assert exc.value.errors["capacity"] == "宝贝银行家每场最多 10 名儿童，请拆分为多场"


def test_t10_duration_210_minutes_rejected_180_accepted(app, se):
    c = campaign(se)
    with pytest.raises(FormErrors) as exc:
        as_user(se.head_a, services.create_round, c, round_raw(se.a, start="09:00", end="12:30"))
    assert exc.value.errors["time"] == "每场不超过3小时：本场 210 分钟，超出 30 分钟"
    # One minute over is already too long; exactly three hours is fine.
    with pytest.raises(FormErrors):
        as_user(se.head_a, services.create_round, c, round_raw(se.a, start="09:00", end="12:01"))
    assert make_round(se, c, start="09:00", end="12:00").minutes == 180


def test_t10_split_23_children_into_10_10_3(app, se):
    assert services.split_sizes(23) == [10, 10, 3]
    assert services.split_sizes(10) == [10] and services.split_sizes(11) == [10, 1] and services.split_sizes(20) == [10, 10]
    c = campaign(se)
    rows, warnings = as_user(se.head_a, services.split_rounds, c, {**round_raw(se.a), "total": "23", "gap_days": "1"})
    assert [r.capacity for r in rows] == [10, 10, 3] and warnings == []
    starts = [r.starts_at for r in db.session.execute(select(SalonSession).order_by(SalonSession.starts_at)).scalars()]
    assert [(b - a).days for a, b in zip(starts, starts[1:], strict=False)] == [1, 1]
    # Same day, back to back with 30 minutes between rounds.
    rows, _w = as_user(se.head_a, services.split_rounds, c, {**round_raw(se.a, day=today_local() + timedelta(days=20)),
                                                             "total": "12", "gap_days": "0", "gap_minutes": "30"})
    assert [(r.starts_at.strftime("%H:%M"), r.ends_at.strftime("%H:%M"), r.capacity) for r in rows] == [
        ("09:00", "12:00", 10), ("12:30", "15:30", 2)]


def test_t10_only_outlets_with_reception_conditions_host_kids_rounds(app, se):
    c = campaign(se)
    with pytest.raises(FormErrors) as exc:
        as_user(se.head_a2, services.create_round, c, round_raw(se.a2))
    assert "甲二网点 未登记具备接待条件" in exc.value.errors["outlet"]
    # A seminar has no such requirement.
    sem = campaign(se, kind="seminar", name="产说会")
    s, _w = as_user(se.head_a2, services.create_round, sem, round_raw(se.a2, start="19:00", end="21:00", capacity=30))
    assert s.outlet_id == se.a2.id


def test_outlet_cannot_schedule_for_another_outlet(app, se):
    c = campaign(se)
    with pytest.raises(FormErrors) as exc:
        as_user(se.head_a2, services.create_round, c, round_raw(se.a))
    assert exc.value.errors["outlet"] == "请选择参与本活动的网点"


# ---------------------------------------------------------------- T-12 seminars

def test_t12_seminar_at_19_is_fine_at_10_warns_but_is_saved(app, se):
    sem = campaign(se, kind="seminar", name="产说会")
    _s, warnings = as_user(se.head_a, services.create_round, sem, round_raw(se.a, start="19:00", end="21:00", capacity=40))
    assert warnings == []
    s, warnings = as_user(se.head_a, services.create_round, sem, round_raw(se.a, start="10:00", end="12:00", capacity=40))
    assert s.id and warnings == ["产说会/沙龙宜安排在晚上（10:00 开始不是晚间），请确认客户方便到场"]
    # 18:00 is the first evening minute; 17:59 warns.
    assert as_user(se.head_a, services.create_round, sem, round_raw(se.a, start="18:00", end="20:00", capacity=40))[1] == []
    assert as_user(se.head_a, services.create_round, sem, round_raw(se.a, start="17:59", end="20:00", capacity=40))[1]


def test_t12_steps_strictly_in_order(app, se):
    sem = campaign(se, kind="seminar", name="产说会")
    s, _w = as_user(se.head_a, services.create_round, sem, round_raw(se.a, start="19:00", end="21:00", capacity=40))
    s = db.session.get(SalonSession, s.id)
    for step in (1, 2, 3):
        as_user(se.head_a, services.log_step, s, step)
    with pytest.raises(ServiceError) as exc:
        as_user(se.head_a, services.log_step, db.session.get(SalonSession, s.id), 5)
    assert str(exc.value) == "「一对一促成」不能在「集中开会」之前登记，请按顺序完成"
    as_user(se.head_a, services.log_step, db.session.get(SalonSession, s.id), 4)
    as_user(se.head_a, services.log_step, db.session.get(SalonSession, s.id), 5)
    with pytest.raises(ServiceError, match="「集中开会」已登记"):
        as_user(se.head_a, services.log_step, db.session.get(SalonSession, s.id), 4)
    assert [r.step for r in services.steps_done(s.id)] == [1, 2, 3, 4, 5]
    assert db.session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "salon_events.step_logged")).scalar() == 5


def test_kids_round_has_the_five_steps_of_r30(app, se):
    c = campaign(se)
    s = make_round(se, c)
    assert services.steps_of("kids") == ("开场欢迎", "参观讲解", "互动体验", "颁发证书与合影", "营销引导")
    with pytest.raises(ServiceError, match="「参观讲解」不能在「开场欢迎」之前登记"):
        as_user(se.head_a, services.log_step, s, 2)
    with pytest.raises(ServiceError, match="无效的步骤"):
        as_user(se.head_a, services.log_step, s, 6)
    assert db.session.execute(select(func.count()).select_from(SalonSessionStep)).scalar() == 0


def test_t12_booked_premium_above_cap_warns(app, se):
    sem = campaign(se, kind="seminar", name="产说会", premium_cap="50000")
    s, _w = as_user(se.head_a, services.create_round, sem, round_raw(se.a, start="19:00", end="21:00", capacity=40,
                                                                      day=today_local() + timedelta(days=1)))
    s = db.session.get(SalonSession, s.id)
    p = cust(se.a, name="贷款客户甲")
    reg = as_user(se.head_a, services.register, s, services.RegistrationInput(customer_id=p.id))
    reg = db.session.get(SalonRegistration, reg.id)
    assert as_user(se.head_a, services.record_outcome, reg, {"booked_premium": "50000", "policies": "1"}) == []
    warnings = as_user(se.head_a, services.record_outcome, db.session.get(SalonRegistration, reg.id),
                       {"booked_premium": "50000.01", "closing_result": "closed"})
    assert warnings == ["预约保费 50,000.01 元高于本活动单户上限 50,000.00 元：预约保费不宜贪大求高"]
    reg = db.session.get(SalonRegistration, reg.id)
    assert reg.booked_premium == Decimal("50000.01") and reg.closing_result == "closed"  # saved anyway


# ---------------------------------------------------------------- T-11 ages and grades

def test_t11_kids_age_15_ok_16_refused_0_refused(app, se):
    c = campaign(se)
    s = make_round(se, c)
    p = cust(se.a, name="王家长")
    reg = as_user(se.head_a, services.register, s, services.RegistrationInput(customer_id=p.id, child_name="王小明",
                                                                                child_age=15))
    assert reg.status == "registered" and reg.child_age == 15
    for age in (16, 0):
        with pytest.raises(FormErrors) as exc:
            as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                    services.RegistrationInput(customer_id=p.id, child_name=f"王{age}", child_age=age))
        assert exc.value.errors["child_age"] == f"宝贝银行家面向1至15岁儿童，王{age} {age}岁不符合"


def test_t11_age_from_the_family_members_birthday_on_the_round_day(app, se):
    c = campaign(se)
    s = make_round(se, c)
    p = cust(se.a, name="李家长")
    day = s.starts_at.date()
    turns16 = child(p, "李大宝", birthday=date(day.year - 16, day.month, day.day))  # 16 on the day
    still15 = child(p, "李二宝", birthday=date(day.year - 16, day.month, day.day) + timedelta(days=1))
    with pytest.raises(FormErrors, match="李大宝 16岁不符合"):
        as_user(se.head_a, services.register, s, services.RegistrationInput(customer_id=p.id,
                                                                            family_member_id=turns16.id))
    reg = as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                  services.RegistrationInput(customer_id=p.id, family_member_id=still15.id))
    assert (reg.child_name, reg.child_age, reg.family_member_id) == ("李二宝", 15, still15.id)


def test_duplicate_registration_refused(app, se):
    c = campaign(se)
    s = make_round(se, c)
    p = cust(se.a)
    as_user(se.head_a, services.register, s, services.RegistrationInput(customer_id=p.id, child_name="张三", child_age=8))
    with pytest.raises(FormErrors) as exc:
        as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                services.RegistrationInput(customer_id=p.id, child_name=" 张三 ", child_age=8))
    assert exc.value.errors["child_name"] == "张三 已报名本活动，不能重复报名"
    # A second round of the same campaign does not make it a different registration.
    s2 = make_round(se, c, day=today_local() + timedelta(days=9))
    with pytest.raises(FormErrors):
        as_user(se.head_a, services.register, s2, services.RegistrationInput(customer_id=p.id, child_name="张三",
                                                                             child_age=8))
    assert db.session.execute(select(func.count()).select_from(SalonRegistration)).scalar() == 1
    assert db.session.get(SalonSession, s.id).seats_taken == 1


def test_closed_round_and_closed_campaign_refuse_registration(app, se):
    c = campaign(se)
    s = make_round(se, c)
    p = cust(se.a)
    as_user(se.head_a, services.set_round_status, s, "closed")
    with pytest.raises(ServiceError, match="该场次已截止报名"):
        as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                services.RegistrationInput(customer_id=p.id, child_name="甲", child_age=5))
    as_user(se.head_a, services.set_round_status, db.session.get(SalonSession, s.id), "open")
    as_user(se.marketing1, services.advance_status, db.session.get(SalonCampaign, c.id), "closed")
    assert db.session.get(SalonSession, s.id).status == "closed"  # closing the campaign closed its rounds
    with pytest.raises(ServiceError, match="活动未开始或已结束"):
        as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                services.RegistrationInput(customer_id=p.id, child_name="甲", child_age=5))


def test_full_round_waitlists_and_a_cancellation_promotes(app, se):
    c = campaign(se)
    s = make_round(se, c, capacity=2)
    regs = []
    for i in range(3):
        p = cust(se.a)
        regs.append(as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                            services.RegistrationInput(customer_id=p.id, child_name=f"孩子{i}", child_age=6)))
    assert [r.status for r in regs] == ["registered", "registered", "waitlisted"]
    promoted = as_user(se.head_a, services.cancel_registration, db.session.get(SalonRegistration, regs[0].id))
    assert promoted.id == regs[2].id and db.session.get(SalonRegistration, regs[2].id).status == "registered"
    assert db.session.get(SalonSession, s.id).seats_taken == 2
    as_user(se.head_a, services.cancel_registration, db.session.get(SalonRegistration, regs[1].id))
    assert db.session.get(SalonSession, s.id).seats_taken == 1
    # The cancelled child may register again.
    again = as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                    services.RegistrationInput(customer_id=regs[0].customer_id, child_name="孩子0", child_age=6))
    assert again.status == "registered"


def test_campaign_status_moves_forward_only(app, se):
    c = campaign(se, status="draft")
    assert c.status == "draft"
    with pytest.raises(ServiceError, match="草稿 → 进行中 → 已结束"):
        as_user(se.marketing1, services.advance_status, c, "closed")
    as_user(se.marketing1, services.advance_status, db.session.get(SalonCampaign, c.id), "open")
    as_user(se.marketing1, services.advance_status, db.session.get(SalonCampaign, c.id), "closed")
    with pytest.raises(ServiceError):
        as_user(se.marketing1, services.advance_status, db.session.get(SalonCampaign, c.id), "open")
    # Outlet staff do not manage campaigns.
    with pytest.raises(ServiceError, match="没有此项权限"):
        as_user(se.head_a, services.create_campaign, {"name": "x", "kind": "kids", "code": "X", "year": "2026"})


# ---------------------------------------------------------------- T-09 study-tour routes

SEED_ROUTES = [
    {"name": "美国东西海岸14天留学体验", "market_price": "37,900", "member_price": "32,900", "departure_city": "郑州",
     "depart_on": "2027-07-18", "return_on": "2027-07-31", "group_size": "15", "hotline": "时茹老师 13526682902",
     "deadline": "2027-06-01"},
    {"name": "伦敦市中心英语课程与寄宿家庭+周末牛津剑桥游览14天游学营", "market_price": "36900", "member_price": "27500",
     "departure_city": "郑州", "depart_on": "2027-07-28", "return_on": "2027-08-10", "group_size": "15",
     "hotline": "时茹老师 13526682902", "deadline": "2027-06-28"},
]


def test_t09_seed_routes_discount_and_fourteen_days(app, se):
    c = campaign(se, kind="study_tour", name="环球游学夏令营", partner="新东方")
    r1 = as_user(se.marketing1, services.save_route, c, SEED_ROUTES[0])
    r2 = as_user(se.marketing1, services.save_route, db.session.get(SalonCampaign, c.id), SEED_ROUTES[1])
    assert (r1.discount, r1.days) == (Decimal("5000.00"), 14)
    assert (r2.discount, r2.days) == (Decimal("9400.00"), 14)
    assert (r1.grade_from, r1.grade_to) == ("p6", "h3")
    with pytest.raises(FormErrors) as exc:
        as_user(se.marketing1, services.save_route, db.session.get(SalonCampaign, c.id),
                {**SEED_ROUTES[0], "member_price": "38000", "grade_from": "p5"})
    assert exc.value.errors == {"member_price": "会员专享价不能高于市场价", "grade_from": "适龄年级须在小学六年级至高三之间"}


def _tour(se, deadline: date, group_size: int = 15):
    c = campaign(se, kind="study_tour", name="游学")
    r = as_user(se.marketing1, services.save_route, c, {**SEED_ROUTES[0], "deadline": deadline.isoformat(),
                                                         "depart_on": (deadline + timedelta(days=30)).isoformat(),
                                                         "return_on": (deadline + timedelta(days=43)).isoformat(),
                                                         "group_size": str(group_size)})
    return r


def test_t11_study_tour_grades_p6_to_h3_age_not_used(app, se):
    r = _tour(se, today_local() + timedelta(days=10))
    p = cust(se.a)
    reg = as_user(se.head_a, services.register, r, services.RegistrationInput(customer_id=p.id, child_name="高三生",
                                                                              school_grade="h3", child_age=18))
    assert reg.status == "registered" and reg.child_age is None
    reg = as_user(se.head_a, services.register, r, services.RegistrationInput(customer_id=p.id, child_name="小六生",
                                                                              school_grade="p6"))
    assert reg.school_grade == "p6"
    for grade, text in (("p5", "小学五年级"), ("u", "大学及以上")):
        with pytest.raises(FormErrors) as exc:
            as_user(se.head_a, services.register, r, services.RegistrationInput(customer_id=p.id, child_name="x" + grade,
                                                                                school_grade=grade))
        assert exc.value.errors["school_grade"] == f"该线路适合小学六年级至高三，{text}不符合"


def test_t09_deadline_is_inclusive_and_group_size_waitlists(app, se):
    r = _tour(se, today_local(), group_size=1)
    a, b = cust(se.a), cust(se.a)
    assert as_user(se.head_a, services.register, r, services.RegistrationInput(
        customer_id=a.id, child_name="甲", school_grade="m1")).status == "registered"  # on the deadline day: ok
    assert as_user(se.head_a, services.register, r, services.RegistrationInput(
        customer_id=b.id, child_name="乙", school_grade="m2")).status == "waitlisted"  # beyond 15人/团 → 候补
    late = _tour(se, today_local() - timedelta(days=1))
    with pytest.raises(ServiceError, match="报名已于 .* 截止"):
        as_user(se.head_a, services.register, late, services.RegistrationInput(customer_id=a.id, child_name="丙",
                                                                               school_grade="m1"))


def test_registration_outside_scope_is_refused(app, se):
    c = campaign(se)
    s = make_round(se, c)
    other = cust(se.b, name="乙行客户")
    with pytest.raises(FormErrors) as exc:
        as_user(se.head_a, services.register, s, services.RegistrationInput(customer_id=other.id, child_name="x",
                                                                            child_age=5))
    assert exc.value.errors["customer_id"] == "找不到该客户，或不在您的管辖范围内"


def test_check_in_only_on_the_day_and_only_registered(app, se):
    c = campaign(se)
    later = make_round(se, c)
    today = SalonSession(campaign_id=c.id, outlet_id=se.a.id, starts_at=future(0, 23, 0), ends_at=future(0, 23, 50),
                         capacity=1, seats_taken=0, status="open")
    db.session.add(today)
    db.session.commit()
    p1, p2 = cust(se.a), cust(se.a)
    r1 = as_user(se.head_a, services.register, today, services.RegistrationInput(customer_id=p1.id, child_name="甲",
                                                                                 child_age=5))
    r2 = as_user(se.head_a, services.register, db.session.get(SalonSession, today.id),
                 services.RegistrationInput(customer_id=p2.id, child_name="乙", child_age=5))
    assert r2.status == "waitlisted"
    as_user(se.lobby_a, services.check_in, db.session.get(SalonRegistration, r1.id))
    r1 = db.session.get(SalonRegistration, r1.id)
    assert r1.attended and r1.checked_in_by_id == se.lobby_a.id and r1.checked_in_at is not None
    with pytest.raises(ServiceError, match="候补或已取消的报名不能签到"):
        as_user(se.lobby_a, services.check_in, db.session.get(SalonRegistration, r2.id))
    r3 = as_user(se.head_a, services.register, later, services.RegistrationInput(customer_id=p2.id, child_name="丙",
                                                                                 child_age=5))
    with pytest.raises(ServiceError, match="活动当天才能签到"):
        as_user(se.lobby_a, services.check_in, db.session.get(SalonRegistration, r3.id))
