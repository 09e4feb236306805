"""Saved customer lists: snapshot vs live after a recompute, 分行 isolation, the viewer's scope, CSRF, set-based."""

from __future__ import annotations

import re

import pytest
from flask import current_app
from flask_login import login_user
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog, Customer, User
from plugins.segmentation import services
from plugins.segmentation.models import SegmentationList, SegmentationListMember
from tests.conftest import CANARY_B, table_snapshot
from tests.plugins.segmentation.conftest import StatementCounter, cust, recompute_as

CANARY_A2 = "CANARYA2"


def save(client, name: str, kind: str, segment: str = "no_loan") -> SegmentationList:
    resp = client.post("/p/segmentation/lists", {"name": name, "segment": segment, "kind": kind})
    assert resp.status_code == 302, resp.status_code
    return db.session.execute(select(SegmentationList).where(SegmentationList.name == name)).scalar_one()


def names(client, lst: SegmentationList, query: str = "") -> set[str]:
    resp = client.get(f"/p/segmentation/lists/{lst.id}{query}")
    assert resp.status_code == 200, resp.status_code
    return set(re.findall(r'<a href="/customers/\d+">([^<]+)</a>', resp.get_data(as_text=True)))


def save_as(user, branch, name: str, kind: str, segment: str = "no_loan") -> SegmentationList:
    with current_app.test_request_context():
        login_user(db.session.get(User, user.id))
        return services.save_list(db.session.get(User, user.id), branch.id, name, segment, kind)


def test_snapshot_stays_fixed_after_a_recompute_while_live_follows_the_segment(client, seg):
    stays, leaves = cust(seg.a, name="留下的无贷户"), cust(seg.a2, name="后来贷款的客户")
    cust(seg.a, name="有贷户", has_loan=True)
    recompute_as(seg.branch_admin1, seg.b1)
    client.login("BA0001")
    assert "保存为客户名单" in client.get("/p/segmentation/").get_data(as_text=True)
    snap, live = save(client, "无贷户三月快照", "snapshot"), save(client, "无贷户实时", "live")
    assert (snap.size, live.size) == (2, 2)
    assert names(client, snap) == names(client, live) == {"留下的无贷户", "后来贷款的客户"}

    db.session.get(Customer, leaves.id).has_loan = True  # took a loan: leaves 无贷户 at the next recompute
    db.session.commit()
    cust(seg.a, name="新开户无贷户")
    assert names(client, live) == {"留下的无贷户", "后来贷款的客户"}  # live = the last recompute, not yet run
    recompute_as(seg.branch_admin1, seg.b1)
    assert names(client, snap) == {"留下的无贷户", "后来贷款的客户"}
    assert names(client, live) == {"留下的无贷户", "新开户无贷户"}
    # The customer list's filters narrow a list; each row links to the customer.
    assert names(client, live, "?q=新开户") == {"新开户无贷户"}
    assert names(client, snap, "?kind=corporate") == set()
    assert f'href="/customers/{stays.id}"' in client.get(f"/p/segmentation/lists/{snap.id}").get_data(as_text=True)
    # The list page shows both with their size at saving and the size now.
    html = client.get("/p/segmentation/lists").get_data(as_text=True)
    assert "无贷户三月快照" in html and "快照" in html and "实时" in html
    # Other plugins get the same members through the scoped Select.
    with current_app.test_request_context():
        login_user(db.session.get(User, seg.branch_admin1.id))
        stmt = services.customers_of_list(live.id, db.session.get(User, seg.branch_admin1.id))
        assert set(db.session.execute(stmt.with_only_columns(Customer.name)).scalars()) == {"留下的无贷户",
                                                                                              "新开户无贷户"}
    assert db.session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "segmentation.list_saved")).scalar_one() == 2


def test_another_branchs_list_is_404(client, seg):
    cust(seg.b, name=f"乙客户{CANARY_B}")
    recompute_as(seg.branch_admin2, seg.b2)
    other = save_as(seg.branch_admin2, seg.b2, f"乙名单{CANARY_B}", "snapshot")
    client.login("BA0001")
    for resp in (client.get(f"/p/segmentation/lists/{other.id}"),
                 client.post(f"/p/segmentation/lists/{other.id}/delete", {})):
        assert resp.status_code == 404 and CANARY_B not in resp.get_data(as_text=True)
    assert CANARY_B not in client.get("/p/segmentation/lists").get_data(as_text=True)
    assert db.session.get(SegmentationList, other.id) is not None
    with current_app.test_request_context():
        login_user(db.session.get(User, seg.branch_admin1.id))
        with pytest.raises(LookupError):
            services.customers_of_list(other.id, db.session.get(User, seg.branch_admin1.id))


@pytest.mark.parametrize("kind", ["snapshot", "live"])
def test_outlet_user_sees_only_their_scope_of_a_branch_list(client, seg, kind):
    cust(seg.a, name="甲网点无贷户")
    cust(seg.a2, name=f"甲二网点无贷户{CANARY_A2}")
    recompute_as(seg.branch_admin1, seg.b1)
    lst = save_as(seg.branch_admin1, seg.b1, "全行无贷户", kind)
    assert lst.size == 2
    client.login("HA0001")  # outlet A's head
    body = client.get(f"/p/segmentation/lists/{lst.id}").get_data(as_text=True)
    assert "甲网点无贷户" in body and CANARY_A2 not in body
    lists_page = client.get("/p/segmentation/lists").get_data(as_text=True)
    assert re.search(r">2</td>\s*<td[^>]*>1</td>", lists_page)  # saved with 2, 1 of them in this scope
    assert "保存为客户名单" not in client.get("/p/segmentation/").get_data(as_text=True)
    # Viewing is not managing: an outlet head can neither save nor delete a list.
    assert client.post("/p/segmentation/lists", {"name": "x", "segment": "no_loan", "kind": kind}).status_code == 403
    assert client.post(f"/p/segmentation/lists/{lst.id}/delete", {}).status_code == 403


def test_saving_and_deleting_need_the_csrf_token(client, seg):
    cust(seg.a)
    recompute_as(seg.branch_admin1, seg.b1)
    list_id = save_as(seg.branch_admin1, seg.b1, "名单甲", "snapshot").id
    client.login("BA0001")
    for url in ("/p/segmentation/lists", f"/p/segmentation/lists/{list_id}/delete"):
        before = table_snapshot()
        resp = client.post(url, {"name": "名单乙", "segment": "no_loan", "kind": "live"}, csrf=False)
        assert resp.status_code == 400 and "安全校验未通过" in resp.get_data(as_text=True), url
        assert table_snapshot() == before
    assert client.post(f"/p/segmentation/lists/{list_id}/delete", {}).status_code == 302
    db.session.expire_all()
    assert db.session.get(SegmentationList, list_id) is None
    assert db.session.execute(select(func.count()).select_from(SegmentationListMember)).scalar_one() == 0


def test_refusals_are_shown_and_save_nothing(client, seg):
    cust(seg.a)
    client.login("BA0001")
    for data, message in (({"name": "甲", "segment": "no_loan", "kind": "snapshot"}, "请先重算"),):
        client.post("/p/segmentation/lists", data)
        assert message in client.get("/p/segmentation/").get_data(as_text=True)
    recompute_as(seg.branch_admin1, seg.b1)
    save(client, "甲", "live")
    for data, message in (({"name": "甲", "segment": "no_loan", "kind": "live"}, "已有名为“甲”的客户名单"),
                          ({"name": "乙", "segment": "no_loan", "kind": "weekly"}, "请选择名单类型"),
                          ({"name": " ", "segment": "no_loan", "kind": "live"}, "请填写名单名称"),
                          ({"name": "丙", "segment": "custom:999", "kind": "live"}, "请先重算")):
        assert client.post("/p/segmentation/lists", data).status_code == 302
        assert message in client.get("/p/segmentation/").get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(SegmentationList)).scalar_one() == 1


def test_snapshot_creation_is_set_based_statement_count_does_not_grow_with_list_size(app, seg):
    cust(seg.a)
    recompute_as(seg.branch_admin1, seg.b1)
    with StatementCounter() as small:
        first = save_as(seg.branch_admin1, seg.b1, "小名单", "snapshot")
    for i in range(40):
        cust(seg.a if i % 2 else seg.a2)
    recompute_as(seg.branch_admin1, seg.b1)
    with StatementCounter() as large:
        second = save_as(seg.branch_admin1, seg.b1, "大名单", "snapshot")
    assert (first.size, second.size) == (1, 41)
    assert len(large.statements) == len(small.statements)
    inserts = [s for s in large.statements if s.startswith("INSERT INTO segmentation_list_member")]
    assert len(inserts) == 1 and "SELECT" in inserts[0]
    assert db.session.execute(select(func.count()).select_from(SegmentationListMember).where(
        SegmentationListMember.list_id == second.id)).scalar_one() == 41


def test_system_administrator_browses_any_branchs_lists(client, seg, enable_plugin):
    enable_plugin(None, "segmentation")  # the system administrator follows the global row
    cust(seg.b, name=f"乙客户{CANARY_B}")
    recompute_as(seg.branch_admin2, seg.b2)
    other = save_as(seg.branch_admin2, seg.b2, "乙分行名单", "live")
    client.login("ADM001")
    resp = client.get("/p/segmentation/lists")
    assert resp.status_code == 302 and "branch=" in resp.headers["Location"]
    assert "乙分行名单" in client.get(f"/p/segmentation/lists?branch={seg.b2.id}").get_data(as_text=True)
    assert names(client, other) == {f"乙客户{CANARY_B}"}


def test_list_pages_by_keyset_without_repeating_a_customer(client, seg, monkeypatch):
    from plugins.segmentation import views

    monkeypatch.setattr(views, "LIST_PAGE", 2)
    for i in range(5):
        cust(seg.a, name=f"翻页客户{i}")
    recompute_as(seg.branch_admin1, seg.b1)
    lst = save_as(seg.branch_admin1, seg.b1, "翻页名单", "snapshot")
    client.login("BA0001")
    seen: list[str] = []
    url = f"/p/segmentation/lists/{lst.id}"
    while url:
        html = client.get(url, headers={"HX-Request": "true", "HX-Target": "more-list"}).get_data(as_text=True)
        seen += re.findall(r'<a href="/customers/\d+">([^<]+)</a>', html)
        found = re.search(r'hx-get="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [f"翻页客户{i}" for i in range(4, -1, -1)]  # newest first, each once


def _sheet_text(resp) -> str:
    import io
    import zipfile

    book = zipfile.ZipFile(io.BytesIO(resp.get_data()))
    return "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())


def test_export_of_a_list_is_the_viewers_scope_and_audited(client, seg):
    cust(seg.a, name="甲网点无贷户", phone="13812349876")
    cust(seg.a, name="甲网点有贷户", has_loan=True)
    cust(seg.a2, name=f"甲二网点无贷户{CANARY_A2}")
    recompute_as(seg.branch_admin1, seg.b1)
    lst = save_as(seg.branch_admin1, seg.b1, "全行无贷户", "snapshot")
    client.login("HA0001")  # outlet A's head: may export, sees outlet A only
    page = client.get(f"/p/segmentation/lists/{lst.id}").get_data(as_text=True)
    assert f"/p/segmentation/lists/{lst.id}/export.xlsx" in page
    resp = client.get(f"/p/segmentation/lists/{lst.id}/export.xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    text = _sheet_text(resp)
    assert "甲网点无贷户" in text and "甲网点有贷户" not in text and CANARY_A2 not in text
    assert "13812349876" in text  # the outlet head may reveal, so the core export gives full numbers (masked for others)
    [row] = db.session.execute(select(AuditLog).where(AuditLog.action == "customer.exported")).scalars()
    assert row.detail["rows"] == 1 and row.detail["list"] == f"segmentation_list:{lst.id}"
    client.logout()
    client.login("TA0001")  # a teller may not export at all
    assert client.get(f"/p/segmentation/lists/{lst.id}/export.xlsx").status_code in (403, 404)
