"""Staff accounts (spec R-01 / T-01, §2.2, T-29): creation with a one-time password, validation, forged posts and
outlets, grades, edits with optimistic locking, disable/enable, password reset, the list and its pagination."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from sqlalchemy import select

from crm.auth.services import hash_password
from crm.extensions import db
from crm.models import AuditLog, User
from crm.roles import probation_end
from crm.validators import ValidationError, validate_cn_mobile
from tests.conftest import PASSWORD, Client, make_user, table_snapshot

ID_NO = "410102199001011234"  # a valid 身份证号码 (check digit 4)
OTP_RE = re.compile(r'<code[^>]*id="otp"[^>]*>([^<]+)</code>')
VOLATILE = ("audit_log", "user_session")


def audit_rows(action: str) -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).scalars())


def user_by_login(login: str) -> User | None:
    return db.session.execute(select(User).where(User.login == login)).scalar_one_or_none()


def stable_snapshot() -> dict:
    snap = table_snapshot()
    for name in VOLATILE:
        snap.pop(name)
    return snap


def manager(app, login: str) -> Client:
    c = Client(app)
    assert c.login(login).status_code == 302
    c.refresh_token("/users")
    return c


def account(org, **over) -> dict:
    data = {"login": ID_NO, "name": "张三", "post": "lobby_manager", "outlet_id": str(org.a.id), "branch_id": "",
            "phone": "", "staff_no": "", "grade": "", "grade_effective_from": ""}
    data.update(over)
    return data


def otp_of(resp) -> str:
    found = OTP_RE.findall(resp.get_data(as_text=True))
    assert len(found) == 1, "the one-time password must be shown in exactly one element"
    return found[0]


def version_of(body: str) -> str:
    m = re.search(r'<input[^>]*name="version"[^>]*>', body)
    assert m, "no version field on the edit form"
    return re.search(r'value="(\d+)"', m.group(0)).group(1)


def edit_data(user: User, version: str, **over) -> dict:
    data = {"name": user.name, "post": user.post, "outlet_id": str(user.outlet_id or ""),
            "branch_id": str(user.branch_id or ""), "phone": user.phone or "", "staff_no": user.staff_no or "",
            "grade": user.grade or "", "grade_effective_from": "", "version": version}
    data.update(over)
    return data


def row_ids(body: str) -> list[int]:
    return [int(x) for x in re.findall(r'href="/users/(\d+)"', body)]


def more_link(body: str) -> str | None:
    m = re.search(r'<tr id="more-users">.*?href="([^"]+)"', body, re.S)
    return html.unescape(m.group(1)) if m else None


# ---------------------------------------------------------------- T-01: creation with a one-time password

def test_outlet_head_creates_account_with_one_time_password(app, org):
    head = manager(app, "HA0001")
    resp = head.post("/users/new", account(org))
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    otp = otp_of(resp)
    assert len(otp) == 12 and otp.isalnum()
    assert body.count(otp) == 1
    assert ID_NO in body and "大堂经理" in body  # the creator sees the login and post to hand over
    assert resp.headers["Cache-Control"] == "no-store"  # the page with the password is never cached

    user = user_by_login(ID_NO)
    assert user is not None
    assert user.name == "张三" and user.post == "lobby_manager"
    assert user.must_change_password is True
    assert user.outlet_id == org.a.id and user.branch_id == org.s1.id
    assert user.created_by_id == org.head_a.id
    assert user.password_hash != otp and otp not in user.password_hash

    # The OTP is stored nowhere in clear: not in any column of any table, audit detail included.
    for table, rows in table_snapshot().items():
        for row in rows:
            for value in row:
                assert otp not in str(value), (table, row)
    created = audit_rows("user.created")
    assert len(created) == 1
    assert created[0].actor_id == org.head_a.id and created[0].target_id == str(user.id)
    assert ID_NO not in str(created[0].detail)  # masked in the log

    # The new employee logs in with the OTP and must change it; 111111 (the source's default) is refused.
    staff = Client(app)
    resp = staff.login(ID_NO, otp)
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/password"
    assert staff.get("/").headers["Location"] == "/account/password"
    staff.refresh_token("/account/password")
    weak = staff.post("/account/password", {"current": otp, "new": "111111", "confirm": "111111"})
    assert weak.status_code == 422
    assert "过于简单" in weak.get_data(as_text=True)
    db.session.refresh(user)
    assert user.must_change_password is True


def test_otp_page_is_not_shown_again(app, org):
    head = manager(app, "HA0001")
    otp = otp_of(head.post("/users/new", account(org)))
    user = user_by_login(ID_NO)
    detail = head.get(f"/users/{user.id}").get_data(as_text=True)
    assert otp not in detail and 'id="otp"' not in detail
    assert otp not in head.get("/users").get_data(as_text=True)


def test_each_account_gets_a_different_password(app, org):
    head = manager(app, "HA0001")
    first = otp_of(head.post("/users/new", account(org)))
    second = otp_of(head.post("/users/new", account(org, login="ZH1024", name="李四")))
    assert first != second


# ---------------------------------------------------------------- login validation

@pytest.mark.parametrize("login,message", [
    ("410102199001011235", "身份证号码校验位不正确"),
    ("41010219900101123", "身份证号码应为18位（当前为17位）"),
    ("ab", "登录名应为18位身份证号码，或字母开头的员工号"),
    ("HA0001", "该登录名已存在"),
])
def test_bad_or_duplicate_login_refused_and_nothing_created(app, org, login, message):
    head = manager(app, "HA0001")
    before = stable_snapshot()
    resp = head.post("/users/new", account(org, login=login))
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert message in body
    assert 'id="otp"' not in body
    assert stable_snapshot() == before
    assert audit_rows("user.created") == []


def test_duplicate_id_number_refused(app, org):
    make_user(ID_NO, "personal_rm", outlet=org.a)
    head = manager(app, "HA0001")
    resp = head.post("/users/new", account(org, login=ID_NO.lower()))
    assert resp.status_code == 422 and "该登录名已存在" in resp.get_data(as_text=True)


def test_lower_case_x_check_digit_is_stored_upper_case(app, org):
    head = manager(app, "HA0001")
    resp = head.post("/users/new", account(org, login="11010519491231002x"))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert user_by_login("11010519491231002X") is not None


def test_staff_number_accepted(app, org):
    head = manager(app, "HA0001")
    resp = head.post("/users/new", account(org, login="ZH1024"))
    assert resp.status_code == 200
    assert len(otp_of(resp)) == 12
    assert user_by_login("ZH1024").post == "lobby_manager"


# ---------------------------------------------------------------- forged posts and outlets

@pytest.mark.parametrize("post", ["admin", "outlet_head", "branch_admin"])
def test_outlet_head_cannot_hand_out_higher_posts(app, org, post):
    head = manager(app, "HA0001")
    before = stable_snapshot()
    resp = head.post("/users/new", account(org, post=post))
    assert resp.status_code == 422
    assert "您不能设置该岗位" in resp.get_data(as_text=True)
    assert stable_snapshot() == before


@pytest.mark.parametrize("which", ["b", "a2"])
def test_outlet_head_cannot_place_staff_in_another_outlet(app, org, which):
    head = manager(app, "HA0001")
    before = stable_snapshot()
    resp = head.post("/users/new", account(org, outlet_id=str(getattr(org, which).id)))
    assert resp.status_code == 422
    assert "请选择您管辖范围内的网点" in resp.get_data(as_text=True)
    assert stable_snapshot() == before


def test_new_account_form_offers_only_assignable_posts(app, org):
    head = manager(app, "HA0001")
    page = head.get("/users/new").get_data(as_text=True)
    assert 'value="lobby_manager"' in page
    for post in ("admin", "outlet_head", "branch_admin"):
        assert f'value="{post}"' not in page
    assert "甲网点" in page and "甲二网点" not in page


def test_branch_admin_creates_outlet_head_in_own_branch_only(app, org):
    ba = manager(app, "BA0001")
    resp = ba.post("/users/new", account(org, login="ZH2001", post="outlet_head", outlet_id=str(org.a2.id)))
    assert resp.status_code == 200
    user = user_by_login("ZH2001")
    assert (user.post, user.outlet_id, user.branch_id) == ("outlet_head", org.a2.id, org.s1.id)

    before = stable_snapshot()
    resp = ba.post("/users/new", account(org, login="ZH2002", post="outlet_head", outlet_id=str(org.b.id)))
    assert resp.status_code == 422
    assert "请选择您管辖范围内的网点" in resp.get_data(as_text=True)
    assert stable_snapshot() == before


def test_branch_admin_cannot_place_branch_staff_in_another_branch(app, org):
    ba = manager(app, "BA0001")
    before = stable_snapshot()
    resp = ba.post("/users/new", account(org, login="ZH2003", post="marketing", outlet_id="",
                                         branch_id=str(org.b2.id)))
    assert resp.status_code == 422
    assert "请选择您管辖范围内的机构" in resp.get_data(as_text=True)
    assert stable_snapshot() == before
    resp = ba.post("/users/new", account(org, login="ZH2003", post="marketing", outlet_id="",
                                         branch_id=str(org.s1.id)))
    assert resp.status_code == 200
    assert (user_by_login("ZH2003").branch_id, user_by_login("ZH2003").outlet_id) == (org.s1.id, None)


def test_admin_creates_branch_admin_for_another_branch(app, org):
    adm = manager(app, "ADM001")
    resp = adm.post("/users/new", account(org, login="ZH3001", post="branch_admin", outlet_id="",
                                          branch_id=str(org.b2.id)))
    assert resp.status_code == 200
    user = user_by_login("ZH3001")
    assert (user.post, user.outlet_id, user.branch_id) == ("branch_admin", None, org.b2.id)


def test_staff_without_rights_cannot_create(app, org):
    rm = Client(app)
    rm.login("RA0001")
    rm.refresh_token("/")
    assert rm.get("/users/new").status_code == 403
    before = stable_snapshot()
    assert rm.post("/users/new", account(org)).status_code == 403
    assert stable_snapshot() == before


# ---------------------------------------------------------------- grades (§2.2, T-29)

@pytest.mark.parametrize("post,grade", [("low_counter_teller", "b_1"), ("corporate_rm", "p_assistant"),
                                        ("lobby_manager", "a_senior")])
def test_grade_not_allowed_for_post(app, org, post, grade):
    head = manager(app, "HA0001")
    before = stable_snapshot()
    resp = head.post("/users/new", account(org, post=post, grade=grade))
    assert resp.status_code == 422
    assert "该岗位不能设置此客户经理等级" in resp.get_data(as_text=True)
    assert stable_snapshot() == before


def test_trainee_grade_shows_probation_end(app, org):
    head = manager(app, "HA0001")
    resp = head.post("/users/new", account(org, post="personal_rm", grade="b_trainee",
                                           grade_effective_from="2024-03-01"))
    assert resp.status_code == 200
    user = user_by_login(ID_NO)
    assert (user.grade, user.grade_effective_from) == ("b_trainee", date(2024, 3, 1))
    page = head.get(f"/users/{user.id}").get_data(as_text=True)
    assert re.search(r"见习期满</dt><dd[^>]*>2025-02-28<", page)


def test_non_trainee_grade_has_no_probation_end(app, org):
    head = manager(app, "HA0001")
    head.post("/users/new", account(org, post="personal_rm", grade="p_assistant", grade_effective_from="2024-03-01"))
    user = user_by_login(ID_NO)
    assert user.grade == "p_assistant"
    assert "见习期满" not in head.get(f"/users/{user.id}").get_data(as_text=True)


@pytest.mark.parametrize("grade,start,end", [
    ("b_trainee", date(2024, 3, 1), date(2025, 2, 28)),   # T-29
    ("b_trainee", date(2023, 3, 1), date(2024, 2, 29)),   # the year ends on a leap day
    ("b_trainee", date(2024, 2, 29), date(2025, 2, 28)),  # starts on a leap day
    ("b_trainee", date(2024, 1, 15), date(2025, 1, 14)),
    ("b_4", date(2024, 3, 1), None),
    ("b_trainee", None, None),
    (None, date(2024, 3, 1), None),
])
def test_probation_end(grade, start, end):
    assert probation_end(grade, start) == end


# ---------------------------------------------------------------- phone

def test_mobile_accepted_and_stored_as_11_digits(app, org):
    head = manager(app, "HA0001")
    resp = head.post("/users/new", account(org, phone="+86 138-1234-5678"))
    assert resp.status_code == 200
    assert user_by_login(ID_NO).phone == "13812345678"


def test_plain_mobile_accepted(app, org):
    head = manager(app, "HA0001")
    assert head.post("/users/new", account(org, phone="13812345678")).status_code == 200
    assert user_by_login(ID_NO).phone == "13812345678"


def test_landline_refused_with_validator_message(app, org):
    with pytest.raises(ValidationError) as info:
        validate_cn_mobile("010-12345678")
    head = manager(app, "HA0001")
    before = stable_snapshot()
    resp = head.post("/users/new", account(org, phone="010-12345678"))
    assert resp.status_code == 422
    assert info.value.message in resp.get_data(as_text=True)
    assert "固定电话" in info.value.message
    assert stable_snapshot() == before


# ---------------------------------------------------------------- edit

def test_post_change_is_audited_and_ends_the_users_sessions(app, org):
    lobby = Client(app)
    assert lobby.login("LA0001").status_code == 302
    assert lobby.get("/").status_code == 200

    head = manager(app, "HA0001")
    page = head.get(f"/users/{org.lobby_a.id}").get_data(as_text=True)
    assert ">LA0001<" in page
    resp = head.post(f"/users/{org.lobby_a.id}", edit_data(org.lobby_a, version_of(page), post="personal_rm"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.refresh(org.lobby_a)
    assert org.lobby_a.post == "personal_rm"
    row = audit_rows("user.post_changed")[-1]
    assert row.actor_id == org.head_a.id and row.target_id == str(org.lobby_a.id)
    assert row.detail["from"][0] == "lobby_manager" and row.detail["to"][0] == "personal_rm"

    nxt = lobby.get("/")
    assert nxt.status_code == 302 and nxt.headers["Location"].startswith("/login")


def test_edit_without_post_change_keeps_sessions(app, org):
    lobby = Client(app)
    lobby.login("LA0001")
    head = manager(app, "HA0001")
    page = head.get(f"/users/{org.lobby_a.id}").get_data(as_text=True)
    resp = head.post(f"/users/{org.lobby_a.id}", edit_data(org.lobby_a, version_of(page), name="甲大堂新"))
    assert resp.status_code == 302
    db.session.refresh(org.lobby_a)
    assert org.lobby_a.name == "甲大堂新"
    assert audit_rows("user.post_changed") == [] and len(audit_rows("user.updated")) == 1
    assert lobby.get("/").status_code == 200


def test_stale_version_is_a_conflict(app, org):
    head = manager(app, "HA0001")
    page = head.get(f"/users/{org.lobby_a.id}").get_data(as_text=True)
    stale = version_of(page)
    assert head.post(f"/users/{org.lobby_a.id}",
                     edit_data(org.lobby_a, stale, name="第一次修改")).status_code == 302
    before = stable_snapshot()
    resp = head.post(f"/users/{org.lobby_a.id}", edit_data(org.lobby_a, stale, name="第二次修改",
                                                            post="personal_rm"))
    assert resp.status_code == 409
    assert "该账号已被他人修改" in resp.get_data(as_text=True)
    assert stable_snapshot() == before
    db.session.refresh(org.lobby_a)
    assert (org.lobby_a.name, org.lobby_a.post) == ("第一次修改", "lobby_manager")


def test_edit_to_forged_post_or_outlet_refused(app, org):
    head = manager(app, "HA0001")
    version = version_of(head.get(f"/users/{org.lobby_a.id}").get_data(as_text=True))
    before = stable_snapshot()
    resp = head.post(f"/users/{org.lobby_a.id}", edit_data(org.lobby_a, version, post="outlet_head"))
    assert resp.status_code == 422 and "您不能设置该岗位" in resp.get_data(as_text=True)
    resp = head.post(f"/users/{org.lobby_a.id}", edit_data(org.lobby_a, version, outlet_id=str(org.b.id)))
    assert resp.status_code == 422 and "请选择您管辖范围内的网点" in resp.get_data(as_text=True)
    assert stable_snapshot() == before


def test_outlet_head_cannot_edit_himself(app, org):
    head = manager(app, "HA0001")
    page = head.get(f"/users/{org.head_a.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'name="version"' not in body and "重置密码" not in body and "停用账号" not in body
    before = stable_snapshot()
    resp = head.post(f"/users/{org.head_a.id}", edit_data(org.head_a, "1", post="branch_admin"))
    assert resp.status_code == 403
    assert head.post(f"/users/{org.head_a.id}/reset-password").status_code == 403
    assert head.post(f"/users/{org.head_a.id}/active", {"active": "0"}).status_code == 403
    assert stable_snapshot() == before


def test_outlet_head_cannot_edit_another_outlets_user(app, org):
    head = manager(app, "HA0001")
    before = stable_snapshot()
    for target in (org.rm_a2, org.rm_b):
        assert head.get(f"/users/{target.id}").status_code == 404
        assert head.post(f"/users/{target.id}", edit_data(target, "1", name="改名")).status_code == 404
        assert head.post(f"/users/{target.id}/reset-password").status_code == 404
        assert head.post(f"/users/{target.id}/active", {"active": "0"}).status_code == 404
    assert stable_snapshot() == before


# ---------------------------------------------------------------- disable, enable, reset

def test_disable_and_enable(app, org):
    head = manager(app, "HA0001")
    assert head.post(f"/users/{org.rm_a.id}/active", {"active": "0"}).status_code == 302
    db.session.refresh(org.rm_a)
    assert org.rm_a.active is False
    assert Client(app).login("RA0001").status_code == 401
    assert audit_rows("user.disabled")[-1].target_id == str(org.rm_a.id)

    assert head.post(f"/users/{org.rm_a.id}/active", {"active": "1"}).status_code == 302
    assert Client(app).login("RA0001").status_code == 302
    assert audit_rows("user.enabled")[-1].target_id == str(org.rm_a.id)


def test_disable_ends_a_live_session(app, org):
    rm = Client(app)
    rm.login("RA0001")
    assert rm.get("/").status_code == 200
    head = manager(app, "HA0001")
    head.post(f"/users/{org.rm_a.id}/active", {"active": "0"})
    assert rm.get("/").headers["Location"].startswith("/login")
    # Enabling the account again does not bring the old session back: the employee logs in anew.
    head.post(f"/users/{org.rm_a.id}/active", {"active": "1"})
    assert rm.get("/").headers["Location"].startswith("/login")


def test_reset_password(app, org):
    rm = Client(app)
    rm.login("RA0001")
    head = manager(app, "HA0001")
    resp = head.post(f"/users/{org.rm_a.id}/reset-password")
    assert resp.status_code == 200
    otp = otp_of(resp)
    assert len(otp) == 12 and resp.get_data(as_text=True).count(otp) == 1
    assert rm.get("/").headers["Location"].startswith("/login")  # the old session ended
    assert Client(app).login("RA0001", PASSWORD).status_code == 401
    fresh = Client(app)
    resp = fresh.login("RA0001", otp)
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/password"
    db.session.refresh(org.rm_a)
    assert org.rm_a.must_change_password is True
    row = audit_rows("user.password_reset")[-1]
    assert row.actor_id == org.head_a.id and row.target_id == str(org.rm_a.id)
    assert otp not in str(row.detail)


# ---------------------------------------------------------------- the list

def test_search_by_name_and_login(app, org):
    make_user(ID_NO, "personal_rm", outlet=org.a, name="王小明")
    head = manager(app, "HA0001")
    by_name = head.get("/users", query_string={"q": "小明"}).get_data(as_text=True)
    assert "王小明" in by_name and "甲柜员" not in by_name
    by_login = head.get("/users", query_string={"q": "TA0001"}).get_data(as_text=True)
    assert "甲柜员" in by_login and "王小明" not in by_login
    by_id_no = head.get("/users", query_string={"q": "19900101"}).get_data(as_text=True)
    assert "王小明" in by_id_no and "甲柜员" not in by_id_no
    nothing = head.get("/users", query_string={"q": "不存在的人"}).get_data(as_text=True)
    assert "没有符合条件的员工" in nothing
    for wildcard in ("%", "_", "TA_001"):  # typed characters are matched literally, not as SQL wildcards
        page = head.get("/users", query_string={"q": wildcard}).get_data(as_text=True)
        assert row_ids(page) == [], wildcard


def test_filter_by_post_and_status(app, org):
    make_user("OFF001", "lobby_manager", outlet=org.a, name="已离职员工", active=False)
    head = manager(app, "HA0001")
    tellers = head.get("/users", query_string={"post": "low_counter_teller"}).get_data(as_text=True)
    assert set(row_ids(tellers)) == {org.teller_a.id}
    default = head.get("/users").get_data(as_text=True)
    assert "已离职员工" not in default and "甲大堂" in default
    disabled = head.get("/users", query_string={"status": "disabled"}).get_data(as_text=True)
    assert "已离职员工" in disabled and "甲大堂" not in disabled
    everyone = head.get("/users", query_string={"status": "all"}).get_data(as_text=True)
    assert "已离职员工" in everyone and "甲大堂" in everyone


def test_keyset_pagination_with_load_more(app, org):
    hashed = hash_password(PASSWORD)
    db.session.add_all([
        User(login=f"BULK{i:03d}", name=f"批量员工{i:03d}", post="low_counter_teller", outlet_id=org.a.id,
             branch_id=org.s1.id, password_hash=hashed, must_change_password=False, active=True)
        for i in range(120)
    ])
    db.session.commit()
    expected = set(db.session.execute(select(User.id).where(User.outlet_id == org.a.id, User.active)).scalars())
    assert len(expected) == 124  # 120 + the fixture's head, RM, teller and lobby manager

    head = manager(app, "HA0001")
    page1 = head.get("/users").get_data(as_text=True)
    ids1 = row_ids(page1)
    assert len(ids1) == 50 and ids1 == sorted(ids1)
    link = more_link(page1)
    assert link and "after=" in link and "加载更多" in page1

    page2 = head.get(link, headers={"HX-Request": "true", "HX-Target": "more-users"}).get_data(as_text=True)
    assert "<html" not in page2
    ids2 = row_ids(page2)
    assert len(ids2) == 50 and not set(ids1) & set(ids2) and min(ids2) > max(ids1)

    page3 = head.get(more_link(page2)).get_data(as_text=True)
    ids3 = row_ids(page3)
    assert len(ids3) == 24 and more_link(page3) is None
    assert set(ids1) | set(ids2) | set(ids3) == expected


def test_pagination_keeps_the_filter(app, org):
    hashed = hash_password(PASSWORD)
    db.session.add_all([
        User(login=f"BULK{i:03d}", name=f"批量{i:03d}", post="low_counter_teller" if i % 2 else "back_office",
             outlet_id=org.a.id, branch_id=org.s1.id, password_hash=hashed, active=True)
        for i in range(120)
    ])
    db.session.commit()
    head = manager(app, "HA0001")
    page1 = head.get("/users", query_string={"post": "back_office"}).get_data(as_text=True)
    link = more_link(page1)
    assert link and "post=back_office" in link
    page2 = head.get(link).get_data(as_text=True)
    ids = row_ids(page1) + row_ids(page2)
    assert len(ids) == 60 and len(set(ids)) == 60


def test_htmx_search_returns_only_rows(app, org):
    head = manager(app, "HA0001")
    resp = head.get("/users", query_string={"q": "甲柜员"}, headers={"HX-Request": "true", "HX-Target": "user-rows"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<html" not in body and "<form" not in body
    assert row_ids(body) == [org.teller_a.id]


def test_id_number_logins_masked_in_list_but_full_on_detail(app, org):
    user = make_user(ID_NO, "personal_rm", outlet=org.a, name="王小明")
    head = manager(app, "HA0001")
    listing = head.get("/users").get_data(as_text=True)
    assert "410***********1234" in listing and ID_NO not in listing
    assert "TA0001" in listing  # staff numbers are not masked
    detail = head.get(f"/users/{user.id}").get_data(as_text=True)
    assert ID_NO in detail


def test_detail_masks_id_number_for_viewer_who_cannot_manage(app, org):
    user = make_user(ID_NO, "personal_rm", outlet=org.a, name="王小明")
    make_user("SV0001", "supervisor", outlet=org.a, name="甲主管")
    sv = manager(app, "SV0001")
    detail = sv.get(f"/users/{user.id}")
    assert detail.status_code == 200
    body = detail.get_data(as_text=True)
    assert "王小明" in body and ID_NO not in body and "410***********1234" in body
