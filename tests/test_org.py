"""Organisation (spec §2.1): 分行/支行 tree and outlets, validation, scope of branch admins, moves that re-root
materialised paths and the plugin state of the staff, and the read-only view for outlet heads."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditLog, Branch, Outlet, User
from tests.conftest import CANARY_B, Client, make_branch, make_outlet, make_user, table_snapshot

VOLATILE = ("audit_log", "user_session")


def audit_rows(action: str) -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).scalars())


def stable_snapshot() -> dict:
    snap = table_snapshot()
    for name in VOLATILE:
        snap.pop(name)
    return snap


def manager(app, login: str) -> Client:
    c = Client(app)
    assert c.login(login).status_code == 302
    c.refresh_token("/admin/org")
    return c


def branch_by_code(code: str) -> Branch | None:
    return db.session.execute(select(Branch).where(Branch.code == code)).scalar_one_or_none()


def outlet_by_code(code: str) -> Outlet | None:
    return db.session.execute(select(Outlet).where(Outlet.code == code)).scalar_one_or_none()


def branch_data(code: str, name: str, level: str = "sub_branch", parent=None, **over) -> dict:
    data = {"code": code, "name": name, "level": level, "parent_id": str(parent.id) if parent else "",
            "president_name": "", "active": "y", "version": ""}
    data.update(over)
    return data


def outlet_data(code: str, name: str, branch, outlet_type: str = "urban", **over) -> dict:
    data = {"code": code, "name": name, "branch_id": str(branch.id), "outlet_type": outlet_type, "address": "",
            "phone": "", "area_m2": "", "high_counter_count": "0", "low_counter_count": "0",
            "corp_cash_tx_daily": "0", "corp_noncash_tx_daily": "0", "teller_std_volume": "0", "active": "y",
            "version": ""}
    data.update(over)
    return data


def edit_branch_data(node: Branch, **over) -> dict:
    data = branch_data(node.code, node.name, node.level, node.parent, version=str(node.version),
                       president_name=node.president_name or "")
    data.update(over)
    return data


def edit_outlet_data(outlet: Outlet, **over) -> dict:
    data = outlet_data(outlet.code, outlet.name, outlet.branch, outlet.outlet_type, version=str(outlet.version),
                       high_counter_count=str(outlet.high_counter_count),
                       low_counter_count=str(outlet.low_counter_count))
    data.update(over)
    return data


def card(page: str, node: Branch) -> str:
    """The HTML of one node's card on the org page: its header and its outlets table."""
    start = page.index(f'id="branch-{node.id}"')
    nxt = page.find('id="branch-', start + 1)
    return page[start: nxt if nxt != -1 else len(page)]


def is_error(resp, message: str) -> bool:
    return resp.status_code == 422 and message in resp.get_data(as_text=True)


# ---------------------------------------------------------------- building the tree

def test_admin_builds_branch_sub_branch_and_three_outlet_types(app, org):
    adm = manager(app, "ADM001")
    resp = adm.post("/admin/branches/new", branch_data("B9", "丙分行", level="branch"))
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/org"
    b9 = branch_by_code("B9")
    assert (b9.level, b9.parent_id, b9.path) == ("branch", None, f"/{b9.id}/")

    resp = adm.post("/admin/branches/new", branch_data("S9", "丙一支行", parent=b9, president_name="赵行长"))
    assert resp.status_code == 302
    s9 = branch_by_code("S9")
    assert (s9.level, s9.parent_id, s9.path, s9.root_id) == ("sub_branch", b9.id, f"/{b9.id}/{s9.id}/", b9.id)

    outlets = [
        ("O91", "丙一支行营业部", "sub_branch_business_dept", {"high_counter_count": "3", "low_counter_count": "5",
                                                             "has_reception_conditions": "y", "area_m2": "320.5"}),
        ("O92", "丙园区网点", "urban", {"high_counter_count": "2", "low_counter_count": "4"}),
        ("O93", "丙乡镇网点", "township", {"high_counter_count": "1", "low_counter_count": "1"}),
    ]
    for code, name, kind, extra in outlets:
        resp = adm.post("/admin/outlets/new", outlet_data(code, name, s9, kind, **extra))
        assert resp.status_code == 302, resp.get_data(as_text=True)
    dept, urban, town = (outlet_by_code(c) for c in ("O91", "O92", "O93"))
    assert (dept.outlet_type, urban.outlet_type, town.outlet_type) == ("sub_branch_business_dept", "urban", "township")
    assert {o.branch_id for o in (dept, urban, town)} == {s9.id}
    assert {o.root_branch_id for o in (dept, urban, town)} == {b9.id}
    assert (dept.high_counter_count, dept.low_counter_count, dept.has_reception_conditions) == (3, 5, True)
    assert str(dept.area_m2) == "320.50"
    assert urban.has_reception_conditions is False

    page = adm.get("/admin/org").get_data(as_text=True)
    b9_card, s9_card = card(page, b9), card(page, s9)
    assert "丙分行" in b9_card and "分行" in b9_card and "丙园区网点" not in b9_card
    assert "丙一支行" in s9_card and "赵行长" in s9_card
    assert page.index(f'id="branch-{b9.id}"') < page.index(f'id="branch-{s9.id}"')
    rows = {name: re.search(rf"<tr>\s*<td>{name}.*?</tr>", s9_card, re.S).group(0) for _, name, _, _ in outlets}
    assert "支行营业部" in rows["丙一支行营业部"] and "3 / 5" in rows["丙一支行营业部"]
    assert "bi-check-circle" in rows["丙一支行营业部"]
    assert "城区/园区网点" in rows["丙园区网点"] and "2 / 4" in rows["丙园区网点"]
    assert "bi-check-circle" not in rows["丙园区网点"]
    assert "乡镇网点" in rows["丙乡镇网点"] and "1 / 1" in rows["丙乡镇网点"]

    branch_saved = audit_rows("org.branch_saved")
    outlet_saved = audit_rows("org.outlet_saved")
    assert [r.target_id for r in branch_saved] == [str(b9.id), str(s9.id)]
    assert [r.target_id for r in outlet_saved] == [str(dept.id), str(urban.id), str(town.id)]
    assert all(r.actor_id == org.admin.id and r.detail["new"] is True for r in branch_saved + outlet_saved)


def test_branch_admin_adds_sub_branch_and_outlet_in_own_branch(app, org):
    ba = manager(app, "BA0001")
    assert ba.post("/admin/branches/new", branch_data("S19", "甲九支行", parent=org.b1)).status_code == 302
    s19 = branch_by_code("S19")
    assert s19.path == f"/{org.b1.id}/{s19.id}/"
    assert ba.post("/admin/outlets/new", outlet_data("O19", "甲九网点", s19, "township")).status_code == 302
    assert outlet_by_code("O19").root_branch_id == org.b1.id


# ---------------------------------------------------------------- validation

def test_duplicate_codes_refused(app, org):
    adm = manager(app, "ADM001")
    before = stable_snapshot()
    assert is_error(adm.post("/admin/branches/new", branch_data("S1", "另一个支行", parent=org.b1)), "该机构编码已存在")
    assert is_error(adm.post("/admin/outlets/new", outlet_data("OA", "另一个网点", org.s1)), "该网点编码已存在")
    assert stable_snapshot() == before


@pytest.mark.parametrize("code", ["S 9", "支行9", "S9!", "X" * 21])
def test_bad_code_characters_refused(app, org, code):
    adm = manager(app, "ADM001")
    before = stable_snapshot()
    message = "编码只能包含字母、数字、-、_，最多20位"
    assert is_error(adm.post("/admin/branches/new", branch_data(code, "新支行", parent=org.b1)), message)
    assert is_error(adm.post("/admin/outlets/new", outlet_data(code, "新网点", org.s1)), message)
    assert stable_snapshot() == before


def test_sub_branch_without_parent_refused(app, org):
    adm = manager(app, "ADM001")
    before = stable_snapshot()
    resp = adm.post("/admin/branches/new", branch_data("S9", "无上级支行"))
    assert is_error(resp, "请选择您管辖范围内的上级机构")
    assert stable_snapshot() == before


def test_branch_with_parent_refused(app, org):
    adm = manager(app, "ADM001")
    before = stable_snapshot()
    resp = adm.post("/admin/branches/new", branch_data("B9", "挂在分行下的分行", level="branch", parent=org.b1))
    assert is_error(resp, "分行没有上级机构")
    assert stable_snapshot() == before


def test_outlet_without_valid_type_or_parent_refused(app, org):
    adm = manager(app, "ADM001")
    before = stable_snapshot()
    assert adm.post("/admin/outlets/new", outlet_data("O9", "坏类型", org.s1, "mall")).status_code == 422
    assert adm.post("/admin/outlets/new", outlet_data("O9", "无上级", org.s1, branch_id="")).status_code == 422
    assert is_error(adm.post("/admin/outlets/new", outlet_data("O9", "不存在的上级", org.s1, branch_id="99999")),
                    "请选择您管辖范围内的机构")
    assert stable_snapshot() == before


def test_branch_admin_cannot_create_a_branch(app, org):
    ba = manager(app, "BA0001")
    before = stable_snapshot()
    resp = ba.post("/admin/branches/new", branch_data("B9", "自建分行", level="branch"))
    assert is_error(resp, "只有系统管理员可以新建分行")
    assert stable_snapshot() == before


def test_branch_admin_cannot_build_under_another_branch(app, org):
    ba = manager(app, "BA0001")
    before = stable_snapshot()
    assert is_error(ba.post("/admin/branches/new", branch_data("S9", "越界支行", parent=org.b2)),
                    "请选择您管辖范围内的上级机构")
    assert is_error(ba.post("/admin/branches/new", branch_data("S9", "越界支行", parent=org.s2)),
                    "请选择您管辖范围内的上级机构")
    assert is_error(ba.post("/admin/outlets/new", outlet_data("O9", "越界网点", org.s2)), "请选择您管辖范围内的机构")
    # Moving an own 支行 or outlet over to the other 分行 is refused too.
    assert is_error(ba.post(f"/admin/branches/{org.s1.id}", edit_branch_data(org.s1, parent_id=str(org.b2.id))),
                    "请选择您管辖范围内的上级机构")
    assert is_error(ba.post(f"/admin/outlets/{org.a.id}", edit_outlet_data(org.a, branch_id=str(org.s2.id))),
                    "请选择您管辖范围内的机构")
    # The other 分行's nodes cannot be edited at all.
    assert ba.post(f"/admin/branches/{org.s2.id}", edit_branch_data(org.s2, name="改名")).status_code == 404
    assert ba.post(f"/admin/outlets/{org.b.id}", edit_outlet_data(org.b, name="改名")).status_code == 404
    assert stable_snapshot() == before


def test_branch_admin_cannot_turn_own_sub_branch_into_a_branch(app, org):
    ba = manager(app, "BA0001")
    before = stable_snapshot()
    resp = ba.post(f"/admin/branches/{org.s1.id}", edit_branch_data(org.s1, level="branch", parent_id=""))
    assert is_error(resp, "只有系统管理员可以新建分行")
    assert stable_snapshot() == before


def test_node_cannot_move_below_itself(app, org):
    s1x = make_branch("S1X", "甲一下属支行", org.s1)
    adm = manager(app, "ADM001")
    before = stable_snapshot()
    for parent in (s1x, org.s1):
        resp = adm.post(f"/admin/branches/{org.s1.id}", edit_branch_data(org.s1, parent_id=str(parent.id)))
        assert is_error(resp, "上级机构不能是本机构或其下级机构")
    assert stable_snapshot() == before


def test_outlet_edit_with_stale_version_is_refused(app, org):
    adm = manager(app, "ADM001")
    stale = edit_outlet_data(org.a)
    assert adm.post(f"/admin/outlets/{org.a.id}", {**stale, "name": "甲网点（新址）"}).status_code == 302
    before = stable_snapshot()
    resp = adm.post(f"/admin/outlets/{org.a.id}", {**stale, "name": "甲网点（旧版本）", "high_counter_count": "9"})
    assert is_error(resp, "该网点已被他人修改")
    assert stable_snapshot() == before
    db.session.refresh(org.a)
    assert (org.a.name, org.a.high_counter_count) == ("甲网点（新址）", 0)


def test_branch_edit_with_stale_version_is_refused(app, org):
    adm = manager(app, "ADM001")
    stale = edit_branch_data(org.s1)
    assert adm.post(f"/admin/branches/{org.s1.id}", {**stale, "president_name": "钱行长"}).status_code == 302
    before = stable_snapshot()
    resp = adm.post(f"/admin/branches/{org.s1.id}", {**stale, "name": "旧版本改名"})
    assert is_error(resp, "该机构已被他人修改")
    assert stable_snapshot() == before
    db.session.refresh(org.s1)
    assert (org.s1.name, org.s1.president_name) == ("甲一支行", "钱行长")


def test_edit_outlet_keeps_its_values_and_audits(app, org):
    adm = manager(app, "ADM001")
    form = adm.get(f"/admin/outlets/{org.a.id}").get_data(as_text=True)
    assert 'value="OA"' in form and "甲网点" in form
    resp = adm.post(f"/admin/outlets/{org.a.id}", edit_outlet_data(org.a, low_counter_count="6",
                                                                  has_reception_conditions="y"))
    assert resp.status_code == 302
    db.session.refresh(org.a)
    assert (org.a.low_counter_count, org.a.has_reception_conditions, org.a.version) == (6, True, 2)
    row = audit_rows("org.outlet_saved")[-1]
    assert row.target_id == str(org.a.id) and row.detail["new"] is False


# ---------------------------------------------------------------- moves

def test_moving_a_sub_branch_reroots_its_subtree_outlets_and_plugin_state(app, org, enable_plugin):
    registry = app.extensions["crm"]
    s1x = make_branch("S1X", "甲一下属支行", org.s1)
    ox = make_outlet(s1x, "OX", "下属网点")
    staff_x = make_user("RX0001", "personal_rm", outlet=ox)
    enable_plugin(org.b2, "example")
    assert "example" not in registry.enabled_for(org.rm_a)
    assert "example" not in registry.enabled_for(staff_x)
    assert "example" in registry.enabled_for(org.rm_b)

    rm = Client(app)
    rm.login("RA0001")
    with app.test_request_context():
        from flask import url_for

        plugin_url = url_for("example.index")
    assert rm.get(plugin_url).status_code == 404  # off for 甲分行

    adm = manager(app, "ADM001")
    resp = adm.post(f"/admin/branches/{org.s1.id}", edit_branch_data(org.s1, parent_id=str(org.b2.id)))
    assert resp.status_code == 302, resp.get_data(as_text=True)

    for node in (org.s1, s1x, org.a, org.a2, ox, org.rm_a, staff_x, org.head_a, org.president1):
        db.session.refresh(node)
    assert org.s1.parent_id == org.b2.id
    assert org.s1.path == f"/{org.b2.id}/{org.s1.id}/"
    assert s1x.path == f"/{org.b2.id}/{org.s1.id}/{s1x.id}/"
    assert {org.a.root_branch_id, org.a2.root_branch_id, ox.root_branch_id} == {org.b2.id}
    # Untouched: the other 分行's own subtree.
    assert branch_by_code("S2").path == f"/{org.b2.id}/{org.s2.id}/"

    for user in (org.rm_a, staff_x, org.head_a, org.president1):
        assert user.root_branch_id == org.b2.id
        assert "example" in registry.enabled_for(user), user.login
    assert rm.get(plugin_url).status_code == 200  # the live session sees the new 分行's plugins
    # Branch scoping follows the tree: B1's admin no longer sees the moved outlets; B2's does.
    from crm.access import scoped

    assert set(db.session.execute(scoped(Outlet, org.branch_admin1).with_only_columns(Outlet.id)).scalars()) == set()
    b2_outlets = set(db.session.execute(scoped(Outlet, org.branch_admin2).with_only_columns(Outlet.id)).scalars())
    assert b2_outlets == {org.a.id, org.a2.id, ox.id, org.b.id}


def test_moving_an_outlet_to_another_sub_branch_moves_its_staff(app, org, enable_plugin):
    registry = app.extensions["crm"]
    enable_plugin(org.b2, "example")
    adm = manager(app, "ADM001")
    resp = adm.post(f"/admin/outlets/{org.a2.id}", edit_outlet_data(org.a2, branch_id=str(org.s2.id)))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.session.refresh(org.a2)
    assert (org.a2.branch_id, org.a2.root_branch_id) == (org.s2.id, org.b2.id)
    staff = db.session.execute(select(User).where(User.outlet_id == org.a2.id)).scalars().all()
    assert {u.login for u in staff} == {"HA0002", "RA0002"}
    for user in staff:
        db.session.refresh(user)
        assert user.branch_id == org.s2.id
        assert "example" in registry.enabled_for(user)
    # Staff of the outlet that stayed are untouched.
    db.session.refresh(org.rm_a)
    assert org.rm_a.branch_id == org.s1.id and "example" not in registry.enabled_for(org.rm_a)
    page = adm.get("/admin/org").get_data(as_text=True)
    assert "甲二网点" in card(page, org.s2) and "甲二网点" not in card(page, org.s1)


# ---------------------------------------------------------------- who sees the org page

def test_outlet_head_sees_org_read_only(app, org):
    head = Client(app)
    head.login("HA0001")
    resp = head.get("/admin/org")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "甲网点" in page and "甲一支行" in page and "甲分行" in page
    assert "甲二网点" not in page and CANARY_B not in page  # only the own outlet and its 支行 line
    assert "编辑" not in page and "新建网点" not in page and "新增下级支行" not in page
    assert head.get(f"/admin/outlets/{org.a.id}").status_code == 403
    assert head.get("/admin/branches/new").status_code == 403


def test_branch_admin_sees_no_edit_button_on_the_branch_itself(app, org):
    ba = Client(app)
    ba.login("BA0001")
    page = ba.get("/admin/org").get_data(as_text=True)
    assert f'href="/admin/branches/{org.b1.id}"' not in page
    assert f'href="/admin/branches/{org.s1.id}"' in page
    assert f'href="/admin/outlets/{org.a.id}"' in page
    adm = Client(app)
    adm.login("ADM001")
    assert f'href="/admin/branches/{org.b1.id}"' in adm.get("/admin/org").get_data(as_text=True)


@pytest.mark.parametrize("login", ["RA0001", "TA0001", "LA0001"])
def test_staff_without_org_view_get_403(app, org, login):
    c = Client(app)
    c.login(login)
    resp = c.get("/admin/org")
    assert resp.status_code == 403
    assert "甲一支行" not in resp.get_data(as_text=True)
