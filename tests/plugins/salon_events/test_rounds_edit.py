"""Editing a round with the rules of creation (R-30 ≤10 children, ≤180 min, reception conditions; R-31 evening),
optimistic locking, capacity never below the registered count, deleting/closing/reopening rounds, removing
invitations, and staff dropdowns limited to the right posts (checked by the server too)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog
from crm.timeutil import today_local
from plugins.salon_events import services
from plugins.salon_events.models import SalonInvitation, SalonRegistration, SalonSession
from plugins.salon_events.services import FormErrors, ServiceError
from tests.conftest import make_user, table_snapshot
from tests.plugins.salon_events.conftest import as_user, cust
from tests.plugins.salon_events.test_rules import campaign, make_round, round_raw

BASE = "/p/salon-events"


def edit_raw(s: SalonSession, **kw):
    raw = {"day": s.starts_at.date().isoformat(), "start": s.starts_at.strftime("%H:%M"),
           "end": s.ends_at.strftime("%H:%M"), "capacity": str(s.capacity),
           "partner_teacher": s.partner_teacher or "", "note": s.note or ""}
    for key in services.STAFF_ROLES:
        raw[key] = str(getattr(s, key) or "")
    raw.update(kw)
    return raw


def edit(user, s: SalonSession, **kw):
    s = db.session.get(SalonSession, s.id)
    return as_user(user, services.update_round, s, edit_raw(s, **kw), services.round_version(s))


def register_kids(se, s, n: int) -> list[SalonRegistration]:
    out = []
    for i in range(n):
        p = cust(se.a)
        out.append(as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                           services.RegistrationInput(customer_id=p.id, child_name=f"小童{i}", child_age=6)))
    return out


def audits(action: str) -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action)).scalars())


@pytest.fixture
def staff(se):
    """Posts around outlet A: a wealth manager and a retail VP of 甲一支行, plus decoys of other posts/places."""
    return dict(
        wm_a=make_user("WA0001", "wealth_manager", outlet=se.a, name="甲理财经理"),
        vp1=make_user("VP0001", "retail_vp", branch=se.s1, name="零售主管行长一"),
        president2=make_user("PR0002", "sub_branch_president", branch=se.s2, name="乙支行行长"),
        gone=make_user("LA0009", "lobby_manager", outlet=se.a, name="停用大堂", active=False),
        lobby_a2=make_user("LA0002", "lobby_manager", outlet=se.a2, name="甲二大堂"),
    )


# ---------------------------------------------------------------- staff dropdowns (R-30 roles)

def test_staff_choices_only_the_posts_of_each_role(app, se, staff):
    ch = services.staff_choices(se.a)
    names = {k: sorted(u.name for u in v) for k, v in ch.items()}
    assert names == {"lobby_manager_id": ["甲大堂"], "rm_id": ["甲客户经理"],
                     "president_id": sorted(["支行行长一", "零售主管行长一"]), "wealth_manager_id": ["甲理财经理"]}
    # 甲二网点: its corporate RM and lobby manager; the host comes from the same 支行 (甲一支行).
    ch2 = services.staff_choices(se.a2)
    assert [u.name for u in ch2["rm_id"]] == ["甲二客户经理"] and [u.name for u in ch2["lobby_manager_id"]] == ["甲二大堂"]
    assert sorted(u.name for u in ch2["president_id"]) == sorted(["支行行长一", "零售主管行长一"])


def test_outlet_head_assigns_the_sub_branch_president_as_host(app, se, staff):
    c = campaign(se)
    s, _w = as_user(se.head_a, services.create_round, c, round_raw(
        se.a, lobby_manager_id=str(se.lobby_a.id), rm_id=str(se.rm_a.id), president_id=str(se.president1.id),
        wealth_manager_id=str(staff["wm_a"].id)))
    s = db.session.get(SalonSession, s.id)
    assert (s.lobby_manager.name, s.rm.name, s.president.name, s.wealth_manager.name) == (
        "甲大堂", "甲客户经理", "支行行长一", "甲理财经理")


@pytest.mark.parametrize("key,who,message", [
    ("lobby_manager_id", "teller_a", "大堂经理一栏只能选择甲网点在岗的大堂经理"),
    ("lobby_manager_id", "lobby_a2", "大堂经理一栏只能选择甲网点在岗的大堂经理"),
    ("lobby_manager_id", "gone", "大堂经理一栏只能选择甲网点在岗的大堂经理"),
    ("rm_id", "rm_a2", "客户经理一栏只能选择甲网点在岗的法人或个人客户经理"),
    ("rm_id", "rm_b", "客户经理一栏只能选择甲网点在岗的法人或个人客户经理"),
    ("president_id", "president2", "支行行长一栏只能选择甲一支行的支行行长或零售主管行长"),
    ("president_id", "head_a", "支行行长一栏只能选择甲一支行的支行行长或零售主管行长"),
    ("wealth_manager_id", "rm_a", "理财经理一栏只能选择甲网点在岗的理财经理"),
])
def test_forged_staff_id_refused_nothing_saved(app, se, staff, key, who, message):
    c = campaign(se)
    user = staff.get(who) or getattr(se, who)
    before = table_snapshot()
    with pytest.raises(FormErrors) as exc:
        as_user(se.marketing1, services.create_round, c, round_raw(se.a, **{key: str(user.id)}))
    assert exc.value.errors == {key: message}
    assert table_snapshot() == before
    # The same forged id on an edit is refused too, and the round stays as it was.
    s = make_round(se, c)
    before = table_snapshot()
    with pytest.raises(FormErrors) as exc:
        edit(se.head_a, s, **{key: str(user.id)}, note="改了备注")
    assert exc.value.errors == {key: message}
    assert table_snapshot() == before


# ---------------------------------------------------------------- editing

def test_edit_round_applies_t10_limits_and_is_audited(app, se, staff):
    c = campaign(se)
    s = make_round(se, c, capacity=8)
    with pytest.raises(FormErrors) as exc:
        edit(se.head_a, s, capacity="11")
    assert exc.value.errors["capacity"] == "宝贝银行家每场最多 10 名儿童，请拆分为多场"
    with pytest.raises(FormErrors) as exc:
        edit(se.head_a, s, start="09:00", end="12:01")
    assert exc.value.errors["time"] == "每场不超过3小时：本场 181 分钟，超出 1 分钟"
    with pytest.raises(FormErrors) as exc:
        edit(se.head_a, s, day=(today_local() - timedelta(days=1)).isoformat())
    assert exc.value.errors["time"] == "场次开始时间已过"
    new_day = today_local() + timedelta(days=9)
    res = edit(se.head_a, s, capacity="10", day=new_day.isoformat(), start="14:00", end="17:00",
               president_id=str(staff["vp1"].id), partner_teacher="实验幼儿园 李老师")
    s = db.session.get(SalonSession, s.id)
    assert (s.capacity, s.starts_at.strftime("%Y-%m-%d %H:%M"), s.minutes, s.president.name, s.partner_teacher) == (
        10, f"{new_day.isoformat()} 14:00", 180, "零售主管行长一", "实验幼儿园 李老师")
    assert res.warnings == [] and set(res.changes) == {"starts_at", "ends_at", "capacity", "president_id",
                                                       "partner_teacher"}
    (row,) = audits("salon_events.round_updated")
    assert row.detail["changes"]["capacity"] == [8, 10] and row.actor_id == se.head_a.id
    # Nothing changed: no write, no audit row.
    assert edit(se.head_a, s).changes == {} and len(audits("salon_events.round_updated")) == 1


def test_edit_kids_round_refused_when_outlet_lost_reception_conditions(app, se):
    c = campaign(se)
    s = make_round(se, c)
    se.a.has_reception_conditions = False
    db.session.commit()
    with pytest.raises(FormErrors) as exc:
        edit(se.head_a, s, capacity="9")
    assert exc.value.errors["outlet"] == "甲网点 未登记具备接待条件，不能承办宝贝银行家活动"


def test_edit_seminar_to_the_morning_warns_t12(app, se):
    c = campaign(se, kind="seminar", name="产说会")
    s = make_round(se, c, start="19:00", end="21:00", capacity=30)
    res = edit(se.head_a, s, start="10:00", end="12:00")
    assert res.warnings == ["产说会/沙龙宜安排在晚上（10:00 开始不是晚间），请确认客户方便到场"]
    assert db.session.get(SalonSession, s.id).starts_at.strftime("%H:%M") == "10:00"  # a warning, not a refusal
    assert edit(se.head_a, s, start="18:00", end="20:00").warnings == []  # 18:00 is evening (boundary)


def test_capacity_cannot_go_below_registered(app, se):
    c = campaign(se)
    s = make_round(se, c, capacity=5)
    register_kids(se, s, 3)
    with pytest.raises(FormErrors) as exc:
        edit(se.head_a, s, capacity="2")
    assert exc.value.errors["capacity"] == "本场已有 3 人报名，名额不能少于 3；如需减少，请先取消部分报名"
    edit(se.head_a, s, capacity="3")  # exactly the registered count is fine
    assert db.session.get(SalonSession, s.id).capacity == 3


def test_raised_capacity_seats_the_waitlist_in_order(app, se):
    c = campaign(se)
    s = make_round(se, c, capacity=1)
    first, second, third = register_kids(se, s, 3)
    assert [db.session.get(SalonRegistration, r.id).status for r in (first, second, third)] == [
        "registered", "waitlisted", "waitlisted"]
    res = edit(se.head_a, s, capacity="2")
    assert res.promoted == 1
    assert [db.session.get(SalonRegistration, r.id).status for r in (first, second, third)] == [
        "registered", "registered", "waitlisted"]
    assert db.session.get(SalonSession, s.id).seats_taken == 2


def test_stale_edit_form_refused_optimistic_lock(app, se):
    c = campaign(se)
    s = make_round(se, c, capacity=8)
    stale = services.round_version(s)
    edit(se.head_a, s, note="第一次修改")
    s = db.session.get(SalonSession, s.id)
    with pytest.raises(ServiceError) as exc:
        as_user(se.marketing1, services.update_round, s, edit_raw(s, capacity="9"), stale)
    assert str(exc.value) == "该场次已被他人修改，请刷新后重试"
    assert db.session.get(SalonSession, s.id).capacity == 8


def test_time_frozen_once_check_in_started(app, se):
    from tests.plugins.salon_events.test_web import today_round

    c = campaign(se)
    s = today_round(se, c)
    (reg,) = register_kids(se, s, 1)
    as_user(se.head_a, services.check_in, db.session.get(SalonRegistration, reg.id))
    with pytest.raises(FormErrors) as exc:
        edit(se.head_a, s, end="23:55")
    assert exc.value.errors["time"] == "本场已开始签到或登记流程，不能再修改时间"
    edit(se.head_a, s, partner_teacher="王老师")  # staff/teacher can still be corrected on the day
    assert db.session.get(SalonSession, s.id).partner_teacher == "王老师"


# ---------------------------------------------------------------- delete, close, reopen

def test_delete_round_only_without_registrations(app, se):
    c = campaign(se)
    s = make_round(se, c)
    (reg,) = register_kids(se, s, 1)
    as_user(se.head_a, services.cancel_registration, db.session.get(SalonRegistration, reg.id))
    with pytest.raises(ServiceError) as exc:
        as_user(se.head_a, services.delete_round, db.session.get(SalonSession, s.id))
    assert str(exc.value) == "本场已有 1 条报名记录，不能删除；如不再举办，请“截止报名”"
    assert db.session.get(SalonSession, s.id) is not None
    empty_id = make_round(se, c, day=today_local() + timedelta(days=8)).id
    as_user(se.head_a, services.delete_round, db.session.get(SalonSession, empty_id))
    assert db.session.get(SalonSession, empty_id) is None
    (row,) = audits("salon_events.round_deleted")
    assert row.target_id == str(empty_id) and row.detail["capacity"] == 10


def test_close_and_reopen_round(app, se):
    c = campaign(se)
    s = make_round(se, c)
    as_user(se.head_a, services.set_round_status, db.session.get(SalonSession, s.id), "closed")
    p = cust(se.a)
    with pytest.raises(ServiceError) as exc:
        as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                services.RegistrationInput(customer_id=p.id, child_name="晚来", child_age=5))
    assert str(exc.value) == "该场次已截止报名"
    with pytest.raises(ServiceError):
        as_user(se.head_a, services.set_round_status, db.session.get(SalonSession, s.id), "closed")
    as_user(se.head_a, services.set_round_status, db.session.get(SalonSession, s.id), "open")
    reg = as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                  services.RegistrationInput(customer_id=p.id, child_name="晚来", child_age=5))
    assert reg.status == "registered"
    assert [a.action for a in db.session.execute(select(AuditLog).where(
        AuditLog.action.like("salon_events.round_%")).order_by(AuditLog.id)).scalars()] == [
        "salon_events.round_created", "salon_events.round_closed", "salon_events.round_open"]
    # A round that is over cannot be reopened.
    s = db.session.get(SalonSession, s.id)
    s.status = "closed"
    s.starts_at, s.ends_at = s.starts_at - timedelta(days=30), s.ends_at - timedelta(days=30)
    db.session.commit()
    with pytest.raises(ServiceError) as exc:
        as_user(se.head_a, services.set_round_status, db.session.get(SalonSession, s.id), "open")
    assert str(exc.value) == "场次已结束，不能重新开放报名"


# ---------------------------------------------------------------- invitations

def test_remove_invitation_only_before_registration(app, se):
    c = campaign(se)
    s = make_round(se, c)
    p1, p2 = cust(se.a, name="邀约甲"), cust(se.a, name="邀约乙")
    assert as_user(se.head_a, services.invite_customers, c, [p1.id, p2.id]) == 2
    inv1, inv2 = db.session.execute(select(SalonInvitation.id).order_by(SalonInvitation.id)).scalars().all()
    as_user(se.head_a, services.remove_invitation, db.session.get(SalonInvitation, inv1))
    assert db.session.get(SalonInvitation, inv1) is None
    (row,) = audits("salon_events.invitation_removed")
    assert row.detail["customer"] == p1.id
    reg = as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                  services.RegistrationInput(customer_id=p2.id, child_name="小乙", child_age=7))
    with pytest.raises(ServiceError) as exc:
        as_user(se.head_a, services.remove_invitation, db.session.get(SalonInvitation, inv2))
    assert str(exc.value) == "该客户已报名本活动，不能删除邀约；如客户不能到场，请先取消报名"
    assert db.session.get(SalonInvitation, inv2) is not None
    as_user(se.head_a, services.cancel_registration, db.session.get(SalonRegistration, reg.id))
    as_user(se.head_a, services.remove_invitation, db.session.get(SalonInvitation, inv2))
    assert db.session.execute(select(func.count()).select_from(SalonInvitation)).scalar() == 0


# ---------------------------------------------------------------- in the browser (test client)

def test_round_edit_page_and_forged_post(client, se, staff):
    c = campaign(se)
    s = make_round(se, c, capacity=8)
    client.login("HA0001")
    html = client.get(f"{BASE}/rounds/{s.id}/edit").get_data(as_text=True)
    assert "编辑场次" in html and 'value="8"' in html
    lobby = re.search(r'<select[^>]*name="lobby_manager_id".*?</select>', html, re.S).group(0)
    host = re.search(r'<select[^>]*name="president_id".*?</select>', html, re.S).group(0)
    assert "甲大堂" in lobby and "甲柜员" not in lobby and "甲客户经理" not in lobby and "停用大堂" not in lobby
    assert "支行行长一" in host and "零售主管行长一" in host and "乙支行行长" not in host
    version = re.search(r'name="version" value="([^"]+)"', html).group(1)
    s = db.session.get(SalonSession, s.id)
    resp = client.post(f"{BASE}/rounds/{s.id}/edit", {**edit_raw(s, capacity="9"), "version": version,
                                                      "president_id": str(staff["president2"].id)})
    assert resp.status_code == 422
    assert "支行行长一栏只能选择甲一支行的支行行长或零售主管行长" in resp.get_data(as_text=True)
    assert db.session.get(SalonSession, s.id).capacity == 8
    resp = client.post(f"{BASE}/rounds/{s.id}/edit", {**edit_raw(s, capacity="9"), "version": version})
    assert resp.status_code == 302 and db.session.get(SalonSession, s.id).capacity == 9
    # The same (now stale) form again: 409 with the Chinese message, nothing written.
    resp = client.post(f"{BASE}/rounds/{s.id}/edit", {**edit_raw(s, capacity="7"), "version": version})
    assert resp.status_code == 409 and "该场次已被他人修改，请刷新后重试" in resp.get_data(as_text=True)
    assert db.session.get(SalonSession, s.id).capacity == 9
    # The campaign page's staff dropdowns follow the chosen outlet (htmx fragment); only outlets in scope.
    assert client.get(f"{BASE}/campaigns/{c.id}/round-staff?outlet_id={se.a2.id}").status_code == 404
    client.logout()
    client.login("MK0001")
    frag = client.get(f"{BASE}/campaigns/{c.id}/round-staff?outlet_id={se.a2.id}").get_data(as_text=True)
    assert "甲二大堂" in frag and "甲大堂（" not in frag and "支行行长一" in frag and "甲二客户经理" in frag
    client.logout()
    client.login("HB0001")  # another 分行's outlet: no such round
    assert client.get(f"{BASE}/rounds/{s.id}/edit").status_code == 404
    assert client.post(f"{BASE}/rounds/{s.id}/delete").status_code == 404


def test_delete_round_and_remove_invitation_in_the_browser(client, se):
    c = campaign(se)
    sid = make_round(se, c).id
    p = cust(se.a, name="误邀客户")
    as_user(se.head_a, services.invite_customers, c, [p.id])
    client.login("HA0001")
    page = client.get(f"{BASE}/campaigns/{c.id}").get_data(as_text=True)
    assert "data-se-invitation-remove" in page
    inv = db.session.execute(select(SalonInvitation)).scalar_one()
    assert client.post(f"{BASE}/invitations/{inv.id}/delete").status_code == 302
    assert db.session.execute(select(func.count()).select_from(SalonInvitation)).scalar() == 0
    html = client.get(f"{BASE}/rounds/{sid}/edit").get_data(as_text=True)
    assert "data-se-round-delete" in html
    resp = client.post(f"{BASE}/rounds/{sid}/delete")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/campaigns/{c.id}#rounds")
    db.session.expire_all()
    assert db.session.get(SalonSession, sid) is None


# ---------------------------------------------------------------- a kids round moved to another day (S-15, T-10)

def test_moved_round_recomputes_ages_and_refuses_a_child_who_would_be_16(app, se):
    """Ages are those on the round's day (T-11): moving the round past a child's 16th birthday is refused with the
    child's name; a move that keeps everyone within 1–15 stores the new ages."""
    from tests.plugins.salon_events.conftest import child

    c = campaign(se)
    day = today_local() + timedelta(days=7)
    s = make_round(se, c, day=day)
    parent = cust(se.a)
    # Turns 16 exactly ten days after the round's first day: 15 on the day, 16 if the round moves ten days later.
    sixteen = day + timedelta(days=10)
    teen = child(parent, "小满", birthday=sixteen.replace(year=sixteen.year - 16))
    other = cust(se.a)
    small = child(other, "小禾", birthday=(day + timedelta(days=3)).replace(year=day.year - 6))
    for p, m in ((parent, teen), (other, small)):
        as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                services.RegistrationInput(customer_id=p.id, family_member_id=m.id))
    ages = lambda: sorted(db.session.execute(  # noqa: E731
        select(SalonRegistration.child_name, SalonRegistration.child_age)).all())
    assert ages() == [("小满", 15), ("小禾", 5)]
    before = table_snapshot()
    with pytest.raises(FormErrors) as exc:
        edit(se.head_a, s, day=sixteen.isoformat())  # the boundary: 16 on that very day
    assert exc.value.errors["time"] == (f"改到 {sixteen.isoformat()} 后，小满（16岁） 不符合宝贝银行家1至15岁的要求；"
                                        "请另选日期，或先取消其报名")
    assert table_snapshot() == before
    res = edit(se.head_a, s, day=(sixteen - timedelta(days=1)).isoformat())  # one day earlier: still 15
    assert ages() == [("小满", 15), ("小禾", 6)]  # 小禾 had a birthday in between
    assert res.changes["child_age"] == [None, 1]


def test_moved_round_before_the_signature_warns(app, se):
    """T-10: the 支行行长 signs before the round starts; moving the round earlier than the signature warns."""
    from datetime import datetime

    from tests.plugins.salon_events.test_cert import signature

    c = campaign(se)
    day = today_local() + timedelta(days=7)
    s = make_round(se, c, day=day)
    signature(c, se.s1, se.president1, datetime.combine(day - timedelta(days=2), datetime.min.time()).replace(hour=10))
    assert edit(se.head_a, s, day=(day - timedelta(days=1)).isoformat()).warnings == []  # still after the signature
    res = edit(se.head_a, db.session.get(SalonSession, s.id), day=(day - timedelta(days=2)).isoformat(),
               start="09:00", end="12:00")  # 09:00 on the day signed at 10:00
    assert res.warnings == ["支行行长签名登记于新的开始时间之后：打印本场实习证明前，须在开场前重新登记签名（T-10）"]
