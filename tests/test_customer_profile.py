"""Products held and family members on the 360° page (spec §2.3, S-15): panels, inline add/edit/delete with
validation and lost-update checks, masked numbers with an audited reveal, scope, permissions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.access import scoped
from crm.customers import profile
from crm.customers.search import keys
from crm.extensions import db
from crm.models import AuditLog, Customer, CustomerProduct, FamilyMember
from crm.timeutil import today_local
from tests.conftest import CANARY_B, table_snapshot

HX = {"HX-Request": "true"}


def make_customer(outlet, name: str, *, kind: str = "personal", maintainer=None) -> Customer:
    c = Customer(outlet_id=outlet.id, kind=kind, name=name, maintainer_id=maintainer.id if maintainer else None,
                 **keys(name, None, None))
    db.session.add(c)
    db.session.commit()
    return c


def audits(action: str) -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action)).scalars())


@pytest.fixture
def zhang(org):
    return make_customer(org.a, "张三", maintainer=org.rm_a)


# ---------------------------------------------------------------- products held

def test_products_panel_sums_assets_by_category_and_keeps_loans_apart(client, org, zhang):
    today = today_local()
    db.session.add_all([
        CustomerProduct(customer_id=zhang.id, category="deposit_time", name="三年期整存整取", amount=Decimal("200000.00"),
                        account_no="6228480012345678901", matures_on=today + timedelta(days=30)),
        CustomerProduct(customer_id=zhang.id, category="wealth", name="稳健理财180天", amount=Decimal("50000.50"),
                        matures_on=today + timedelta(days=31)),
        CustomerProduct(customer_id=zhang.id, category="insurance", name="子女教育金保险", amount=Decimal("12000")),
        CustomerProduct(customer_id=zhang.id, category="loan", name="个人住房贷款", amount=Decimal("800000")),
        CustomerProduct(customer_id=zhang.id, category="card", name="儿童专属借记卡"),
    ])
    db.session.commit()
    h = profile.holdings(zhang)
    assert h.assets == Decimal("262000.50")  # deposits + wealth + insurance; the loan and the card are not assets
    assert h.loans == Decimal("800000.00")
    client.login("RA0001")
    body = client.get(f"/customers/{zhang.id}/panel/products").get_data(as_text=True)
    assert "262,000.50 元" in body and "800,000.00 元" in body
    assert "6228" in body and "8901" in body and "6228480012345678901" not in body  # masked account number
    assert "30天后到期" in body  # the 30-day boundary is flagged ...
    assert "31天后到期" not in body  # ... one day later is not
    assert body.index("三年期整存整取") < body.index("稳健理财180天") < body.index("个人住房贷款")  # category order


def test_adding_a_product_validates_parses_wan_and_audits_once(client, org, zhang):
    client.login("RA0001")
    resp = client.post(f"/customers/{zhang.id}/products", {"category": "", "name": "", "amount": "-5",
                                                          "opened_on": "2026-13-01"}, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for message in ("请选择产品类别", "请输入产品名称", "日期格式应为"):
        assert message in body
    assert db.session.execute(select(func.count()).select_from(CustomerProduct)).scalar_one() == 0
    resp = client.post(f"/customers/{zhang.id}/products", {"category": "deposit_time", "name": "一年期定期",
                                                          "amount": "5万", "opened_on": "2026-06-01",
                                                          "matures_on": "2026-05-31"}, headers=HX)
    assert resp.status_code == 422 and "到期日不能早于开立日" in resp.get_data(as_text=True)
    resp = client.post(f"/customers/{zhang.id}/products", {"category": "deposit_time", "name": "一年期定期",
                                                          "amount": "5万", "account_no": "6228 4800 1234 5678",
                                                          "opened_on": "2026-06-01", "matures_on": "2027-06-01"},
                       headers=HX)
    assert resp.status_code == 200 and "一年期定期" in resp.get_data(as_text=True)
    product = db.session.execute(select(CustomerProduct)).scalar_one()
    assert (product.amount, product.account_no, product.matures_on) == (Decimal("50000.00"), "6228480012345678",
                                                                        date(2027, 6, 1))
    [row] = audits("customer.product.added")
    assert row.target_id == str(zhang.id) and row.detail["category"] == "deposit_time"


def test_account_number_must_be_6_to_32_digits_or_letters(client, org, zhang):
    for bad in ("12345", "6228-48$", "1" * 33):
        values, errors = profile.check_product({"category": "card", "name": "借记卡", "account_no": bad})
        assert errors.get("account_no") == "账号/卡号应为6至32位数字或字母", bad
    for good in ("123456", "1" * 32, "nj0012ab"):
        values, errors = profile.check_product({"category": "card", "name": "借记卡", "account_no": good})
        assert not errors and values["account_no"] == good.upper()


def test_editing_keeps_the_hidden_account_number_and_refuses_a_stale_version(client, org, zhang):
    product = CustomerProduct(customer_id=zhang.id, category="fund", name="沪深300指数基金", amount=Decimal("30000"),
                              account_no="FUND00998877")
    db.session.add(product)
    db.session.commit()
    client.login("RA0001")
    form = client.get(f"/customers/{zhang.id}/products/{product.id}/edit").get_data(as_text=True)
    assert "FUND00998877" not in form and "留空则保持原号码" in form
    resp = client.post(f"/customers/{zhang.id}/products/{product.id}",
                       {"category": "fund", "name": "沪深300指数基金", "amount": "35000", "version": "1"}, headers=HX)
    assert resp.status_code == 200
    db.session.expire_all()
    product = db.session.get(CustomerProduct, product.id)
    assert (product.amount, product.account_no, product.version) == (Decimal("35000.00"), "FUND00998877", 2)
    before = table_snapshot()
    resp = client.post(f"/customers/{zhang.id}/products/{product.id}",  # a second tab, read at version 1
                       {"category": "fund", "name": "改名", "amount": "1", "version": "1"}, headers=HX)
    assert resp.status_code == 409
    assert "该记录已被他人修改或删除" in resp.headers.get("HX-Trigger", "").encode().decode("unicode_escape")
    after = table_snapshot()
    assert before["customer_product"] == after["customer_product"]


def test_deleting_a_product_is_audited_and_a_stale_delete_is_refused(client, org, zhang):
    product = CustomerProduct(customer_id=zhang.id, category="fx", name="美元现汇", amount=Decimal("1000"))
    db.session.add(product)
    db.session.commit()
    product_id = product.id
    client.login("RA0001")
    assert client.post(f"/customers/{zhang.id}/products/{product_id}/delete", {"version": "0"},
                       headers=HX).status_code == 409
    assert db.session.get(CustomerProduct, product_id) is not None
    resp = client.post(f"/customers/{zhang.id}/products/{product_id}/delete", {"version": "1"}, headers=HX)
    assert resp.status_code == 200 and "尚未登记持有产品" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.execute(select(CustomerProduct).where(CustomerProduct.id == product_id)).first() is None
    assert len(audits("customer.product.removed")) == 1


# ---------------------------------------------------------------- family members

def test_age_counts_whole_years_at_the_birthday_boundary():
    m = FamilyMember(relation="child", name="小明", birthday=date(2016, 12, 1))
    assert m.age_on(date(2026, 11, 30)) == 9  # the day before the 10th birthday
    assert m.age_on(date(2026, 12, 1)) == 10  # on the day
    leap = FamilyMember(relation="child", name="小闰", birthday=date(2016, 2, 29))
    assert leap.age_on(date(2025, 2, 28)) == 8 and leap.age_on(date(2025, 3, 1)) == 9
    assert FamilyMember(relation="spouse", name="无生日").age_on(date(2026, 1, 1)) is None


def test_family_members_with_age_grade_and_masked_mobile(client, org, zhang):
    today = today_local()
    nine = date(today.year - 9, 1, 1)  # 9 all year round
    client.login("RA0001")
    resp = client.post(f"/customers/{zhang.id}/family", {"relation": "child", "name": "张小宝", "gender": "男",
                                                        "birthday": nine.isoformat(), "school_grade": "p3",
                                                        "school": "实验小学"}, headers=HX)
    assert resp.status_code == 200
    resp = client.post(f"/customers/{zhang.id}/family", {"relation": "spouse", "name": "李梅", "phone": "13698765432",
                                                        "occupation": "市一中教师", "risk_preference": "prudent"},
                       headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "张小宝" in body and "9岁" in body and "小学三年级 · 实验小学" in body
    assert "136****5432" in body and "13698765432" not in body
    assert "稳健型" in body and "市一中教师" in body
    assert body.index("李梅") < body.index("张小宝")  # spouse first, then children
    assert "其中子女/孙辈 1 位" in body
    assert len(audits("customer.family.added")) == 2


@pytest.mark.parametrize("values, field, message", [
    ({"relation": "", "name": "甲"}, "relation", "请选择与客户的关系"),
    ({"relation": "child", "name": ""}, "name", "请输入姓名"),
    ({"relation": "child", "name": "甲", "birthday": "2999-01-01"}, "birthday", "出生日期不能晚于今天"),
    ({"relation": "child", "name": "甲", "birthday": "1899-12-31"}, "birthday", "也不能早于1900年"),
    ({"relation": "spouse", "name": "甲", "school_grade": "p1"}, "school_grade", "只有子女或孙辈可以填写年级"),
    ({"relation": "child", "name": "甲", "school_grade": "p9"}, "school_grade", "选项无效"),
    ({"relation": "parent", "name": "甲", "phone": "0371-6588888"}, "phone", "手机"),
    ({"relation": "parent", "name": "甲" * 51}, "name", "不能超过50个字"),
])
def test_family_member_errors_are_shown_in_chinese_and_nothing_is_saved(client, org, zhang, values, field, message):
    client.login("RA0001")
    resp = client.post(f"/customers/{zhang.id}/family", values, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in body
    assert 'id="pf-family-' + field in body  # the form stays open with what was typed
    assert db.session.execute(select(func.count()).select_from(FamilyMember)).scalar_one() == 0


def test_birthday_today_is_accepted_and_tomorrow_is_not(org, zhang):
    today = date(2026, 12, 2)
    _v, errors = profile.check_member({"relation": "child", "name": "新生儿", "birthday": "2026-12-02"}, today=today)
    assert not errors
    _v, errors = profile.check_member({"relation": "child", "name": "新生儿", "birthday": "2026-12-03"}, today=today)
    assert "birthday" in errors


def test_corporate_customers_have_no_family_panel(client, org):
    company = make_customer(org.a, "郑州某某商贸有限公司", kind="corporate", maintainer=org.rm_a)
    client.login("RA0001")
    page = client.get(f"/customers/{company.id}").get_data(as_text=True)
    assert "持有产品" in page and "家庭成员" not in page
    resp = client.post(f"/customers/{company.id}/family", {"relation": "spouse", "name": "甲"}, headers=HX)
    assert resp.status_code == 422 and "对公客户不登记家庭成员" in resp.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(FamilyMember)).scalar_one() == 0


def test_reveal_of_a_family_mobile_is_audited_and_only_for_allowed_posts(client, org, zhang):
    member = FamilyMember(customer_id=zhang.id, relation="spouse", name="李梅", phone="13698765432")
    zhang.maintainer_id = org.teller_a.id  # the teller maintains it, so it is in her scope too
    db.session.add(member)
    db.session.commit()
    client.login("TA0001")  # 低柜柜员: may view, may not reveal
    body = client.get(f"/customers/{zhang.id}/panel/family").get_data(as_text=True)
    assert "136****5432" in body and "13698765432" not in body and "profile_reveal" not in body
    assert f"/family/{member.id}/reveal" not in body
    assert client.post(f"/customers/{zhang.id}/family/{member.id}/reveal").status_code == 403
    assert audits("customer.family.revealed") == []
    client.logout()
    client.login("HA0001")
    resp = client.post(f"/customers/{zhang.id}/family/{member.id}/reveal", headers=HX)
    assert resp.status_code == 200 and "13698765432" in resp.get_data(as_text=True)
    [row] = audits("customer.family.revealed")
    assert row.detail == {"member_id": member.id, "field": "phone"}


def test_posts_that_may_not_edit_see_the_panels_without_buttons_and_cannot_write(client, org, zhang):
    zhang.maintainer_id = org.teller_a.id
    db.session.add(CustomerProduct(customer_id=zhang.id, category="card", name="借记卡"))
    db.session.commit()
    client.login("TA0001")
    body = client.get(f"/customers/{zhang.id}/panel/products").get_data(as_text=True)
    assert "借记卡" in body and "添加产品" not in body and "bi-trash" not in body
    before = table_snapshot()
    assert client.post(f"/customers/{zhang.id}/products", {"category": "card", "name": "信用卡"},
                       headers=HX).status_code == 403
    assert client.get(f"/customers/{zhang.id}/products/new").status_code == 403
    after = table_snapshot()
    for table in ("audit_log", "user_session"):
        before.pop(table), after.pop(table)
    assert before == after


# ---------------------------------------------------------------- scope

@pytest.fixture
def b_rows(org):
    customer_b = make_customer(org.b, f"乙客户{CANARY_B}", maintainer=org.rm_b)
    product = CustomerProduct(customer_id=customer_b.id, category="wealth", name=f"乙理财{CANARY_B}",
                              account_no="6222000011112222")
    member = FamilyMember(customer_id=customer_b.id, relation="child", name=f"乙孩子{CANARY_B}", phone="13700001111")
    db.session.add_all([product, member])
    db.session.commit()
    return customer_b, product, member


def test_other_outlets_rows_answer_404_and_stay_unchanged(client, org, zhang, b_rows):
    customer_b, product, member = b_rows
    client.login("HA0001")
    before = table_snapshot()
    urls = [("get", f"/customers/{customer_b.id}/panel/products"), ("get", f"/customers/{customer_b.id}/panel/family"),
            ("get", f"/customers/{customer_b.id}/family/new"),
            ("get", f"/customers/{customer_b.id}/products/{product.id}/edit"),
            ("post", f"/customers/{customer_b.id}/products/{product.id}/delete"),
            ("post", f"/customers/{customer_b.id}/family/{member.id}/reveal"),
            # an own customer's URL with the other side's row id
            ("get", f"/customers/{zhang.id}/products/{product.id}/edit"),
            ("post", f"/customers/{zhang.id}/products/{product.id}"),
            ("post", f"/customers/{zhang.id}/family/{member.id}/delete"),
            ("post", f"/customers/{zhang.id}/family/{member.id}/reveal")]
    for method, url in urls:
        resp = client.get(url) if method == "get" else client.post(url, {"version": "1", "name": "x",
                                                                          "relation": "child", "category": "card"})
        assert resp.status_code == 404, url
        assert CANARY_B not in resp.get_data(as_text=True)
    after = table_snapshot()
    for table in ("audit_log", "user_session"):
        before.pop(table), after.pop(table)
    assert before == after


def test_scoped_family_and_products_follow_the_customers_scope(app, org, zhang, b_rows):
    _customer_b, product_b, member_b = b_rows
    mine = FamilyMember(customer_id=zhang.id, relation="child", name="张小宝")
    db.session.add(mine)
    db.session.commit()
    names = set(db.session.execute(scoped(FamilyMember, org.head_a).with_only_columns(FamilyMember.name)).scalars())
    assert names == {"张小宝"}
    assert db.session.execute(scoped(CustomerProduct, org.head_a)).scalars().all() == []
    assert {m.id for m in db.session.execute(scoped(FamilyMember, org.head_b)).scalars()} == {member_b.id}
    assert {p.id for p in db.session.execute(scoped(CustomerProduct, org.admin)).scalars()} == {product_b.id}


def test_the_360_page_puts_products_and_family_in_the_main_column(client, org, zhang):
    client.login("RA0001")
    page = client.get(f"/customers/{zhang.id}").get_data(as_text=True)
    main, side = page.split('<div class="col-lg-4">', 1)
    assert 'data-panel="core.products"' in main and 'data-panel="core.family"' in main
    assert 'data-panel="core.activity"' in side and 'data-panel="core.maintenance"' in side
