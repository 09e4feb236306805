"""Login, rate limits, forced first change, weak passwords, server-side session invalidation (issue 2)."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from crm.auth.services import password_problems
from crm.extensions import db
from crm.models import AuditLog, User, UserSession
from crm.timeutil import utcnow
from tests.conftest import PASSWORD, make_user


def audit_rows(action: str) -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).scalars())


def test_login_ok_lands_on_dashboard_and_is_audited(client, org):
    resp = client.login("RA0001")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "甲客户经理" in page.get_data(as_text=True)
    row = audit_rows("auth.login")[-1]
    assert row.actor_id == org.rm_a.id and row.result == "ok" and row.ip == "127.0.0.1"


@pytest.mark.parametrize("login,password", [("RA0001", "Wrong-pass-1"), ("NOBODY1", PASSWORD)])
def test_wrong_password_and_unknown_login_look_the_same(client, org, login, password):
    resp = client.login(login, password)
    assert resp.status_code == 401
    body = resp.get_data(as_text=True)
    assert "登录名或密码错误" in body
    assert audit_rows("auth.login_failed")[-1].result == "fail"


def test_failed_login_with_id_number_is_masked_in_audit(client, org):
    client.login("410102199001011234", "Wrong-pass-1")
    row = audit_rows("auth.login_failed")[-1]
    assert row.actor_login == "410***********1234"


def test_disabled_account_cannot_log_in(client, org):
    make_user("OFF001", "lobby_manager", outlet=org.a, active=False)
    resp = client.login("OFF001")
    assert resp.status_code == 401
    assert "登录名或密码错误" in resp.get_data(as_text=True)


def test_login_next_only_follows_local_paths(client, org):
    client.refresh_token("/login")
    resp = client.post("/login?next=//evil.example.com/x", {"login": "ADM001", "password": PASSWORD})
    assert resp.headers["Location"] == "/"
    client.logout()
    client.refresh_token("/login")
    resp = client.post("/login?next=/users", {"login": "ADM001", "password": PASSWORD})
    assert resp.headers["Location"] == "/users"


def test_rate_limit_per_account_answers_429_even_with_the_right_password(make_app, new_client):
    app = make_app(CRM_LOGIN_LIMIT_ACCOUNT="3 per 15 minutes")
    with app.app_context():
        from tests.conftest import make_branch, make_outlet

        outlet = make_outlet(make_branch("B1", "甲分行"), "OA", "甲网点")
        make_user("RA0001", "personal_rm", outlet=outlet)
        client = type(new_client)  # noqa: F841 - (keep fixture order explicit)
        from tests.conftest import Client

        c = Client(app)
        for _ in range(3):
            assert c.login("RA0001", "Wrong-pass-1").status_code == 401
        resp = c.login("RA0001", PASSWORD)
        assert resp.status_code == 429
        assert "登录失败次数过多" in resp.get_data(as_text=True)
        # Another account from the same address is not locked by this account's limit.
        make_user("RA0002", "personal_rm", outlet=outlet)
        assert Client(app).login("RA0002").status_code == 302
        assert db.session.execute(select(AuditLog).where(AuditLog.action == "auth.login_limited")).first()


def test_successful_logins_do_not_count_towards_the_limit(make_app):
    from tests.conftest import Client, make_branch, make_outlet

    app = make_app(CRM_LOGIN_LIMIT_ACCOUNT="2 per 15 minutes")
    with app.app_context():
        make_user("RA0001", "personal_rm", outlet=make_outlet(make_branch("B1", "甲分行"), "OA", "甲网点"))
        for _ in range(4):
            c = Client(app)
            assert c.login("RA0001").status_code == 302


def test_rate_limit_per_ip_across_accounts(make_app):
    from tests.conftest import Client

    app = make_app(CRM_LOGIN_LIMIT_IP="4 per 15 minutes")
    with app.app_context():
        c = Client(app)
        statuses = [c.login(f"GUESS{i:02d}", "Wrong-pass-1").status_code for i in range(5)]
        assert statuses == [401, 401, 401, 401, 429]


@pytest.mark.parametrize("password,message", [
    ("111111", "过于简单"),
    ("123456", "过于简单"),
    ("Ab1cd2", "至少需要 8 位"),
    ("NEW0001x", "登录名"),
    ("abcdefgh", "字母和数字"),
])
def test_weak_passwords_refused(password, message, app):
    assert any(message in p for p in password_problems(password, "NEW0001"))


def test_password_that_is_the_login_itself_refused(app):
    assert password_problems("410102199001011234", "410102199001011234")


def test_strong_password_accepted(app):
    assert password_problems("Zhang-2026-ok", "410102199001011234") == []


def test_forced_first_change_blocks_everything_until_a_strong_password_is_set(client, org):
    user = make_user("NEW0001", "lobby_manager", outlet=org.a, must_change=True)
    resp = client.login("NEW0001")
    assert resp.headers["Location"] == "/account/password"
    # Every other page sends the user back to the change form.
    assert client.get("/").headers["Location"] == "/account/password"
    assert client.get("/users").headers["Location"] == "/account/password"
    page = client.get("/account/password").get_data(as_text=True)
    assert "首次登录，请设置新密码" in page
    client.refresh_token("/account/password")
    weak = client.post("/account/password", {"current": PASSWORD, "new": "111111", "confirm": "111111"})
    assert weak.status_code == 422
    assert "过于简单" in weak.get_data(as_text=True)
    same = client.post("/account/password", {"current": PASSWORD, "new": "NEW0001", "confirm": "NEW0001"})
    assert "登录名" in same.get_data(as_text=True)
    wrong = client.post("/account/password", {"current": "nope", "new": "Ruyi-2026-ok", "confirm": "Ruyi-2026-ok"})
    assert "当前密码不正确" in wrong.get_data(as_text=True)
    ok = client.post("/account/password", {"current": PASSWORD, "new": "Ruyi-2026-ok", "confirm": "Ruyi-2026-ok"})
    assert ok.status_code == 302 and ok.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    db.session.refresh(user)
    assert user.must_change_password is False
    assert audit_rows("auth.password_changed")[-1].actor_id == user.id


def test_old_cookie_dead_after_logout(client, new_client, org):
    client.login("RA0001")
    stolen = client.cookie()
    assert client.logout().status_code == 302
    thief = new_client()
    thief.http.set_cookie(client.app.config["SESSION_COOKIE_NAME"], stolen)
    resp = thief.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    ended = db.session.execute(select(UserSession).where(UserSession.user_id == org.rm_a.id)).scalar_one()
    assert ended.end_reason == "logout"


def test_logout_requires_post(client, org):
    client.login("RA0001")
    assert client.get("/logout").status_code == 405


def test_password_change_ends_other_sessions_but_keeps_this_one(client, new_client, org):
    other = new_client()
    other.login("RA0001")
    assert other.get("/").status_code == 200
    client.login("RA0001")
    client.refresh_token("/account/password")
    resp = client.post("/account/password", {"current": PASSWORD, "new": "Ruyi-2026-ok", "confirm": "Ruyi-2026-ok"})
    assert resp.status_code == 302
    assert client.get("/").status_code == 200
    assert other.get("/").headers["Location"].startswith("/login")


def test_disabling_an_account_ends_its_sessions(client, new_client, org):
    victim = new_client()
    victim.login("TA0001")
    assert victim.get("/").status_code == 200
    client.login("HA0001")
    resp = client.post(f"/users/{org.teller_a.id}/active", {"active": "0"})
    assert resp.status_code == 302
    assert victim.get("/").headers["Location"].startswith("/login")
    assert victim.login("TA0001").status_code == 401


def test_session_id_changes_at_login(client, org):
    with client.http.session_transaction() as sess:
        sess["sid"] = "planted-by-attacker"
    client.login("RA0001")
    with client.http.session_transaction() as sess:
        first = sess["sid"]
    assert first != "planted-by-attacker"
    client.logout()
    client.login("RA0001")
    with client.http.session_transaction() as sess:
        assert sess["sid"] != first


def test_planted_session_token_gives_no_access(client, org):
    with client.http.session_transaction() as sess:
        sess["sid"] = "made-up"
        sess["_user_id"] = str(org.admin.id)
    assert client.get("/").headers["Location"].startswith("/login")


def test_idle_timeout_ends_the_session(client, org):
    client.login("RA0001")
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    db.session.commit()
    resp = client.get("/")
    assert resp.headers["Location"].startswith("/login")
    assert "长时间未操作" in client.get(resp.headers["Location"]).get_data(as_text=True)
    row = db.session.execute(select(UserSession)).scalar_one()
    assert row.end_reason == "timeout"
    # One audit row for the expiry, naming the idle timeout; the next request (no session left) adds none.
    [audit_row] = db.session.execute(select(AuditLog).where(AuditLog.action == "auth.session_expired")).scalars()
    assert (audit_row.actor_id, audit_row.detail) == (org.rm_a.id, {"reason": "idle"})
    client.get("/")
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "auth.session_expired")) == 1


def test_just_inside_idle_timeout_keeps_the_session(client, org):
    client.login("RA0001")
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=29)))
    db.session.commit()
    assert client.get("/").status_code == 200


def test_absolute_timeout_even_when_active(client, org):
    client.login("RA0001")
    db.session.execute(update(UserSession).values(created_at=utcnow() - timedelta(hours=12, minutes=1)))
    db.session.commit()
    assert client.get("/").headers["Location"].startswith("/login")
    [audit_row] = db.session.execute(select(AuditLog).where(AuditLog.action == "auth.session_expired")).scalars()
    assert audit_row.detail == {"reason": "absolute"}


def test_htmx_request_of_expired_session_redirects_whole_page(client, org):
    resp = client.get("/dashboard/w/org", headers={"HX-Request": "true"})
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"].startswith("/login")


def test_password_hash_is_scrypt_by_default(make_app):
    from crm.auth.services import hash_password

    app = make_app(CRM_PASSWORD_HASH="scrypt")
    with app.app_context():
        assert hash_password("Ruyi-2026-ok").startswith("scrypt:")


def test_language_switch_to_english_and_back(client, org):
    client.refresh_token("/login")
    resp = client.post("/lang", {"lang": "en", "next": "/login"})
    assert resp.status_code == 302
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page
    client.post("/lang", {"lang": "zh_Hans_CN", "next": "/login"})
    assert '<html lang="zh-CN">' in client.get("/login").get_data(as_text=True)


def test_user_locale_remembered_across_logins(client, org):
    client.login("RA0001")
    client.refresh_token("/")
    client.post("/lang", {"lang": "en", "next": "/"})
    client.logout()
    client.login("RA0001")
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    assert db.session.get(User, org.rm_a.id).locale == "en"


REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except redis.RedisError:
        return False


def test_login_limits_are_shared_by_all_workers_through_redis(make_app):
    """Two app processes (gunicorn workers) against one Redis: failures on one count on the other."""
    if not redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI at {REDIS_URL}")
        pytest.skip("Redis not reachable")
    from tests.conftest import Client, make_branch, make_outlet

    prefix = f"crm-test-{uuid.uuid4().hex}"
    settings = dict(CRM_REDIS_URL=REDIS_URL, CRM_LOGIN_LIMIT_ACCOUNT="3 per 15 minutes", RATELIMIT_KEY_PREFIX=prefix)
    worker_a = make_app(**settings)
    worker_b = make_app(**settings)
    assert worker_a.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
    with worker_a.app_context():
        make_user("RA0001", "personal_rm", outlet=make_outlet(make_branch("B1", "甲分行"), "OA", "甲网点"))
    with worker_a.app_context():
        assert Client(worker_a).login("RA0001", "Wrong-pass-1").status_code == 401
        assert Client(worker_a).login("RA0001", "Wrong-pass-1").status_code == 401
    with worker_b.app_context():
        assert Client(worker_b).login("RA0001", "Wrong-pass-1").status_code == 401
        assert Client(worker_b).login("RA0001").status_code == 429  # the right password, but limited
    with worker_a.app_context():
        assert Client(worker_a).login("RA0001").status_code == 429
    # The counters really live in Redis (not in this process), where every worker process sees them.
    import redis

    conn = redis.Redis.from_url(REDIS_URL)
    keys = conn.keys(f"*{prefix}*")
    assert any(b"RA0001" in k for k in keys)
    conn.delete(*keys)


def test_old_ended_sessions_are_purged_at_login(client, org):
    from crm.models import UserSession

    db.session.add(UserSession(token="old-one", user_id=org.rm_a.id, created_at=utcnow() - timedelta(days=200),
                               last_seen_at=utcnow() - timedelta(days=200), ended_at=utcnow() - timedelta(days=199),
                               end_reason="logout"))
    db.session.add(UserSession(token="recent", user_id=org.rm_a.id, created_at=utcnow() - timedelta(days=10),
                               last_seen_at=utcnow() - timedelta(days=10), ended_at=utcnow() - timedelta(days=10),
                               end_reason="logout"))
    db.session.commit()
    client.login("RA0001")
    tokens = set(db.session.execute(select(UserSession.token).where(UserSession.user_id == org.rm_a.id)).scalars())
    assert "old-one" not in tokens and "recent" in tokens and len(tokens) == 2
