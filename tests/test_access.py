"""Access: every route has a policy; out-of-scope ids answer 404 with zero bytes of the other side's data;
no vertical escalation; scoped queries return exactly the user's scope (design §4)."""

from __future__ import annotations

import pytest
from flask import url_for
from sqlalchemy import select

from crm.access import policy_of, scoped
from crm.extensions import db
from crm.models import AuditLog, Branch, Outlet, User
from tests.conftest import CANARY_B, table_snapshot

# Out-of-scope object per URL argument: everything on the B side of the org fixture.
ARG_TARGETS = {
    "user_id": lambda org: org.rm_b.id,
    "outlet_id": lambda org: org.b.id,
    "branch_id": lambda org: org.s2.id,
    "note_id": lambda org: 1,
    "customer_id": lambda org: org.customer_b.id,
    "field_name": lambda org: "phone",
    "activity_id": lambda org: org.activity_b.id,
    "section": lambda org: "family",
    "row_id": lambda org: org.family_b.id,
    "job_id": lambda org: "1",  # someone else's (here: nobody's) import job
    "kind": lambda org: "imports",  # a background-job kind (admin failed-job view)
    "name": lambda org: "example",
}
A_SIDE = ["HA0001", "RA0001", "TA0001", "BA0001", "PR0001", "MK0001"]


def all_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def build_url(app, rule, org, extra_query: dict | None = None) -> str:
    values = {arg: ARG_TARGETS[arg](org) for arg in rule.arguments}
    with app.test_request_context():
        return url_for(rule.endpoint, **values, **(extra_query or {}))


def visible_text(resp) -> str:
    """What a response carries, whatever its form: an Excel file's unzipped XML, a PDF's text, or the body."""
    import io
    import subprocess
    import tempfile
    import zipfile

    data = resp.get_data()
    if resp.mimetype.endswith("spreadsheetml.sheet"):
        book = zipfile.ZipFile(io.BytesIO(data))
        return "".join(book.read(name).decode("utf-8", "replace") for name in book.namelist())
    if resp.mimetype == "application/pdf":
        with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
            tmp.write(data)
            tmp.flush()
            return subprocess.run(["pdftotext", tmp.name, "-"], capture_output=True, text=True, check=True).stdout
    return data.decode("utf-8", "replace")


def test_every_route_has_a_declared_policy(app):
    missing = []
    with app.test_request_context():
        for rule, _method in all_routes(app):
            if policy_of(rule.endpoint) is None:
                missing.append(rule.endpoint)
    assert missing == []


def test_a_route_without_policy_answers_404(make_app):
    app = make_app()
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    resp = app.test_client().get("/undeclared")
    assert resp.status_code == 404 and b"secret" not in resp.data


@pytest.fixture
def b_side_data(app, org, enable_plugin):
    """Put B-side rows everywhere a leak could show: audit log, plugin notes, sessions."""
    from crm.customers.search import keys
    from crm.models import Customer
    from tests.conftest import Client
    from tests.plugin_example.models import ExampleNote

    db.session.add(ExampleNote(outlet_id=org.b.id, text=f"便签{CANARY_B}"))
    org.customer_b = Customer(outlet_id=org.b.id, kind="personal", status="stock", name=f"乙客户{CANARY_B}",
                              cert_no="410102199001011234", phone="13900002222", maintainer_id=org.rm_b.id,
                              **keys(f"乙客户{CANARY_B}", "13900002222", "410102199001011234"))
    db.session.add(org.customer_b)
    db.session.flush()
    from crm.models import Activity
    from crm.timeutil import utcnow

    org.activity_b = Activity(customer_id=org.customer_b.id, user_id=org.rm_b.id, kind="call", occurred_at=utcnow(),
                              summary=f"乙的联系{CANARY_B}", next_follow_up=utcnow().date())
    db.session.add(org.activity_b)
    from crm.models import CustomerProduct, FamilyMember

    org.family_b = FamilyMember(customer_id=org.customer_b.id, relation="child", name=f"乙孩子{CANARY_B}",
                                phone="13900003333")
    db.session.add_all([org.family_b, CustomerProduct(customer_id=org.customer_b.id, category="wealth",
                                                      name=f"乙理财{CANARY_B}", account_no="6222000011112222")])
    db.session.commit()
    Client(app).login("HB0001")
    Client(app).login("RB0001", "wrong-Pass-1")
    enable_plugin(org.b1, "example")
    enable_plugin(org.b2, "example")
    return org


@pytest.mark.parametrize("login", A_SIDE)
def test_no_byte_of_the_other_side_on_any_route(client, b_side_data, login):
    org = b_side_data
    app = client.app
    client.login(login)
    checked = 0
    for rule, method in all_routes(app):
        if rule.endpoint in ("auth.logout",):
            continue
        url = build_url(app, rule, org, {"branch": org.b2.id} if "plugin_settings" in rule.endpoint else None)
        before = table_snapshot() if method == "POST" else None
        if method == "GET":
            resp = client.get(url)
        else:
            resp = client.post(url, {"branch": str(org.b2.id), "enabled": "1", "active": "0", "text": "x"})
        body = visible_text(resp)
        assert CANARY_B not in body, (login, method, url, resp.status_code)
        if rule.arguments - {"name", "field_name", "section"}:  # an object id of the B side
            assert resp.status_code in (302, 403, 404), (login, method, url, resp.status_code)
        if before is not None and rule.arguments:
            after = table_snapshot()
            for table in ("audit_log", "user_session", "user_account"):
                before.pop(table), after.pop(table)  # denials are audited; sessions are touched
            assert before == after, (login, method, url)
        checked += 1
    assert checked > 20


def test_outlet_head_gets_404_for_other_outlets_objects(client, org):
    client.login("HA0001")
    for url in (f"/users/{org.rm_b.id}", f"/users/{org.rm_a2.id}", f"/users/{org.head_b.id}"):
        resp = client.get(url)
        assert resp.status_code == 404
        assert "乙客户经理" not in resp.get_data(as_text=True)
        assert "甲二客户经理" not in resp.get_data(as_text=True)
    assert client.get(f"/users/{org.rm_a.id}").status_code == 200


def test_denied_object_access_is_audited(client, org):
    client.login("HA0001")
    client.get(f"/users/{org.rm_b.id}")
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "access.denied")).scalar_one()
    assert (row.actor_id, row.target_type, row.target_id, row.result) == (org.head_a.id, "user_account",
                                                                          str(org.rm_b.id), "denied")


def test_nonexistent_and_out_of_scope_look_the_same(client, org):
    client.login("HA0001")
    missing = client.get("/users/999999")
    hidden = client.get(f"/users/{org.rm_b.id}")
    assert missing.status_code == hidden.status_code == 404
    # Identical but for the page's own path (echoed in the language switch's return address) and the CSRF
    # token, which is re-signed with the current second.
    import re

    def normal(resp, path):
        text = resp.get_data(as_text=True).replace(path, "")
        text = re.sub(r'nonce="[\w-]+"', 'nonce="N"', text)  # each response has its own CSP nonce
        return re.sub(r"I[A-Za-z0-9_.-]{40,}", "TOKEN", text)

    assert normal(missing, "/users/999999") == normal(hidden, f"/users/{org.rm_b.id}")


@pytest.mark.parametrize("login", ["RA0001", "TA0001", "LA0001", "HA0001", "PR0001", "MK0001"])
def test_vertical_escalation_to_admin_routes_refused(client, org, login):
    client.login(login)
    for path in ("/admin/plugins", "/admin/audit", "/admin/branches/new", "/admin/outlets/new"):
        assert client.get(path).status_code == 403, path
    resp = client.post("/admin/plugins/example/toggle", {"branch": str(org.b1.id), "enabled": "1"})
    assert resp.status_code == 403
    assert client.app.extensions["crm"].state(org.b1.id)["example"] is False
    denied = db.session.execute(select(AuditLog).where(AuditLog.action == "access.denied")).scalars().all()
    assert len(denied) >= 5


def test_staff_without_user_rights_cannot_list_users(client, org):
    client.login("RA0001")
    assert client.get("/users").status_code == 403
    assert "员工账号" not in client.get("/").get_data(as_text=True)


def test_lists_show_only_the_users_scope(client, org):
    client.login("HA0001")
    page = client.get("/users").get_data(as_text=True)
    assert "甲客户经理" in page and "甲柜员" in page
    assert "甲二客户经理" not in page and CANARY_B not in page
    client.logout()
    client.login("BA0001")
    page = client.get("/users").get_data(as_text=True)
    assert "甲二客户经理" in page and "支行行长一" in page and CANARY_B not in page
    org_page = client.get("/admin/org").get_data(as_text=True)
    assert "甲二网点" in org_page and CANARY_B not in org_page


def test_forged_filter_ids_do_not_widen_scope(client, org):
    client.login("HA0001")
    page = client.get(f"/users?outlet={org.b.id}&status=all").get_data(as_text=True)
    assert CANARY_B not in page and "没有符合条件的员工" in page


def ids(stmt) -> set[int]:
    return set(db.session.execute(stmt.with_only_columns(stmt.selected_columns[0].table.c.id)).scalars())


def test_scoped_queries_per_level(app, org):
    all_users = set(db.session.execute(select(User.id)).scalars())
    assert ids(scoped(User, org.admin)) == all_users
    b1_users = {u.id for u in (org.branch_admin1, org.head_a, org.rm_a, org.teller_a, org.lobby_a, org.head_a2,
                               org.rm_a2, org.marketing1, org.president1)}
    assert ids(scoped(User, org.branch_admin1)) == b1_users
    # A 支行 president sees the 支行's subtree, not the 分行's own staff.
    assert ids(scoped(User, org.president1)) == b1_users - {org.branch_admin1.id, org.marketing1.id}
    assert ids(scoped(User, org.head_a)) == {org.head_a.id, org.rm_a.id, org.teller_a.id, org.lobby_a.id}
    assert ids(scoped(User, org.rm_a)) == {org.rm_a.id}
    assert ids(scoped(Outlet, org.branch_admin1)) == {org.a.id, org.a2.id}
    assert ids(scoped(Outlet, org.head_a)) == {org.a.id}
    assert ids(scoped(Outlet, org.rm_a)) == set()
    assert ids(scoped(Branch, org.branch_admin1)) == {org.b1.id, org.s1.id}
    assert ids(scoped(Branch, org.head_a)) == {org.b1.id, org.s1.id}


def test_scope_denies_inactive_and_anonymous(app, org):
    from flask_login import AnonymousUserMixin

    org.rm_a.active = False
    assert ids(scoped(User, org.rm_a)) == set()
    assert ids(scoped(User, AnonymousUserMixin())) == set()


def test_unregistered_model_is_denied(app, org):
    from crm.access import scope_filter
    from crm.models import BranchPlugin

    assert str(scope_filter(BranchPlugin, org.admin)) in ("false", "0 = 1")
