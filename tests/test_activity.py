"""Contacts, follow-ups, birthdays and the daily logs (R-35, R-36; worked examples T-13, T-14)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.activity import services
from crm.customers.search import keys
from crm.customers.services import birth_md
from crm.extensions import db
from crm.models import Activity, Customer, DailyLog, DailyLogEntry


def make_customer(outlet, name, maintainer=None, birthday=None) -> Customer:
    c = Customer(outlet_id=outlet.id, kind="personal", name=name, maintainer_id=maintainer.id if maintainer else None,
                 birthday=birthday, birth_md=birth_md(birthday), **keys(name, None, None))
    db.session.add(c)
    db.session.commit()
    return c


def log_2511(**kw) -> DailyLog:
    values = dict(model="2511", contacts=22, effective=5, policies=0, problems="客户资金未到期", log_text="上午厅堂，下午外拓")
    values.update(kw)
    return DailyLog(**values)


def test_t13_2511_compliant_day():
    assert services.compliance(log_2511()).ok is True


def test_t13_2511_boundaries():
    assert services.compliance(log_2511(contacts=20)).ok is True
    short = services.compliance(log_2511(contacts=19))
    assert not short.ok and any("接触客户不足20人" in r for r in short.reasons)
    assert not services.compliance(log_2511(contacts=18)).ok
    assert not services.compliance(log_2511(effective=4)).ok
    nothing = services.compliance(log_2511(policies=0, problems=None))
    assert not nothing.ok and any("未提交保单" in r for r in nothing.reasons)
    assert services.compliance(log_2511(policies=1, problems=None)).ok
    assert not services.compliance(log_2511(log_text="  ")).ok


def entry(name, needs="定期转理财"):
    return DailyLogEntry(customer_name=name, family="已婚，一子", work="教师", needs=needs)


def log_511(entries, **kw) -> DailyLog:
    log = DailyLog(model="511", policies=1, problems=None, on_site=True, peers_results="某行今日期缴2件", **kw)
    log.entries = entries
    return log


def test_t14_511_entry_missing_product_needs_does_not_count():
    five = [entry(f"客户{i}") for i in range(4)] + [entry("客户4", needs="")]
    verdict = services.compliance(log_511(five))
    assert not verdict.ok and any("有效客户不足5人（4" in r for r in verdict.reasons)
    assert services.compliance(log_511([entry(f"客户{i}") for i in range(5)])).ok


def test_t14_511_needs_peers_results_and_a_policy_or_problem_on_site():
    five = [entry(f"客户{i}") for i in range(5)]
    no_peers = log_511(five)
    no_peers.peers_results = ""
    assert any("同业" in r for r in services.compliance(no_peers).reasons)
    no_sale = log_511([entry(f"客户{i}") for i in range(5)])
    no_sale.policies = 0
    assert not services.compliance(no_sale).ok
    no_sale.problems = "客户需与家人商量"
    assert services.compliance(no_sale).ok
    off_site = log_511([entry(f"客户{i}") for i in range(5)])
    off_site.policies, off_site.on_site = 0, False
    assert services.compliance(off_site).ok  # the policy is due on on-site days only


def test_logging_a_contact_moves_last_contact_and_closes_open_follow_ups(client, org):
    c = make_customer(org.a, "张三", maintainer=org.rm_a)
    client.login("RA0001")
    yesterday = (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    resp = client.post(f"/activity/customers/{c.id}", {"kind": "call", "occurred_at": yesterday,
                                                        "summary": "电话回访，客户考虑教育金", "stage": "arouse",
                                                        "next_follow_up": services.today_local().isoformat()},
                       headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "电话回访" in resp.get_data(as_text=True)
    db.session.expire_all()
    first = db.session.get(Customer, c.id).last_contact_at
    assert first is not None
    assert [a.customer.name for a in services.due_follow_ups(org.rm_a)] == ["张三"]
    widget = client.get("/activity/w/reminders").get_data(as_text=True)
    assert "张三" in widget
    # An older contact does not move "last contact" back; a new one closes the open follow-up.
    older = (datetime.now() - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/activity/customers/{c.id}", {"kind": "visit", "occurred_at": older, "summary": "补记上门"})
    db.session.expire_all()
    assert db.session.get(Customer, c.id).last_contact_at == first
    assert services.due_follow_ups(org.rm_a) == []


@pytest.mark.parametrize("field,value,message", [
    ("summary", "", "请填写联系内容"),
    ("occurred_at", "昨天", "请填写联系时间"),
    ("kind", "fax", "请选择联系方式"),
])
def test_contact_validation(client, org, field, value, message):
    c = make_customer(org.a, "李四", maintainer=org.rm_a)
    client.login("RA0001")
    data = {"kind": "call", "occurred_at": datetime.now().strftime("%Y-%m-%dT%H:%M"), "summary": "回访"}
    data[field] = value
    resp = client.post(f"/activity/customers/{c.id}", data, headers={"HX-Request": "true"})
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert db.session.execute(select(Activity)).first() is None


def test_contact_in_the_future_refused(client, org):
    c = make_customer(org.a, "王五", maintainer=org.rm_a)
    client.login("RA0001")
    tomorrow = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    resp = client.post(f"/activity/customers/{c.id}", {"kind": "call", "occurred_at": tomorrow, "summary": "x"},
                       headers={"HX-Request": "true"})
    assert resp.status_code == 422 and "不能晚于现在" in resp.get_data(as_text=True)


def test_contacts_on_out_of_scope_customers_are_404(client, org):
    c = make_customer(org.b, "乙客户CANARYB", maintainer=org.rm_b)
    client.login("RA0001")
    assert client.post(f"/activity/customers/{c.id}", {"kind": "call", "summary": "x"}).status_code == 404
    assert client.get(f"/activity/customers/{c.id}/timeline").status_code == 404


def test_birthdays_of_the_coming_week_in_scope(app, org):
    today = services.today_local()
    make_customer(org.a, "三天后生日", maintainer=org.rm_a, birthday=(today + timedelta(days=3)).replace(year=1985))
    make_customer(org.a, "十天后生日", maintainer=org.rm_a, birthday=(today + timedelta(days=10)).replace(year=1985))
    make_customer(org.a, "别人的客户", maintainer=org.teller_a, birthday=today.replace(year=1990))
    found = services.upcoming_birthdays(org.rm_a)
    assert [(c.name, d) for c, d in found] == [("三天后生日", today + timedelta(days=3))]
    assert {c.name for c, _ in services.upcoming_birthdays(org.head_a)} == {"三天后生日", "别人的客户"}


def test_products_maturing_in_the_next_14_days_remind_their_maintainer(client, org, monkeypatch):
    from decimal import Decimal

    from crm.models import CustomerProduct

    today = date(2026, 12, 2)
    monkeypatch.setattr(services, "today_local", lambda: today)
    mine = make_customer(org.a, "王定期", maintainer=org.rm_a)
    other = make_customer(org.a, "李别人", maintainer=org.teller_a)
    for customer, name, category, days in ((mine, "一年期整存整取", "deposit_time", 14),
                                           (mine, "稳健理财90天", "wealth", 0),
                                           (mine, "三年期整存整取", "deposit_time", 15),  # one day too late
                                           (mine, "上月到期理财", "wealth", -1),  # already past
                                           (mine, "借记卡", "card", 3),  # not a product that matures
                                           (other, "别人的定期", "deposit_time", 3)):
        db.session.add(CustomerProduct(customer_id=customer.id, name=name, category=category,
                                       amount=Decimal("100000"), matures_on=today + timedelta(days=days)))
    db.session.commit()
    found = [(p.name, name) for p, name in services.maturing_products(org.rm_a)]
    assert found == [("稳健理财90天", "王定期"), ("一年期整存整取", "王定期")]
    client.login("RA0001")
    widget = client.get("/activity/w/reminders").get_data(as_text=True)
    assert "稳健理财90天 10.00 万元 · 今天到期" in widget and "一年期整存整取 10.00 万元 · 12-16到期" in widget
    assert "别人的定期" not in widget and "三年期整存整取" not in widget


def test_29_february_birthdays_are_greeted_on_the_28th(app, org, monkeypatch):
    leap = make_customer(org.a, "闰日生日", maintainer=org.rm_a, birthday=date(1988, 2, 29))
    monkeypatch.setattr(services, "today_local", lambda: date(2027, 2, 26))
    assert [(c.id, d) for c, d in services.upcoming_birthdays(org.rm_a)] == [(leap.id, date(2027, 2, 28))]
    monkeypatch.setattr(services, "today_local", lambda: date(2028, 2, 26))  # a leap year: on the day itself
    assert [(c.id, d) for c, d in services.upcoming_birthdays(org.rm_a)] == [(leap.id, date(2028, 2, 29))]


def test_daily_log_page_saves_and_shows_compliance(client, org):
    client.login("RA0001")
    day = services.today_local().isoformat()
    resp = client.post("/activity/logs", {"day": day, "model": "2511", "contacts": "22", "effective": "5",
                                          "policies": "0", "problems": "客户资金未到期", "log_text": "厅堂营销"})
    assert resp.status_code == 302
    page = client.get(f"/activity/logs?day={day}&model=2511").get_data(as_text=True)
    assert "达标" in page and "未达标" not in page.split("近14天")[0]
    client.post("/activity/logs", {"day": day, "model": "2511", "contacts": "18", "effective": "5",
                                   "policies": "1", "log_text": "厅堂营销"})
    page = client.get(f"/activity/logs?day={day}&model=2511").get_data(as_text=True)
    assert "接触客户不足20人（18）" in page
    assert db.session.execute(select(DailyLog)).scalar_one().contacts == 18  # replaced, not duplicated


def test_daily_log_refuses_future_days_and_bad_numbers(client, org):
    client.login("RA0001")
    future = (services.today_local() + timedelta(days=1)).isoformat()
    resp = client.post("/activity/logs", {"day": future, "model": "2511", "contacts": "1"})
    assert resp.status_code == 422 and "未来日期" in resp.get_data(as_text=True)
    resp = client.post("/activity/logs", {"day": services.today_local().isoformat(), "model": "2511",
                                          "contacts": "-3"})
    assert resp.status_code == 422 and "整数" in resp.get_data(as_text=True)
    assert db.session.execute(select(DailyLog)).first() is None


def test_511_log_through_the_page(client, org):
    client.login("RA0001")
    day = services.today_local().isoformat()
    form = {"day": day, "model": "511", "policies": "0", "on_site": "1", "problems": "客户在比较产品",
            "peers_results": "同业今日2件"}
    for i in range(5):
        form.update({f"entry_{i}_name": f"客户{i}", f"entry_{i}_family": "三口之家", f"entry_{i}_work": "个体",
                     f"entry_{i}_needs": "" if i == 4 else "养老"})
    client.post("/activity/logs", form)
    page = client.get(f"/activity/logs?day={day}&model=511").get_data(as_text=True)
    assert "有效客户不足5人（4" in page


def test_compliance_grid_for_the_outlet_head(client, org):
    today = services.today_local()
    db.session.add(DailyLog(user_id=org.rm_a.id, outlet_id=org.a.id, day=today, **{
        k: v for k, v in dict(model="2511", contacts=25, effective=6, policies=1, log_text="ok").items()}))
    db.session.add(DailyLog(user_id=org.rm_b.id, outlet_id=org.b.id, day=today, model="2511", contacts=1,
                            effective=0, policies=0))
    db.session.commit()
    client.login("HA0001")
    page = client.get(f"/activity/compliance?start={today.isoformat()}").get_data(as_text=True)
    assert "甲客户经理" in page and "2511 ✓" in page and "CANARYB" not in page
    client.logout()
    client.login("RA0001")
    assert client.get("/activity/compliance").status_code == 403
