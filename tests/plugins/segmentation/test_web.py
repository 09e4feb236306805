"""Segmentation in the browser: editors (422 in Chinese), recompute with history and audit, the panel, the widget,
scope, CSRF, and a plugin switched off for a 分行."""

from __future__ import annotations

import re

from flask import url_for
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog, Customer
from plugins.segmentation.models import SegmentationRun, SegmentationTier, SegmentationTierChange
from tests.conftest import CANARY_B, table_snapshot
from tests.plugins.segmentation.conftest import StatementCounter, born, cust, post_recompute, recompute_as

LADDER = {"basis": "deposit", "code": ["T2", "T1", "T0", ""], "name": ["贵宾", "潜力", "大众", ""],
          "min_amount": ["200000", "50000", "", ""]}


def page(client, path="/p/segmentation/"):
    resp = client.get(path)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def test_branch_admin_edits_ladder_recomputes_and_sees_counts_and_history(client, seg):
    c = cust(seg.a, deposit=60000)
    rich = cust(seg.a2, deposit=250000)
    recompute_as(seg.branch_admin1, seg.b1)  # default ladder: both T1
    client.login("BA0001")
    assert client.post("/p/segmentation/ladder", LADDER).status_code == 302
    assert [t.code for t in db.session.execute(select(SegmentationTier).where(
        SegmentationTier.branch_id == seg.b1.id).order_by(SegmentationTier.position)).scalars()] == ["T2", "T1", "T0"]
    assert post_recompute(client)["state"] == "done"
    assert db.session.get(Customer, rich.id).tier == "T2" and db.session.get(Customer, c.id).tier == "T1"
    run = db.session.execute(select(SegmentationRun).order_by(SegmentationRun.id.desc())).scalars().first()
    assert run.tiers_before == {"T1": 2} and run.tiers_after == {"T1": 1, "T2": 1} and run.changed == 1
    history = db.session.execute(select(SegmentationTierChange).where(
        SegmentationTierChange.run_id == run.id)).scalars().all()
    assert [(h.customer_id, h.old_tier, h.new_tier) for h in history] == [(rich.id, "T1", "T2")]
    audits = db.session.execute(select(AuditLog).where(AuditLog.action == "segmentation.recomputed")).scalars().all()
    assert len(audits) == 2 and audits[-1].actor_id == seg.branch_admin1.id and audits[-1].detail["changed"] == 1
    body = page(client)
    assert "T1：2 → 1" in body and "T2：0 → 1" in body and "分管一" in body
    # The panel on the customer's page shows the tier and its history.
    panel = client.get(f"/p/segmentation/panel/{rich.id}").get_data(as_text=True)
    assert "T2" in panel and "T1 → <strong>T2</strong>" in panel and "无贷户" in panel


def test_recompute_twice_records_no_new_history(app, seg):
    cust(seg.a, deposit=10)
    first = recompute_as(seg.branch_admin1, seg.b1)
    second = recompute_as(seg.branch_admin1, seg.b1)
    assert (first.changed, second.changed) == (1, 0)
    assert second.segments_before == second.segments_after and second.segments_after["no_loan"] == 1


def test_recompute_is_set_based_statement_count_does_not_grow_with_customers(app, seg):
    cust(seg.a, deposit=1)
    recompute_as(seg.branch_admin1, seg.b1)
    with StatementCounter() as small:
        recompute_as(seg.branch_admin1, seg.b1)
    for i in range(40):
        cust(seg.a if i % 2 else seg.a2, deposit=i * 5000, birthday=born(1970 + i), retired=i % 3 == 0,
             aum=i * 30000, has_loan=i % 4 == 0)
    with StatementCounter() as large:
        run = recompute_as(seg.branch_admin1, seg.b1)
    assert run.changed > 10  # plenty of rows moved…
    assert len(large.statements) == len(small.statements)  # …with the same statements
    text = " ".join(large.statements)
    assert "UPDATE customer SET" in text and "CASE WHEN" in text
    # Every customer's segments in ONE statement (a bit per segment: 14 built-in ones), not one INSERT per segment,
    # with the primary personal segment as one more CASE (S-03 > S-04 > S-02 > S-01 > S-05) in the same scan.
    tags = [s for s in large.statements if s.startswith("INSERT INTO segmentation_tag")]
    assert len(tags) == 1 and tags[0].count("CASE WHEN") == 14 + 1 and "ON CONFLICT" in tags[0]
    assert "primary_segment" in tags[0]
    assert not any(re.match(r"\s*SELECT customer\.id, customer\.outlet_id", s) for s in large.statements)


def test_branch_isolation_of_thresholds(client, new_client, seg):
    a, b = cust(seg.a, deposit=60000), cust(seg.b, deposit=60000)
    client.login("BA0001")
    client.post("/p/segmentation/ladder", {"basis": "deposit", "code": ["T1", "T0"], "name": ["", ""],
                                           "min_amount": ["100000", ""]})
    post_recompute(client)
    assert db.session.get(Customer, a.id).tier == "T0"
    assert db.session.get(Customer, b.id).tier is None  # B1's recompute never touches B2
    other = new_client()
    other.login("BA0002")
    post_recompute(other)
    assert db.session.get(Customer, b.id).tier == "T1" and db.session.get(Customer, a.id).tier == "T0"
    assert "100,000.00" not in page(other)


def test_ladder_errors_are_422_in_chinese_and_change_nothing(client, seg):
    client.login("BA0001")
    for form, message in (
        ({**LADDER, "code": ["T2", "T2", "T0", ""]}, "层级代码“T2”重复"),
        ({**LADDER, "min_amount": ["50000", "200000", "", ""]}, "严格递减"),
        ({**LADDER, "min_amount": ["二十万", "50000", "", ""]}, "不是有效的金额"),
        ({**LADDER, "basis": "salary"}, "未知的分层依据"),
    ):
        before = table_snapshot()
        resp = client.post("/p/segmentation/ladder", form)
        assert resp.status_code == 422 and message in resp.get_data(as_text=True)
        assert table_snapshot() == before


def test_params_and_custom_rule_forms(client, seg):
    client.login("BA0001")
    resp = client.post("/p/segmentation/params", {"affluent_aum": "abc"})
    assert resp.status_code == 422 and "不是有效的金额" in resp.get_data(as_text=True)
    resp = client.post("/p/segmentation/rules", {"name": "试", "join": "and", "field": ["salary"], "op": ["eq"],
                                                 "value": ["1"]})
    assert resp.status_code == 422 and "不支持的字段“salary”" in resp.get_data(as_text=True)
    resp = client.post("/p/segmentation/rules", {"name": "试", "join": "and", "field": ["aum"], "op": ["like"],
                                                 "value": ["1"]})
    assert resp.status_code == 422 and "不支持运算" in resp.get_data(as_text=True)
    cust(seg.a, deposit=300000, vip=True)
    resp = client.post("/p/segmentation/rules", {"name": "高存款VIP", "join": "and", "field": ["deposit_balance", "vip"],
                                                 "op": ["ge", "eq"], "value": ["300000", "是"]})
    assert resp.status_code == 302
    post_recompute(client)
    body = page(client)
    assert "高存款VIP" in body and "高存款VIP：0 → 1" in body
    assert "data-seg-condition" in client.get("/p/segmentation/rules/condition").get_data(as_text=True)


def test_outlet_head_sees_the_page_but_cannot_change_or_recompute(client, seg):
    client.login("HA0001")
    body = page(client)
    assert "分层阶梯" in body and "/p/segmentation/recompute" not in body and "/p/segmentation/ladder" not in body
    for url in ("/p/segmentation/ladder", "/p/segmentation/recompute", "/p/segmentation/rules"):
        assert client.post(url, LADDER).status_code == 403


def test_system_admin_picks_a_branch(client, seg, enable_plugin):
    enable_plugin(None, "segmentation")  # the system administrator follows the global row
    client.login("ADM001")
    resp = client.get("/p/segmentation/")
    assert resp.status_code == 302 and "branch=" in resp.headers["Location"]
    cust(seg.b, deposit=70000)
    assert post_recompute(client, {"branch": str(seg.b2.id)})["state"] == "done"
    assert db.session.execute(select(Customer.tier)).scalar_one() == "T1"
    assert client.get("/p/segmentation/?branch=999").status_code == 404


def test_widget_counts_only_the_users_scope(client, new_client, seg):
    for deposit in (10, 20, 60000):
        cust(seg.a, deposit=deposit)
    for deposit in (70000, 80000, 90000, 100000):
        cust(seg.a2, deposit=deposit)
    cust(seg.b, deposit=1, name=f"客户{CANARY_B}")
    recompute_as(seg.branch_admin1, seg.b1)
    client.login("HA0001")
    html = client.get("/p/segmentation/widget").get_data(as_text=True)
    assert "&#34;T1&#34;, &#34;value&#34;: 1" in html and "&#34;T0&#34;, &#34;value&#34;: 2" in html
    assert "无贷户&#34;, &#34;value&#34;: 3" in html  # outlet A only: 3 customers, not 7
    assert "segmentation.js" in html
    branch = new_client()
    branch.login("BA0001")
    assert "&#34;T1&#34;, &#34;value&#34;: 5" in branch.get("/p/segmentation/widget").get_data(as_text=True)
    dash = client.get("/").get_data(as_text=True)
    assert 'data-widget="segmentation.pyramid"' in dash


def test_panel_of_another_branchs_customer_is_404(client, seg):
    other = cust(seg.b, deposit=1, name=f"乙{CANARY_B}")
    recompute_as(seg.branch_admin2, seg.b2)
    client.login("HA0001")
    resp = client.get(f"/p/segmentation/panel/{other.id}")
    assert resp.status_code == 404 and CANARY_B not in resp.get_data(as_text=True)


def test_disabled_for_a_branch_leaves_no_trace_and_customers_still_work(client, seg, enable_plugin):
    c = cust(seg.a, deposit=1)
    enable_plugin(seg.b1, "segmentation", on=False)
    client.login("BA0001")
    app = client.app
    info = app.extensions["crm"].plugins["segmentation"]
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in info.blueprints:
            continue
        with app.test_request_context():
            url = url_for(rule.endpoint, **{a: (c.id if a == "customer_id" else "x.js" if a == "filename" else 1)
                                             for a in rule.arguments})
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            resp = client.get(url) if method == "GET" else client.post(url, {})
            assert resp.status_code == 404, (method, url)
    dash = client.get("/").get_data(as_text=True)
    assert "segmentation" not in dash and "客户分层" not in dash
    detail = client.get(f"/customers/{c.id}").get_data(as_text=True)
    assert "segmentation" not in detail and "分层与分群" not in detail
    assert client.get("/customers").status_code == 200
    # Switched on again: menu, panel and widget come back without a restart.
    enable_plugin(seg.b1, "segmentation")
    assert "/p/segmentation/" in client.get("/").get_data(as_text=True)
    assert "分层与分群" in client.get(f"/customers/{c.id}").get_data(as_text=True)


def test_every_post_needs_the_csrf_token(client, seg):
    rule_url = "/p/segmentation/rules/1/delete"
    client.login("BA0001")
    client.post("/p/segmentation/rules", {"name": "甲", "join": "and", "field": ["vip"], "op": ["eq"], "value": ["是"]})
    for url in ("/p/segmentation/ladder", "/p/segmentation/params", "/p/segmentation/rules",
                "/p/segmentation/recompute", rule_url):
        before = table_snapshot()
        resp = client.post(url, LADDER, csrf=False)
        assert resp.status_code == 400 and "安全校验未通过" in resp.get_data(as_text=True), url
        assert table_snapshot() == before
    assert client.post(rule_url, {}).status_code == 302  # with the token it works
    assert db.session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "segmentation.rule_deleted")).scalar_one() == 1
