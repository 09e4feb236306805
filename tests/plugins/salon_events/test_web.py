"""salon_events in the browser (test client): forms with Chinese 422s, the round page, registration, the check-in
page, steps, photos (uploads checked by content), results, export, widget, scope, CSRF, plugin off."""

from __future__ import annotations

import io
import random
import re
import zipfile
from datetime import timedelta

import pytest
from PIL import Image
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog, User
from crm.timeutil import today_local
from plugins.salon_events import services
from plugins.salon_events.models import (
    SalonCampaign,
    SalonInvitation,
    SalonPhoto,
    SalonRegistration,
    SalonSession,
    SalonSessionStep,
)
from tests.conftest import CANARY_B
from tests.plugins.salon_events.conftest import as_user, child, cust, future
from tests.plugins.salon_events.test_rules import campaign, make_round, round_raw

BASE = "/p/salon-events"


def body(resp, status=200) -> str:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    return resp.get_data(as_text=True)


def today_round(se, c, outlet=None, capacity=10, start=(23, 0), end=(23, 50)) -> SalonSession:
    """A round later today (check-in is only on the day)."""
    outlet = outlet or se.a
    s = SalonSession(campaign_id=c.id, outlet_id=outlet.id, starts_at=future(0, *start), ends_at=future(0, *end),
                     capacity=capacity, seats_taken=0, status="open")
    db.session.add(s)
    db.session.commit()
    return s


def png_bytes(size=(40, 30), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, fmt)
    return buf.getvalue()


def test_marketing_creates_a_campaign_in_the_browser(client, se):
    client.login("MK0001")
    form = body(client.get(f"{BASE}/campaigns/new"))
    assert "1至15岁儿童及其家长" in form and "儿童专属借记卡" in form  # R-28 frame prefilled
    assert "乙网点" not in form  # only the 分行's own outlets to choose from
    resp = client.post(f"{BASE}/campaigns/new", {"name": "", "kind": "kids", "code": "宝贝", "year": "26"})
    html = body(resp, 422)
    assert "请填写活动名称" in html and "活动代码只能由字母、数字组成" in html and "请填写活动年度" in html
    assert db.session.execute(select(func.count()).select_from(SalonCampaign)).scalar() == 0
    resp = client.post(f"{BASE}/campaigns/new", {"name": "宝贝银行家实习日", "kind": "kids", "code": "bbyh",
                                                 "year": "2026", "partner": "实验幼儿园",
                                                 "outlets": [str(se.a.id), str(se.a2.id)]})
    assert resp.status_code == 302
    c = db.session.execute(select(SalonCampaign)).scalar_one()
    assert (c.code, c.status, c.branch_id, sorted(o.outlet_id for o in c.outlets)) == (
        "BBYH", "draft", se.b1.id, sorted([se.a.id, se.a2.id]))
    page = body(client.get(resp.headers["Location"]))
    assert "宝贝银行家实习日" in page and "草稿" in page and "开始活动" in page
    assert client.post(f"{BASE}/campaigns/{c.id}/status", {"status": "open"}).status_code == 302
    assert db.session.get(SalonCampaign, c.id).status == "open"
    assert db.session.execute(select(AuditLog.action).where(AuditLog.action.like("salon_events.campaign%"))
                              ).scalars().all() == ["salon_events.campaign_created", "salon_events.campaign_status"]
    # Outlet staff cannot create campaigns (the route is the manage permission's: core answers 403).
    client.logout()
    client.login("HA0001")
    assert client.get(f"{BASE}/campaigns/new").status_code == 403


def test_outlet_schedules_rounds_with_t10_messages(client, se):
    c = campaign(se)
    client.login("HA0001")
    page = body(client.get(f"{BASE}/campaigns/{c.id}"))
    assert "按人数拆分场次" in page and "安排本场" in page
    html = body(client.post(f"{BASE}/campaigns/{c.id}/rounds", round_raw(se.a, capacity=11, end="12:30")), 422)
    assert "宝贝银行家每场最多 10 名儿童，请拆分为多场" in html and "每场不超过3小时：本场 210 分钟" in html
    assert client.post(f"{BASE}/campaigns/{c.id}/rounds", {**round_raw(se.a), "total": "23", "split": "1"}
                       ).status_code == 302
    caps = db.session.execute(select(SalonSession.capacity).order_by(SalonSession.starts_at)).scalars().all()
    assert caps == [10, 10, 3]
    page = body(client.get(f"{BASE}/campaigns/{c.id}"))
    assert page.count(f"{BASE}/rounds/") >= 3


def test_seminar_at_10_saves_with_a_warning_toast(client, se):
    sem = campaign(se, kind="seminar", name="产说会")
    client.login("HA0001")
    resp = client.post(f"{BASE}/campaigns/{sem.id}/rounds", round_raw(se.a, start="10:00", end="12:00", capacity=30))
    assert resp.status_code == 302
    page = body(client.get(resp.headers["Location"]))
    assert "产说会/沙龙宜安排在晚上（10:00 开始不是晚间）" in page
    assert db.session.execute(select(func.count()).select_from(SalonSession)).scalar() == 1


def test_registration_check_in_steps_and_outcomes_in_the_browser(client, se):
    c = campaign(se)
    s = today_round(se, c, capacity=1)
    parent = cust(se.a, name="赵家长", phone="13912345678")
    kid = child(parent, "赵小宝", birthday=today_local().replace(year=today_local().year - 8) - timedelta(days=3))
    other = cust(se.a, name="钱家长")
    client.login("HA0001")
    page = body(client.get(f"{BASE}/rounds/{s.id}"))
    assert "查找家长（客户）" in page
    found = body(client.get(f"{BASE}/campaigns/{c.id}/customers", query_string={
        "q": "赵", "mode": "register", "target": f"{BASE}/round/{s.id}/register-form"}))
    assert "赵家长" in found and "139****5678" in found and "13912345678" not in found
    form = body(client.get(f"{BASE}/round/{s.id}/register-form", query_string={"customer_id": parent.id}))
    assert "赵小宝" in form and "从家庭成员中选择孩子" in form
    assert client.post(f"{BASE}/round/{s.id}/register", {"customer_id": str(parent.id),
                                                          "family_member_id": str(kid.id)}).status_code == 302
    reg = db.session.execute(select(SalonRegistration)).scalar_one()
    assert (reg.child_name, reg.child_age, reg.status, reg.invited_by_id) == ("赵小宝", 8, "registered", se.head_a.id)
    # The round is full: the next child is wait-listed; a 16-year-old is refused with the reason.
    html = body(client.post(f"{BASE}/round/{s.id}/register", {"customer_id": str(other.id), "child_name": "钱大宝",
                                                              "child_age": "16"}), 422)
    assert "宝贝银行家面向1至15岁儿童，钱大宝 16岁不符合" in html
    client.post(f"{BASE}/round/{s.id}/register", {"customer_id": str(other.id), "child_name": "钱小宝",
                                                  "child_age": "6"})
    statuses = dict(db.session.execute(select(SalonRegistration.child_name, SalonRegistration.status)).all())
    assert statuses == {"赵小宝": "registered", "钱小宝": "waitlisted"}
    # The check-in page lists the registered child only, with a big button.
    checkin = body(client.get(f"{BASE}/rounds/{s.id}/checkin"))
    assert "赵小宝" in checkin and "钱小宝" not in checkin and "se-touch" in checkin and "0/1" in checkin
    assert client.post(f"{BASE}/registrations/{reg.id}/checkin", {"present": "1"}).status_code == 302
    assert db.session.get(SalonRegistration, reg.id).attended is True
    checkin = body(client.get(f"{BASE}/rounds/{s.id}/checkin"))
    assert "1/1" in checkin and "已签到" in checkin and "拍亲子合影" in checkin
    # Steps: step 2 before step 1 is refused with the reason; step 1 then works.
    client.post(f"{BASE}/rounds/{s.id}/steps", {"step": "2", "back": "checkin"})
    assert db.session.execute(select(func.count()).select_from(SalonSessionStep)).scalar() == 0
    page = body(client.get(f"{BASE}/rounds/{s.id}/checkin"))
    assert "「参观讲解」不能在「开场欢迎」之前登记" in page
    client.post(f"{BASE}/rounds/{s.id}/steps", {"step": "1", "back": "checkin"})
    assert [x.step for x in services.steps_done(s.id)] == [1]
    # Outcome: card opened.
    assert client.post(f"{BASE}/registrations/{reg.id}/outcome", {"card_opened": "1", "policies": "1",
                                                                   "booked_premium": "12,000"}).status_code == 302
    reg = db.session.get(SalonRegistration, reg.id)
    assert reg.card_opened and reg.policies == 1 and str(reg.booked_premium) == "12000.00"


def test_photo_upload_checks_content_reencodes_and_is_served_only_in_scope(client, new_client, se, monkeypatch):
    c = campaign(se)
    s = today_round(se, c)
    p = cust(se.a)
    reg = as_user(se.head_a, services.register, s, services.RegistrationInput(customer_id=p.id, child_name="孙小宝",
                                                                              child_age=7))
    client.login("HA0001")
    # A text file named .png is refused by content.
    client.post(f"{BASE}/rounds/{s.id}/photos", {"registration_id": str(reg.id),
                                                 "photo": (io.BytesIO(b"<script>alert(1)</script>"), "x.png")},
                content_type="multipart/form-data")
    assert db.session.execute(select(func.count()).select_from(SalonPhoto)).scalar() == 0
    page = body(client.get(f"{BASE}/rounds/{s.id}"))
    assert "文件不是有效的图片" in page
    # Too large: refused before decoding (the cap lowered to 4 KB here; it is 8 MB).
    from plugins.salon_events import uploads

    assert uploads.MAX_BYTES == 8 * 1024 * 1024
    monkeypatch.setattr(uploads, "MAX_BYTES", 4 * 1024)
    buf = io.BytesIO()
    Image.frombytes("RGB", (100, 100), random.Random(5).randbytes(30000)).save(buf, "PNG")  # noise: no compression
    big = buf.getvalue()
    assert len(big) > 4 * 1024
    client.post(f"{BASE}/rounds/{s.id}/photos", {"photo": (io.BytesIO(big), "big.png")},
                content_type="multipart/form-data")
    assert db.session.execute(select(func.count()).select_from(SalonPhoto)).scalar() == 0
    assert "图片过大：不能超过 4 KB。" in body(client.get(f"{BASE}/rounds/{s.id}"))
    monkeypatch.setattr(uploads, "MAX_BYTES", 8 * 1024 * 1024)
    # A real image (with a path in its name) is stored under a random name, re-encoded as JPEG, with a thumbnail.
    client.post(f"{BASE}/rounds/{s.id}/photos", {"registration_id": str(reg.id),
                                                 "photo": (io.BytesIO(png_bytes((900, 600))), "../../etc/passwd.png")},
                content_type="multipart/form-data")
    photo = db.session.execute(select(SalonPhoto)).scalar_one()
    assert re.fullmatch(r"[0-9a-f]{32}\.jpg", photo.stored_name) and photo.registration_id == reg.id
    full = client.get(f"{BASE}/photos/{photo.id}", buffered=True)
    thumb = client.get(f"{BASE}/photos/{photo.id}?thumb=1", buffered=True)
    full.close()
    thumb.close()
    assert full.status_code == 200 and full.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(full.data)).format == "JPEG"
    assert max(Image.open(io.BytesIO(thumb.data)).size) == 320
    # Another 分行's outlet head: 404 and no bytes; the round page of another outlet too.
    other = new_client()
    other.login("HB0001")
    assert other.get(f"{BASE}/photos/{photo.id}").status_code == 404
    assert other.get(f"{BASE}/rounds/{s.id}").status_code == 404
    # A second photo of the same group replaces the first (one photo per child–parent group, T-10).
    client.post(f"{BASE}/rounds/{s.id}/photos", {"registration_id": str(reg.id),
                                                 "photo": (io.BytesIO(png_bytes(fmt="JPEG")), "b.jpg")},
                content_type="multipart/form-data")
    assert db.session.execute(select(func.count()).select_from(SalonPhoto)).scalar() == 1


def test_scope_outlet_sees_its_own_rounds_marketing_the_branch_other_branch_404(client, new_client, se):
    c = campaign(se, name="甲行活动")
    s_a = make_round(se, c)
    s_a2 = SalonSession(campaign_id=c.id, outlet_id=se.a2.id, starts_at=future(8, 9), ends_at=future(8, 11),
                        capacity=10, seats_taken=0, status="open")
    db.session.add(s_a2)
    db.session.commit()
    p = cust(se.a, name="甲家长")
    as_user(se.head_a, services.register, db.session.get(SalonSession, s_a.id),
            services.RegistrationInput(customer_id=p.id, child_name="甲孩子", child_age=5))
    b_campaign = as_user(se.branch_admin2, services.create_campaign, {"name": f"乙行活动{CANARY_B}", "kind": "kids",
                                                                      "code": "YH", "year": "2026",
                                                                      "outlets": [str(se.b.id)]})
    client.login("HA0002")  # outlet A2's head
    assert client.get(f"{BASE}/rounds/{s_a.id}").status_code == 404
    assert body(client.get(f"{BASE}/rounds/{s_a2.id}"))
    campaign_page = body(client.get(f"{BASE}/campaigns/{c.id}"))
    assert "甲孩子" not in campaign_page and campaign_page.count(f"{BASE}/rounds/") == 1
    mk = new_client()
    mk.login("MK0001")
    page = body(mk.get(f"{BASE}/campaigns/{c.id}"))
    assert page.count(f"{BASE}/rounds/") == 2
    assert "甲孩子" in body(mk.get(f"{BASE}/rounds/{s_a.id}"))
    for path in (f"/campaigns/{b_campaign.id}", f"/campaigns/{b_campaign.id}/results",
                 f"/campaigns/{b_campaign.id}/export.xlsx", f"/campaigns/{b_campaign.id}/edit"):
        resp = mk.get(BASE + path)
        assert resp.status_code == 404 and CANARY_B.encode() not in resp.data, path
    index = body(mk.get(f"{BASE}/"))
    assert "甲行活动" in index and CANARY_B not in index
    # A write on another 分行's campaign is 404 too and changes nothing.
    assert mk.post(f"{BASE}/campaigns/{b_campaign.id}/status", {"status": "open"}).status_code == 404
    assert db.session.get(SalonCampaign, b_campaign.id).status == "draft"
    assert db.session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "access.denied")).scalar() >= 1


def test_invitations_by_search_and_from_a_segment_list(client, se, enable_plugin):
    c = campaign(se)
    a1 = cust(se.a, name="周一")
    cust(se.a, name="周二")
    cust(se.b, name=f"周{CANARY_B}")
    client.login("HA0001")
    found = body(client.get(f"{BASE}/campaigns/{c.id}/customers", query_string={"q": "周"}))
    assert "周一" in found and "周二" in found and CANARY_B not in found
    client.post(f"{BASE}/campaigns/{c.id}/invite", {"customer_id": [str(a1.id)]})
    inv = db.session.execute(select(SalonInvitation)).scalar_one()
    assert (inv.customer_id, inv.invited_by_id, inv.source) == (a1.id, se.head_a.id, "search")
    # Inviting again adds nobody twice.
    client.post(f"{BASE}/campaigns/{c.id}/invite", {"customer_id": [str(a1.id)]})
    assert db.session.execute(select(func.count()).select_from(SalonInvitation)).scalar() == 1
    # Segmentation off: no list invitation offered.
    assert "按客户名单邀约" not in body(client.get(f"{BASE}/campaigns/{c.id}"))
    enable_plugin(se.b1, "segmentation")
    from plugins.segmentation import services as seg

    as_user(se.branch_admin1, lambda u: seg.recompute(u, se.b1.id))
    lst = as_user(se.branch_admin1, lambda u: seg.save_list(u, se.b1.id, "无贷户名单", "no_loan", "live"))
    assert "按客户名单邀约" in body(client.get(f"{BASE}/campaigns/{c.id}"))
    client.post(f"{BASE}/campaigns/{c.id}/invite", {"list_id": str(lst.id)})
    invited = set(db.session.execute(select(SalonInvitation.customer_id)).scalars())
    assert len(invited) == 2 and a1.id in invited  # 周一 once, 周二 from the list; B's customer never
    # Registration records who invited.
    s = make_round(se, c)
    reg = as_user(se.marketing1, services.register, s, services.RegistrationInput(customer_id=a1.id,
                                                                                  child_name="周小", child_age=4))
    assert reg.invited_by_id == se.head_a.id  # the inviter of record, not the one who typed the registration


def test_results_funnel_and_export_masked_formula_safe_audited(client, se):
    c = campaign(se)
    s = today_round(se, c)
    p1 = cust(se.a, name="=HYPERLINK(\"http://x\")", phone="13800001111")
    p2 = cust(se.a, name="冯家长", phone="13800002222")
    as_user(se.head_a, services.invite_customers, c, [p1.id, p2.id])
    r1 = as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                 services.RegistrationInput(customer_id=p1.id, child_name="=1+1", child_age=9))
    as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
            services.RegistrationInput(customer_id=p2.id, child_name="冯小", child_age=9))
    as_user(se.lobby_a, services.check_in, db.session.get(SalonRegistration, r1.id))
    as_user(se.head_a, services.record_outcome, db.session.get(SalonRegistration, r1.id),
            {"card_opened": "1", "policies": "2", "booked_premium": "30000"})
    client.login("MK0001")
    page = body(client.get(f"{BASE}/campaigns/{c.id}/results"))
    assert "data-se-funnel" in page and "&#34;value&#34;: 2" in page
    row = re.search(r'data-se-outlet="甲网点">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r">([\d,.]+)<", row) == ["2", "2", "0", "1", "1", "1", "2", "30,000.00"]
    resp = client.get(f"{BASE}/campaigns/{c.id}/export.xlsx")
    assert resp.status_code == 200
    rows = CalamineWorkbook.from_filelike(io.BytesIO(resp.data)).get_sheet_by_index(0).to_python()
    assert rows[1][:3] == ["家长/客户", "手机号码", "孩子姓名"]
    data = {r[2]: r for r in rows[2:]}
    assert data["=1+1"][0] == "=HYPERLINK(\"http://x\")"
    assert "<f>" not in zipfile.ZipFile(io.BytesIO(resp.data)).read("xl/worksheets/sheet1.xml").decode()  # no formula
    assert data["=1+1"][1] == "138****1111"  # marketing may not reveal phone numbers
    assert data["=1+1"][8:12] == ["是", "是", 2, 30000]
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "salon_events.exported")).scalar_one()
    assert audit.detail["rows"] == 2 and audit.actor_id == se.marketing1.id


def test_widget_lists_upcoming_rounds_of_the_scope_and_dashboard_shows_it(client, se):
    c = campaign(se, name="儿童节活动")
    make_round(se, c)
    client.login("HA0002")  # outlet A2: no rounds of its own
    assert "暂无即将举行的场次" in body(client.get(f"{BASE}/widget"))
    client.logout()
    client.login("HA0001")
    html = body(client.get(f"{BASE}/widget"))
    assert "儿童节活动" in html and "甲网点" in html and "0/10" in html
    assert 'data-widget="salon_events.upcoming"' in body(client.get("/"))


def test_plugin_off_for_a_branch_404s_and_hides_nav_and_widget(client, new_client, se, enable_plugin):
    c = campaign(se)
    s = make_round(se, c)
    enable_plugin(se.b1, "salon_events", False)
    client.login("HA0001")
    for path in ("/", f"/campaigns/{c.id}", f"/rounds/{s.id}", f"/rounds/{s.id}/checkin", "/widget",
                 f"/campaigns/{c.id}/results"):
        assert client.get(BASE + path).status_code == 404, path
    assert client.post(f"{BASE}/campaigns/{c.id}/rounds", round_raw(se.a)).status_code == 404
    dash = body(client.get("/"))
    assert "营销活动" not in dash and "salon_events.upcoming" not in dash
    # Still on in the other 分行.
    other = new_client()
    other.login("HB0001")
    assert other.get(f"{BASE}/").status_code == 200
    assert "营销活动" in body(other.get("/"))
    # Switched on again: back without a restart.
    enable_plugin(se.b1, "salon_events", True)
    assert client.get(f"{BASE}/").status_code == 200


def test_posts_need_the_csrf_token(client, se):
    c = campaign(se)
    client.login("HA0001")
    resp = client.post(f"{BASE}/campaigns/{c.id}/rounds", round_raw(se.a), csrf=False)
    assert resp.status_code == 400
    assert db.session.execute(select(func.count()).select_from(SalonSession)).scalar() == 0


@pytest.mark.parametrize("login", ["TA0001"])
def test_tellers_do_not_see_the_plugin(client, se, login):
    client.login(login)
    assert client.get(f"{BASE}/").status_code == 403
    assert "营销活动" not in body(client.get("/"))


def test_pages_carry_no_inline_script_or_style(client, se):
    c = campaign(se)
    s = today_round(se, c)
    client.login("MK0001")
    for path in ("/", f"/campaigns/{c.id}", f"/campaigns/{c.id}/edit", "/campaigns/new", f"/rounds/{s.id}",
                 f"/rounds/{s.id}/checkin", f"/campaigns/{c.id}/results"):
        html = body(client.get(BASE + path))
        assert " style=" not in html, path
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
    assert db.session.get(User, se.marketing1.id)


def test_study_tour_routes_in_the_browser_t09(client, se):
    from tests.plugins.salon_events.test_rules import SEED_ROUTES

    c = campaign(se, kind="study_tour", name="环球游学夏令营", partner="新东方")
    client.login("MK0001")
    deadline = today_local() + timedelta(days=3)
    route = {**SEED_ROUTES[0], "deadline": deadline.isoformat(), "depart_on": (deadline + timedelta(days=40)).isoformat(),
             "return_on": (deadline + timedelta(days=53)).isoformat()}
    html = body(client.post(f"{BASE}/campaigns/{c.id}/routes", {**route, "return_on": route["depart_on"],
                                                                "depart_on": route["return_on"]}), 422)
    assert "返回日期不能早于出发日期" in html
    assert client.post(f"{BASE}/campaigns/{c.id}/routes", route).status_code == 302
    page = body(client.get(f"{BASE}/campaigns/{c.id}"))
    row = re.search(r"<tr>\s*<td><a href=\"[^\"]*/routes/(\d+)\">美国东西海岸14天留学体验</a>(.*?)</tr>", page, re.S)
    assert "直降5,000" in row.group(2) and re.search(r"data-se-days>14<", row.group(2))
    assert "37,900.00" in row.group(2) and "32,900.00" in row.group(2) and "小学六年级至高三" in row.group(2)
    route_id = int(row.group(1))
    p = cust(se.a, name="吴家长")
    kid = child(p, "吴同学", grade="m2")
    client.logout()
    client.login("HA0001")
    rp = body(client.get(f"{BASE}/routes/{route_id}"))
    assert "（14天）" in rp and "含当天" in rp
    assert client.post(f"{BASE}/route/{route_id}/register", {"customer_id": str(p.id),
                                                             "family_member_id": str(kid.id)}).status_code == 302
    reg = db.session.execute(select(SalonRegistration)).scalar_one()
    assert (reg.child_name, reg.school_grade, reg.route_id, reg.status) == ("吴同学", "m2", route_id, "registered")
    html = body(client.post(f"{BASE}/route/{route_id}/register", {"customer_id": str(p.id), "child_name": "吴小弟",
                                                                  "school_grade": "p5"}), 422)
    assert "该线路适合小学六年级至高三，小学五年级不符合" in html


def test_campaign_edit_keeps_outlets_with_rounds_and_detects_a_stale_form(client, se):
    c = campaign(se)
    make_round(se, c)
    client.login("MK0001")
    form = body(client.get(f"{BASE}/campaigns/{c.id}/edit"))
    assert 'name="version"' in form
    base = {"name": "改名后的活动", "kind": "kids", "code": "BBYH", "year": "2026", "version": str(c.version)}
    html = body(client.post(f"{BASE}/campaigns/{c.id}/edit", {**base, "outlets": [str(se.a2.id)]}), 422)
    assert "已安排场次的网点不能移出活动" in html
    assert client.post(f"{BASE}/campaigns/{c.id}/edit", {**base, "outlets": [str(se.a.id)]}).status_code == 302
    c = db.session.get(SalonCampaign, c.id)
    assert c.name == "改名后的活动" and [o.outlet_id for o in c.outlets] == [se.a.id]
    html = body(client.post(f"{BASE}/campaigns/{c.id}/edit", {**base, "name": "旧表单", "outlets": [str(se.a.id)]}),
                409)
    assert "该活动已被他人修改，请刷新后重试" in html
    assert db.session.get(SalonCampaign, c.id).name == "改名后的活动"


def test_round_and_check_in_pages_do_not_query_per_registration(client, se):
    from sqlalchemy import event

    c = campaign(se)
    s = today_round(se, c)
    client.login("HA0001")

    def statements(path: str) -> int:
        seen: list[str] = []

        def hook(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", hook)
        try:
            body(client.get(path))
        finally:
            event.remove(db.engine, "before_cursor_execute", hook)
        return len(seen)

    def add(n: int) -> None:
        for _ in range(n):
            p = cust(se.a, maintainer=se.rm_a)
            as_user(se.head_a, services.register, db.session.get(SalonSession, s.id),
                    services.RegistrationInput(customer_id=p.id, child_name=f"孩子{p.id}", child_age=6,
                                               invited_by_id=se.rm_a.id))

    add(1)
    small = {path: statements(f"{BASE}{path}") for path in (f"/rounds/{s.id}", f"/rounds/{s.id}/checkin")}
    add(7)
    large = {path: statements(f"{BASE}{path}") for path in (f"/rounds/{s.id}", f"/rounds/{s.id}/checkin")}
    assert large == small
