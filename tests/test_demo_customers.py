"""`crm demo --customers N`: valid, unique, searchable and realistic demo customers (crm.demo_customers)."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.customers.search import keys
from crm.demo import DemoRefused, seed_demo
from crm.demo_customers import _Generator, id_check_char, seed_customers, tier_for, uscc_check_char
from crm.extensions import db
from crm.models import Customer, Outlet, User
from crm.validators import validate_cn_mobile, validate_id_card, validate_uscc
from tests.conftest import PG_URL, base_config

N = 2000


def quiet(_line: str) -> None:
    pass


@pytest.fixture
def customers(app) -> list[Customer]:
    seed_demo(5)
    assert seed_customers(N, 7, quiet) == N
    db.session.expire_all()
    return db.session.execute(select(Customer).order_by(Customer.id)).scalars().all()


def test_count_kinds_statuses_and_outlets(customers):
    assert len(customers) == N
    kinds = [c.kind for c in customers]
    statuses = [c.status for c in customers]
    assert 0.78 < kinds.count("personal") / N < 0.92
    assert 0.72 < statuses.count("stock") / N < 0.88
    assert {(c.kind, c.status) for c in customers} == {(k, s) for k in ("personal", "corporate")
                                                          for s in ("stock", "target")}
    outlets = set(db.session.execute(select(Outlet.id)).scalars())
    assert {c.outlet_id for c in customers} == outlets  # every outlet has customers
    for c in customers:
        assert c.version == 1 and c.created_at and c.updated_at >= c.created_at


def test_certificates_are_valid_and_unique(customers):
    personal = [c for c in customers if c.kind == "personal"]
    corporate = [c for c in customers if c.kind == "corporate"]
    assert 0.85 < sum(c.cert_no is not None for c in personal) / len(personal) < 0.95
    assert 0.80 < sum(c.cert_no is not None for c in corporate) / len(corporate) < 0.98
    certs = [c.cert_no for c in customers if c.cert_no]
    assert len(certs) == len(set(certs))
    for c in personal:
        if c.cert_no:
            card = validate_id_card(c.cert_no)
            assert not card.warnings  # real county codes
            assert (c.birthday, c.gender) == (card.birth_date, card.gender)
            if hasattr(c, "birth_md"):  # derived key of the birthday, where the schema has it
                assert c.birth_md == c.birthday.month * 100 + c.birthday.day
            assert 18 <= (date.today() - card.birth_date).days // 365 <= 90
    for c in corporate:
        if c.cert_no:
            assert validate_uscc(c.cert_no) == c.cert_no


def test_phones_are_valid_mobiles(customers):
    phones = [c.phone for c in customers if c.phone]
    assert 0.9 < len(phones) / N < 0.99
    for phone in phones:
        assert validate_cn_mobile(phone) == phone


def test_search_keys_equal_keys(customers):
    for c in customers:
        assert keys(c.name, c.phone, c.cert_no) == {
            "name_pinyin": c.name_pinyin, "name_initials": c.name_initials, "phone_rev": c.phone_rev,
            "cert_rev": c.cert_rev}, c.name


def test_search_keys_on_a_larger_sample_of_names():
    """The fast pinyin (cut once, each phrase read once) on 30,000 generated names, without the database."""
    gen = _Generator(random.Random(3), [(1, "urban", "4101"), (2, "township", "4103")], {}, set(), 0)
    rows = gen.rows(30_000)
    names = {r["name"]: (r["name_pinyin"], r["name_initials"]) for r in rows}
    assert len(names) > 10_000
    for name, (full, initials) in names.items():
        expected = keys(name, None, None)
        assert (full, initials) == (expected["name_pinyin"], expected["name_initials"]), name


def test_tier_boundary():
    """S-12 / T-52: 49,999 → T0, 50,000 → T1."""
    assert tier_for(49_999_00) == "T0"
    assert tier_for(49_999_99) == "T0"
    assert tier_for(50_000_00) == "T1"
    assert tier_for(0) == "T0"


def test_tiers_balances_and_loans(customers):
    for c in customers:
        assert isinstance(c.deposit_balance, Decimal) and c.deposit_balance >= 0
        assert c.deposit_balance == c.deposit_balance.quantize(Decimal("0.01"))
        assert c.tier == ("T1" if c.deposit_balance >= Decimal("50000") else "T0"), c.deposit_balance
        assert c.has_loan == (c.loan_balance > 0)
    balances = sorted(c.deposit_balance for c in customers)
    assert {c.tier for c in customers} == {"T0", "T1"}
    assert 0.05 < sum(b == 0 for b in balances) / N < 0.16
    assert Decimal("5000") < balances[N // 2] < Decimal("60000")  # median
    assert balances[-1] > Decimal("1000000")  # a long tail: some millions
    assert 0.005 < sum(c.vip for c in customers) / N < 0.05
    corporate = [c for c in customers if c.kind == "corporate"]
    personal = [c for c in customers if c.kind == "personal"]
    assert 0.15 < sum(c.has_loan for c in corporate) / len(corporate) < 0.35
    assert 0.04 < sum(c.has_loan for c in personal) / len(personal) < 0.12
    assert all(c.industry and c.legal_rep and c.eco_module and c.registered_on for c in corporate)
    assert all(c.birthday is None and c.family_info is None for c in corporate)
    assert any(c.family_info for c in personal) and any(c.product_needs for c in personal)
    assert any(c.risk_preference for c in personal)
    contacted = sum(c.last_contact_at is not None for c in customers) / N
    assert 0.5 < contacted < 0.7


def test_maintainers_belong_to_the_outlet(customers):
    staff = {u.id: u for u in db.session.execute(select(User)).scalars()}
    assigned = [c for c in customers if c.maintainer_id]
    assert 0.6 < len(assigned) / N < 0.8
    for c in assigned:
        user = staff[c.maintainer_id]
        assert user.outlet_id == c.outlet_id and user.active
        if c.kind == "corporate":
            assert user.post in ("corporate_rm", "outlet_head")
        else:
            assert user.post not in ("corporate_rm", "outlet_head")
    posts = {staff[c.maintainer_id].post for c in assigned if c.kind == "personal"}
    assert {"personal_rm", "wealth_manager", "lobby_manager", "low_counter_teller"} <= posts


def test_existing_customers_refuse_unless_append(customers):
    with pytest.raises(DemoRefused):
        seed_customers(10, 7, quiet)
    assert seed_customers(300, 7, quiet, append=True) == 300
    count, distinct = db.session.execute(
        select(func.count(), func.count(Customer.cert_no.distinct())).select_from(Customer)).one()
    assert count == N + 300
    assert distinct == db.session.execute(
        select(func.count()).select_from(Customer).where(Customer.cert_no.is_not(None))).scalar_one()
    # the indexes are all still there (none are dropped when appending; all rebuilt after a first load)
    names = {ix["name"] for ix in db.inspect(db.engine).get_indexes("customer")}
    assert {ix.name for ix in Customer.__table__.indexes} <= names


def test_numbers_already_stored_are_skipped():
    outlets = [(1, "urban", "4101")]
    first = _Generator(random.Random(1), outlets, {}, set(), 0)
    card = first.id_card(1, "女", date(1985, 6, 1).toordinal())
    code = first.uscc(1)
    again = _Generator(random.Random(1), outlets, {}, {card, code}, 0)
    card2 = again.id_card(1, "女", date(1985, 6, 1).toordinal())
    code2 = again.uscc(1)
    assert card2 != card and code2 != code
    assert validate_id_card(card2).birth_date == date(1985, 6, 1) and validate_id_card(card2).gender == "女"
    assert validate_uscc(code2) == code2


def test_check_characters_match_stdnum():
    from stdnum.cn import ric, uscc

    rng = random.Random(9)
    for _ in range(500):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        assert id_check_char(body) == ric.calc_check_digit(body + "0")
        code = "91" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(15))
        assert uscc_check_char(code) == uscc.calc_check_digit(code)


@pytest.mark.skipif(bool(PG_URL), reason="needs an empty database for the migrations; SQLite only")
def test_cli_demo_customers(tmp_path):
    from crm import create_app

    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path / 'demo.sqlite3'}"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--seed", "3", "--customers", "500"])
    assert result.exit_code == 0, result.output
    assert "已生成 500 个演示客户" in result.output
    again = runner.invoke(args=["demo", "--seed", "3", "--customers", "10"])
    assert again.exit_code == 1 and "--append" in again.output
    more = runner.invoke(args=["demo", "--seed", "3", "--customers", "10", "--append"])
    assert more.exit_code == 0, more.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Customer)).scalar_one() == 510
        db.engine.dispose()


def test_products_add_up_to_the_balances(customers):
    from crm.models import CustomerProduct

    sums: dict[tuple[int, str], Decimal] = {}
    for cid, category, amount in db.session.execute(
            select(CustomerProduct.customer_id, CustomerProduct.category, CustomerProduct.amount)):
        key = (cid, "deposit" if category.startswith("deposit") else category)
        sums[key] = sums.get(key, Decimal(0)) + (amount or 0)
    with_products = {cid for cid, _ in sums}
    assert len(with_products) > N * 0.8
    for c in customers:
        assert sums.get((c.id, "deposit"), Decimal(0)) == c.deposit_balance, c.id
        assert sums.get((c.id, "loan"), Decimal(0)) == (c.loan_balance if c.has_loan else 0), c.id
        if c.kind == "personal" and c.aum is not None and c.aum > c.deposit_balance:
            assets = sum(sums.get((c.id, k), Decimal(0)) for k in ("deposit", "wealth", "fund", "insurance"))
            assert assets == c.aum, c.id
    # Time deposits and wealth products have maturities; some fall in the coming month (a reason to call).
    soon = db.session.execute(select(func.count()).select_from(CustomerProduct).where(
        CustomerProduct.matures_on.between(date.today(), date.fromordinal(date.today().toordinal() + 30)))).scalar_one()
    assert soon > 0


def test_family_members_match_the_family_text_and_ages(customers):
    from crm.models import FamilyMember

    by_customer: dict[int, list[FamilyMember]] = {}
    for m in db.session.execute(select(FamilyMember)).scalars():
        by_customer.setdefault(m.customer_id, []).append(m)
    assert len(by_customer) > N * 0.15
    today = date.today()
    customers_by_id = {c.id: c for c in customers}
    for cid, members in by_customer.items():
        c = customers_by_id[cid]
        assert c.kind == "personal" and c.family_info
        assert ("已婚" in c.family_info) == any(m.relation == "spouse" for m in members), c.family_info
        for kid in (m for m in members if m.relation == "child"):
            age = kid.age_on(today)
            assert f"{age}岁" in c.family_info or f"{age - 1}岁" in c.family_info or f"{age + 1}岁" in c.family_info
            assert kid.birthday <= today
            if 6 <= age <= 11:
                assert kid.school_grade.startswith("p"), (age, kid.school_grade)


def test_contacts_are_logged_by_the_maintainer_at_the_last_contact(customers):
    from crm.models import Activity

    acts = db.session.execute(select(Activity)).scalars().all()
    assert len(acts) > N * 0.2
    by_id = {c.id: c for c in customers}
    for a in acts:
        c = by_id[a.customer_id]
        assert a.user_id == c.maintainer_id and a.occurred_at == c.last_contact_at
    assert any(a.next_follow_up for a in acts)  # reminders on the dashboard


def test_serve_demo_seeds_customers_once(app):
    from crm.demo_customers import ensure_demo_customers

    seed_demo(5)
    assert ensure_demo_customers(300, 9, quiet) is True
    assert ensure_demo_customers(300, 9, quiet) is False
    assert db.session.execute(select(func.count()).select_from(Customer)).scalar_one() == 300
    # Explicit ids: a customer created afterwards gets the next id (the sequence moved on, on PostgreSQL too).
    c = Customer(outlet_id=db.session.execute(select(Outlet.id)).scalars().first(), kind="personal", name="新客户",
                 **keys("新客户", None, None))
    db.session.add(c)
    db.session.commit()
    assert c.id == 301
