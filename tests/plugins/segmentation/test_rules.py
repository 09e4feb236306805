"""Segment rules and the tier ladder: worked examples and boundaries (S-01–S-06, S-08, S-12; T-50–T-52),
evaluated in the database by a real recompute."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from crm.extensions import db
from crm.models import Customer
from plugins.segmentation import rules, services
from plugins.segmentation.rules import RuleError, Tier
from tests.plugins.segmentation.conftest import born, cust, recompute_as


def tier_of(c) -> str | None:
    return db.session.execute(select(Customer.tier).where(Customer.id == c.id)).scalar_one()


def members(c) -> set[str]:
    """The segments whose `bits & 2^bit != 0` membership query (what lists use) finds the customer in."""
    branch_id = db.session.get(Customer, c.id).outlet.root_branch_id
    return {key for key in services.slots(branch_id) if db.session.execute(
        select(Customer.id).where(Customer.id == c.id, services.in_segment(branch_id, key))).first()}


def test_t52_default_ladder_49999_is_t0_and_50000_is_t1(app, seg):
    below, exact, cents_below = cust(seg.a, deposit=49999), cust(seg.a, deposit=50000), cust(seg.a, deposit="49999.99")
    above = cust(seg.a2, deposit=1_000_000)
    recompute_as(seg.branch_admin1, seg.b1)
    assert (tier_of(below), tier_of(exact), tier_of(cents_below), tier_of(above)) == ("T0", "T1", "T0", "T1")


def test_three_rung_ladder_on_aum_puts_missing_aum_at_the_bottom(app, seg):
    with app.test_request_context():
        services.save_ladder(seg.branch_admin1, seg.b1.id, [("T2", "贵宾", "1000000"), ("T1", "", "50000"),
                                                            ("T0", "大众", "")], "aum")
    rich, exact, mid, no_aum = (cust(seg.a, deposit=0, aum=1_000_000), cust(seg.a, aum="999999.99"),
                                cust(seg.a, aum=50000), cust(seg.a, deposit=9_000_000, aum=None))
    recompute_as(seg.branch_admin1, seg.b1)
    assert [tier_of(c) for c in (rich, exact, mid, no_aum)] == ["T2", "T1", "T1", "T0"]


def test_ladder_validation_messages():
    ok = rules.validate_ladder([("T1", "", "50,000"), ("T0", "", ""), ("", "", "")])
    assert ok == [Tier("T1", "T1", Decimal("50000")), Tier("T0", "T0", None)]
    cases = [
        ([("T1", "", "50000"), ("T1", "", "")], "层级代码“T1”重复"),
        ([("T2", "", "50000"), ("T1", "", "50000"), ("T0", "", "")], "严格递减"),
        ([("T2", "", "50000"), ("T1", "", "80000"), ("T0", "", "")], "严格递减"),
        ([("T1", "", "五万"), ("T0", "", "")], "不是有效的金额"),
        ([("T1", "", "NaN"), ("T0", "", "")], "不是有效的金额"),
        ([("T1", "", "-1"), ("T0", "", "")], "不是有效的金额"),
        ([("T1", "", "50000.001"), ("T0", "", "")], "两位小数"),
        ([("T1", "", "50000"), ("T0", "", "100")], "最低一层"),
        ([("T1", "", "50000")], "至少需要两个层级"),
        ([("T1", "", ""), ("T0", "", "")], "缺少门槛"),
    ]
    for rows, message in cases:
        with pytest.raises(RuleError, match=message):
            rules.validate_ladder(rows)


def test_s05_born_1980_to_1999_inclusive(app, seg):
    c1979, c1980, c1985, c1999, c2000, none = (
        cust(seg.a, birthday=born(1979, 12, 31)), cust(seg.a, birthday=born(1980, 1, 1)),
        cust(seg.a, birthday=born(1985)), cust(seg.a, birthday=born(1999, 12, 31)),
        cust(seg.a, birthday=born(2000, 1, 1)), cust(seg.a, birthday=None))
    recompute_as(seg.branch_admin1, seg.b1)
    assert ["post80_90" in members(c) for c in (c1979, c1980, c1985, c1999, c2000, none)] == [
        False, True, True, True, False, False]  # T-51


def test_s01_retired_affluent_threshold_is_inclusive(app, seg):
    exact = cust(seg.a, retired=True, aum=500000)
    one_below = cust(seg.a, retired=True, aum="499999.99")
    working = cust(seg.a, retired=False, aum=9_000_000)
    no_aum = cust(seg.a, retired=True, aum=None)
    recompute_as(seg.branch_admin1, seg.b1)
    assert ["retired_affluent" in members(c) for c in (exact, one_below, working, no_aum)] == [
        True, False, False, False]


def test_s01_threshold_is_configurable_per_branch(app, seg):
    with app.test_request_context():
        form = {k: str(v) if not isinstance(v, list) else "，".join(v) for k, v in services.DEFAULT_SETTINGS.items()}
        services.save_params(seg.branch_admin1, seg.b1.id, {**form, "affluent_aum": "300000"})
    a = cust(seg.a, retired=True, aum=300000)
    b = cust(seg.b, retired=True, aum=300000)
    recompute_as(seg.branch_admin1, seg.b1)
    recompute_as(seg.branch_admin2, seg.b2)
    assert "retired_affluent" in members(a) and "retired_affluent" not in members(b)


def test_s02_government_executives_professionals_and_affluent_freelancers(app, seg):
    gov = cust(seg.a, employer_type="government")
    exe = cust(seg.a, employer_type="executive")
    pro = cust(seg.a, employer_type="professional")
    free_rich = cust(seg.a, employer_type="freelance", aum=500000)
    free_poor = cust(seg.a, employer_type="freelance", aum="499999.99")
    other = cust(seg.a, employer_type="other", aum=9_000_000)
    recompute_as(seg.branch_admin1, seg.b1)
    assert ["gov_exec_pro" in members(c) for c in (gov, exe, pro, free_rich, free_poor, other)] == [
        True, True, True, True, False, False]


def test_s03_s04_read_from_occupation_and_revenue(app, seg):
    owner = cust(seg.a, occupation="企业主")
    merchant = cust(seg.a, occupation="个体经营")
    clerk = cust(seg.a, occupation="职员")
    small_co = cust(seg.a, kind="corporate", annual_revenue="19999999.99")
    big_co = cust(seg.a, kind="corporate", annual_revenue=20_000_000)
    recompute_as(seg.branch_admin1, seg.b1)
    assert "family_business" in members(owner) and "family_business" not in members(merchant)
    assert ["small_business" in members(c) for c in (merchant, clerk, small_co, big_co)] == [True, False, True, False]


def test_t50_revenue_bands_in_usd(app, seg):
    usd = Decimal("7.2")  # CNY per USD (the default setting); annual_revenue is stored in 元
    cos = {label: cust(seg.a, kind="corporate", annual_revenue=usd * amount) for label, amount in (
        ("3bn", 3_000_000_000), ("2bn", 2_000_000_000), ("1.2bn", 1_200_000_000), ("50m", 50_000_000),
        ("30m", 30_000_000), ("2.5m", 2_500_000), ("2m", 2_000_000))}
    unknown = cust(seg.a, kind="corporate", annual_revenue=None)
    recompute_as(seg.branch_admin1, seg.b1)
    band = {label: {m for m in members(c) if m.startswith("corp_")} for label, c in cos.items()}
    assert band == {"3bn": {"corp_large"}, "2bn": {"corp_large"}, "1.2bn": {"corp_mid"}, "50m": {"corp_mid"},
                    "30m": {"corp_small_mid"}, "2.5m": {"corp_small_mid"}, "2m": {"corp_micro"}}
    assert not {m for m in members(unknown) if m.startswith("corp_")}


def test_revenue_bands_in_cny_need_no_rate(app, seg):
    with app.test_request_context():
        form = {k: str(v) if not isinstance(v, list) else "，".join(v) for k, v in services.DEFAULT_SETTINGS.items()}
        services.save_params(seg.branch_admin1, seg.b1.id, {**form, "revenue_currency": "CNY",
                                                            "revenue_large": "1000000000"})
    co = cust(seg.a, kind="corporate", annual_revenue=1_000_000_000)
    recompute_as(seg.branch_admin1, seg.b1)
    assert "corp_large" in members(co)


def test_s08_loan_and_no_loan(app, seg):
    lender, free = cust(seg.a, has_loan=True), cust(seg.a, has_loan=False)
    recompute_as(seg.branch_admin1, seg.b1)
    assert members(lender) >= {"has_loan"} and "no_loan" not in members(lender)
    assert "no_loan" in members(free) and "has_loan" not in members(free)


def test_rules_compile_to_sql_on_both_dialects(app):
    params = dict(services.DEFAULT_SETTINGS)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        sql = str(select(Customer.id).where(rules.post80_90(params)).compile(dialect=dialect))
        assert "customer.birthday >=" in sql and "customer.birthday <=" in sql
        tiers = str(rules.tier_case(rules.DEFAULT_LADDER, "deposit").compile(
            dialect=dialect, compile_kwargs={"literal_binds": True}))
        assert "CASE WHEN (customer.deposit_balance >= 50000) THEN 'T1' ELSE 'T0' END" == tiers
        custom = str(rules.compile_custom({"join": "or", "conditions": [
            {"field": "occupation", "op": "contains", "value": "50%_"},
            {"field": "employer_type", "op": "ne", "value": "government"}]}).compile(dialect=dialect))
        assert " OR " in custom and "ESCAPE" in custom  # LIKE wildcards typed by a user are escaped


def test_custom_rule_allow_lists_refuse_unknown_fields_operators_and_bad_values():
    with pytest.raises(RuleError, match="不支持的字段“password_hash”"):
        rules.clean_rule("and", [("password_hash", "eq", "x")])
    with pytest.raises(RuleError, match="不支持运算"):
        rules.clean_rule("and", [("deposit_balance", "contains", "1")])
    with pytest.raises(RuleError, match="不支持运算"):
        rules.clean_rule("and", [("deposit_balance", "drop table", "1")])
    with pytest.raises(RuleError, match="不是有效的金额"):
        rules.clean_rule("and", [("aum", "ge", "1; DROP TABLE customer")])
    with pytest.raises(RuleError, match="值应为"):
        rules.clean_rule("and", [("employer_type", "eq", "外星人")])
    with pytest.raises(RuleError, match="四位数字"):
        rules.clean_rule("and", [("birth_year", "ge", "85")])
    with pytest.raises(RuleError, match="并且"):
        rules.clean_rule("xor", [("vip", "eq", "是")])
    with pytest.raises(RuleError, match="至少需要一个条件"):
        rules.clean_rule("and", [("", "eq", "")])
    assert rules.clean_rule("and", [("employer_type", "eq", "政府机构"), ("vip", "eq", "否"),
                                    ("birth_year", "ge", "1985"), ("", "eq", "")]) == ("and", [
        {"field": "employer_type", "op": "eq", "value": "government"},
        {"field": "vip", "op": "eq", "value": False},
        {"field": "birth_year", "op": "ge", "value": 1985}])


def test_stored_custom_rule_with_a_forged_field_does_not_compile():
    with pytest.raises(RuleError):
        rules.compile_custom({"join": "and", "conditions": [{"field": "cert_no", "op": "eq", "value": "1"}]})


def test_custom_rule_membership_and_year_operators(app, seg):
    with app.test_request_context():
        rule = services.save_custom_rule(seg.branch_admin1, seg.b1.id, "85后退休以外的高存款", "and", [
            ("birth_year", "ge", "1985"), ("deposit_balance", "ge", "100000"), ("employer_type", "ne", "政府机构")])
    yes = cust(seg.a, birthday=born(1985, 1, 1), deposit=100000, employer_type=None)
    old = cust(seg.a, birthday=born(1984, 12, 31), deposit=100000)
    gov = cust(seg.a, birthday=born(1990), deposit=200000, employer_type="government")
    poor = cust(seg.a, birthday=born(1990), deposit="99999.99")
    recompute_as(seg.branch_admin1, seg.b1)
    key = f"custom:{rule.id}"
    assert [key in members(c) for c in (yes, old, gov, poor)] == [True, False, False, False]


def test_contributed_rule_over_another_table_is_not_used(app, seg, enable_plugin):
    """The example plugin's rule reads user_account: it cannot be a customer segment and is skipped."""
    enable_plugin(seg.b1, "example")
    keys = [s.key for s in services.segments_for(seg.b1.id)]
    assert "example:example_active_staff" not in keys and "no_loan" in keys


def test_deleted_custom_rule_leaves_at_once_and_its_bit_goes_to_a_new_rule_without_old_members(app, seg):
    vip = cust(seg.a, vip=True, deposit=10)
    rich = cust(seg.a, deposit=900000)
    with app.test_request_context():
        first = services.save_custom_rule(seg.branch_admin1, seg.b1.id, "VIP客户", "and", [("vip", "eq", "是")])
    recompute_as(seg.branch_admin1, seg.b1)
    old_bit = services.slots(seg.b1.id)[f"custom:{first.id}"]
    assert f"custom:{first.id}" in members(vip)
    with app.test_request_context():
        assert services.delete_custom_rule(seg.branch_admin1, seg.b1.id, first.id)
        assert services.scope_segment_counts(seg.branch_admin1, seg.b1.id).get(f"custom:{first.id}") is None
        second = services.save_custom_rule(seg.branch_admin1, seg.b1.id, "高存款", "and",
                                           [("deposit_balance", "ge", "500000")])
    assert f"custom:{first.id}" not in members(vip)  # gone before any recompute
    run = recompute_as(seg.branch_admin1, seg.b1)
    assert services.slots(seg.b1.id)[f"custom:{second.id}"] == old_bit  # the freed bit is reused…
    assert f"custom:{second.id}" in members(rich) and f"custom:{second.id}" not in members(vip)  # …clean
    assert run.segments_before.get(f"custom:{first.id}") is None and run.segments_after[f"custom:{second.id}"] == 1


def test_custom_rules_are_capped_so_every_segment_keeps_a_bit(app, seg):
    with app.test_request_context():
        for i in range(services.MAX_CUSTOM_RULES):
            services.save_custom_rule(seg.branch_admin1, seg.b1.id, f"分群{i}", "and", [("vip", "eq", "是")])
        with pytest.raises(RuleError, match="最多40个自定义分群"):
            services.save_custom_rule(seg.branch_admin1, seg.b1.id, "再来一个", "and", [("vip", "eq", "是")])
        services.save_custom_rule(seg.branch_admin2, seg.b2.id, "乙分行的", "and", [("vip", "eq", "是")])  # per 分行
    c = cust(seg.a, vip=True)
    run = recompute_as(seg.branch_admin1, seg.b1)
    assert len(services.slots(seg.b1.id)) == 14 + 40 and len(set(services.slots(seg.b1.id).values())) == 54
    assert sum(1 for k in members(c) if k.startswith("custom:")) == 40
    assert run.segments_after["no_loan"] == 1


def test_changed_customer_is_retagged_and_a_customer_who_moved_branch_leaves_the_counts(app, seg):
    c = cust(seg.a, deposit=10, has_loan=False, birthday=born(1985))
    recompute_as(seg.branch_admin1, seg.b1)
    assert members(c) == {"no_loan", "post80_90"}
    row = db.session.get(Customer, c.id)
    row.has_loan, row.birthday = True, born(1975)
    db.session.commit()
    run = recompute_as(seg.branch_admin1, seg.b1)
    assert members(c) == {"has_loan"} and run.segments_before == {"no_loan": 1, "post80_90": 1}
    assert run.segments_after == {"has_loan": 1}
    row = db.session.get(Customer, c.id)
    row.outlet_id = seg.b.id  # moved to an outlet of 乙分行
    db.session.commit()
    run = recompute_as(seg.branch_admin1, seg.b1)
    assert run.segments_after == {} and run.tiers_after == {}
    run = recompute_as(seg.branch_admin2, seg.b2)
    assert run.segments_after == {"has_loan": 1} and members(c) == {"has_loan"}
