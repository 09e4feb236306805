"""The optional second factor (issue 8, promise 4): RFC 6238 codes, enrolment by administrators and branch heads,
the code step of the login (nothing logged in before it, no replay, five failures → password again), switching it
off with password and code, audit rows."""

from __future__ import annotations

import base64
import re

from sqlalchemy import func, select

from crm.auth import totp
from crm.extensions import db
from crm.models import AuditLog, User


def test_rfc6238_vectors_and_the_window():
    secret = base64.b32encode(b"12345678901234567890").decode()
    # RFC 6238 appendix B (SHA1), the last six digits of 94287082, 07081804, 89005924.
    assert [totp.code_at(secret, t // 30) for t in (59, 1111111109, 1234567890)] == ["287082", "081804", "005924"]
    now = 1234567890
    step = now // 30
    assert totp.verify(secret, "005924", now=now) == step
    assert totp.verify(secret, totp.code_at(secret, step - 1), now=now) == step - 1  # 30 s slow clock
    assert totp.verify(secret, totp.code_at(secret, step - 2), now=now) is None  # a minute: too old
    assert totp.verify(secret, "005924", now=now, last_step=step) is None  # used once already
    for bad in ("", "12345", "1234567", "abcdef", None):
        assert totp.verify(secret, bad, now=now) is None
    assert totp.verify(secret, " 005 924 ", now=now) == step
    assert len(totp.new_secret()) == 32 and totp.new_secret() != totp.new_secret()
    assert totp.provisioning_uri("ABC", "ADM001").startswith("otpauth://totp/")


def audits(action: str) -> int:
    return db.session.execute(select(func.count()).select_from(AuditLog).where(AuditLog.action == action)).scalar_one()


def enrol(client) -> str:
    page = client.get("/account/totp").get_data(as_text=True)
    secret = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", page).group(1).replace(" ", "")
    assert "data-totp-qr" in page and 'src="data:image/png;base64,' in page
    resp = client.post("/account/totp/enable", {"code": "000000" if totp.code_at(secret, totp.current_step())
                                                != "000000" else "111111"})
    assert resp.status_code == 422 and "验证码不正确" in resp.get_data(as_text=True)
    resp = client.post("/account/totp/enable", {"code": totp.code_at(secret, totp.current_step())})
    assert resp.status_code == 302
    return secret


def test_enrol_then_the_login_asks_for_the_code_before_anything_is_logged_in(client, org):
    client.login("ADM001")
    secret = enrol(client)
    admin = db.session.execute(select(User).where(User.login == "ADM001")).scalar_one()
    db.session.refresh(admin)
    assert admin.totp_secret == secret and audits("auth.totp_enabled") == 1
    client.logout()
    resp = client.login("ADM001")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/totp")
    assert client.get("/customers").status_code == 302  # not logged in yet
    resp = client.post("/login/totp", {"code": "12"})
    assert resp.status_code == 401 and "动态验证码不正确" in resp.get_data(as_text=True)
    code = totp.code_at(secret, totp.current_step() + 1)  # the enrolment used this step's code: a code is good once
    resp = client.post("/login/totp", {"code": code})
    assert resp.status_code == 302 and client.get("/customers").status_code == 200
    assert audits("auth.totp_failed") == 1
    login_row = db.session.execute(select(AuditLog).where(AuditLog.action == "auth.login")
                                   .order_by(AuditLog.id.desc())).scalars().first()
    assert login_row.detail == {"second_factor": "totp"}
    # The same code cannot log in twice (replay).
    client.logout()
    client.login("ADM001")
    assert client.post("/login/totp", {"code": code}).status_code == 401


def test_five_wrong_codes_send_the_user_back_to_the_password(client, org):
    client.login("ADM001")
    enrol(client)
    client.logout()
    client.login("ADM001")
    for _ in range(4):
        assert client.post("/login/totp", {"code": "99999x"}).status_code == 401
    resp = client.post("/login/totp", {"code": "99999x"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert client.get("/login/totp").status_code == 302  # nothing pending any more


def test_only_admins_and_branch_heads_enrol_and_switching_off_needs_password_and_code(client, org):
    client.login("HA0001")
    assert client.get("/account/totp").status_code == 404
    assert client.post("/account/totp/enable", {"code": "123456"}).status_code == 404
    client.logout()
    client.login("BA0001")
    secret = enrol(client)
    resp = client.post("/account/totp/disable", {"password": "wrong", "code": totp.code_at(secret, totp.current_step())})
    assert resp.status_code == 422 and "动态验证码未停用" in resp.get_data(as_text=True)
    from tests.conftest import PASSWORD

    step = totp.current_step() + 1  # the enrolment used the current step
    resp = client.post("/account/totp/disable", {"password": PASSWORD, "code": totp.code_at(secret, step)})
    assert resp.status_code == 302 and audits("auth.totp_disabled") == 1
    user = db.session.execute(select(User).where(User.login == "BA0001")).scalar_one()
    db.session.refresh(user)
    assert user.totp_secret is None


def test_the_system_administrator_resets_a_lost_phone(client, org):
    client.login("BA0001")
    enrol(client)
    client.logout()
    user = db.session.execute(select(User).where(User.login == "BA0001")).scalar_one()
    client.login("HA0001")  # an outlet head cannot
    assert client.post(f"/users/{user.id}/totp/reset").status_code in (403, 404)
    client.logout()
    client.login("ADM001")
    assert "data-totp-reset" in client.get(f"/users/{user.id}").get_data(as_text=True)
    assert client.post(f"/users/{user.id}/totp/reset").status_code == 302
    db.session.refresh(user)
    assert user.totp_secret is None and audits("auth.totp_reset") == 1
    client.logout()
    assert client.login("BA0001").headers["Location"].endswith("/")  # the password alone again
