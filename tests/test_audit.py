"""The audit log: append-only, one row per sensitive action, masked values, filters and keyset paging."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from crm import audit
from crm.extensions import db
from crm.models import AuditLog
from crm.timeutil import today_local, utcnow
from tests.conftest import CANARY_B


def test_append_only_in_orm_and_database(app, org):
    audit.record("auth.login", actor=org.rm_a)
    db.session.commit()
    row = db.session.execute(select(AuditLog)).scalar_one()
    row.result = "fail"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("DELETE FROM audit_log"))
        db.session.commit()
    db.session.rollback()
    assert db.session.execute(select(AuditLog.result)).scalar_one() == "ok"


def test_detail_values_are_masked(app, org):
    audit.record("user.created", actor=org.admin, detail={"login": "410102199001011234", "phone": "13812345678",
                                                          "note": ["身份证410102199001011234"]})
    db.session.commit()
    row = db.session.execute(select(AuditLog)).scalar_one()
    assert row.detail == {"login": "410***********1234", "phone": "138****5678", "note": ["身份证410***********1234"]}


def seed_rows(org, n: int) -> None:
    start = utcnow() - timedelta(days=10)
    db.session.add(AuditLog(created_at=start - timedelta(hours=1), actor_id=org.rm_b.id, actor_login="RB0001",
                            outlet_id=org.b.id, branch_id=org.s2.id, action="auth.login", result="ok",
                            detail={"who": CANARY_B}))
    for i in range(n):
        db.session.add(AuditLog(created_at=start + timedelta(hours=i), actor_id=org.rm_a.id, actor_login="RA0001",
                                outlet_id=org.a.id, branch_id=org.s1.id, action="auth.login", result="ok", detail={}))
    db.session.add(AuditLog(created_at=utcnow(), actor_login="UNKNOWN9", action="auth.login_failed", result="fail",
                            detail={}))
    db.session.commit()


def test_audit_page_filters_and_pages(client, org):
    seed_rows(org, 120)
    client.login("ADM001")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert page.count('<td class="text-secondary text-nowrap">') == 50
    assert "加载更多" in page
    failed = client.get("/admin/audit?result=fail").get_data(as_text=True)
    assert "UNKNOWN9" in failed and "甲客户经理" not in failed
    by_person = client.get("/admin/audit?who=甲客户经理").get_data(as_text=True)
    assert by_person.count("甲客户经理") >= 50 and CANARY_B not in by_person
    assert "UNKNOWN9" in client.get("/admin/audit?who=UNKNOWN9").get_data(as_text=True)
    today = today_local().isoformat()  # the filter's days are the bank's (Asia/Shanghai), not UTC
    ranged = client.get(f"/admin/audit?from={today}&to={today}&action=auth.login_failed").get_data(as_text=True)
    assert "UNKNOWN9" in ranged
    bad = client.get("/admin/audit?from=2026-13-45").get_data(as_text=True)
    assert "日期格式应为" in bad


def test_audit_keyset_pages_do_not_overlap(client, org):
    seed_rows(org, 120)
    client.login("ADM001")
    import re

    seen: list[str] = []
    url = "/admin/audit?action=auth.login"
    while url:
        body = client.get(url, headers={"HX-Request": "true", "HX-Target": "audit-rows"}).get_data(as_text=True)
        assert "<html" not in body
        seen += re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", body)
        more = re.search(r'hx-get="(/admin/audit\?[^"]+)"', body)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == 121 + 1  # 120 of A, 1 of B, plus the admin's own login
    assert seen == sorted(seen, reverse=True)


def test_branch_admin_sees_only_own_branch_rows(client, org):
    seed_rows(org, 3)
    client.login("BA0001")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "甲客户经理" in page and CANARY_B not in page and "UNKNOWN9" not in page
