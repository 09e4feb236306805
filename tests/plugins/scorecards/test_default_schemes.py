"""Default scheme data: every scheme validates, is plain JSON with exact numbers, and carries the spec's values."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest

from plugins.scorecards.default_schemes import DEFAULT_SCHEMES, default_scheme
from plugins.scorecards.engine import scheme_fingerprint, score_scheme, validate_scheme

CODES = [s["code"] for s in DEFAULT_SCHEMES]


def walk(value: Any):
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)
    else:
        yield value


def test_codes_are_unique_and_complete() -> None:
    assert len(CODES) == len(set(CODES))
    assert set(CODES) == {
        "003a-head", "003a-rm-senior", "003a-rm-middle", "003a-rm-junior", "003e-business", "003e-comprehensive",
        "002-bsc-corporate-rm", "002-bsc-lobby-manager", "002-bsc-teller", "002-200", "002-thousand", "002-process",
        "003f-eva", "002-rewards", "000-bancassurance"}


@pytest.mark.parametrize("code", CODES)
def test_every_default_scheme_validates(code: str) -> None:
    assert validate_scheme(default_scheme(code)) == []


@pytest.mark.parametrize("code", CODES)
def test_plain_json_without_floats(code: str) -> None:
    scheme = default_scheme(code)
    assert json.loads(json.dumps(scheme, ensure_ascii=False)) == scheme
    assert not any(isinstance(v, float) for v in walk(scheme))


def test_fingerprints_differ_and_copies_are_independent() -> None:
    assert len({scheme_fingerprint(s) for s in DEFAULT_SCHEMES}) == len(DEFAULT_SCHEMES)
    copy = default_scheme("003a-head")
    copy["items"][0]["target"] = "25"
    assert default_scheme("003a-head")["items"][0]["target"] == "30"
    with pytest.raises(KeyError):
        default_scheme("nope")


def test_head_kpi_table_r78() -> None:
    head = default_scheme("003a-head")
    assert [(i["code"], i["base"]) for i in head["items"]] == [
        ("deposits", "40"), ("npl", "30"), ("collection", "20"), ("income", "10")]
    assert head["expected_total"] == "100"
    assert head["total"] == {"min": "0", "max": "135"}
    deposits, _, collection, income = head["items"]
    assert (deposits["target"], deposits["step"], deposits["points_per_step"], deposits["cap"], deposits["floor"]) \
        == ("30", "1", "2", "20", "-40")
    assert (collection["target"], collection["step"], collection["cap"], collection["floor"]) == \
        ("99.5", "0.1", "10", "-20")
    assert (income["target"], income["step"], income["points_per_step"], income["cap"], income["floor"]) == \
        ("20", "2", "1", "5", "-10")


def test_head_warnings_r80_default_strict() -> None:
    rules = default_scheme("003a-head")["warnings"]
    assert all(w["rule"] == "R-80" for w in rules)
    total = next(w for w in rules if w["metric"] == "total")
    assert (total["op"], total["value"], total["action"]) == ("lt", "90", "demote")
    npl = next(w for w in rules if w["metric"] == "item")
    assert (npl["op"], npl["value"]) == ("gt", "10")
    repeat = next(w for w in rules if w["metric"] == "repeat")
    assert (repeat["count"], repeat["action"]) == (2, "terminate")


@pytest.mark.parametrize(("code", "accounts"), [("003a-rm-senior", "10"), ("003a-rm-middle", "7"),
                                                ("003a-rm-junior", "5")])
def test_rm_tables_r79(code: str, accounts: str) -> None:
    scheme = default_scheme(code)
    items = {i["code"]: i for i in scheme["items"]}
    assert items["accounts"]["target"] == accounts
    assert items["accounts"]["type"] == "pro_rata"
    if code == "003a-rm-junior":
        assert (items["deposits"]["target"], items["deposits"]["step"], items["deposits"]["unit"]) == \
            ("1000000", "10000", "元")    # A-20
    else:
        assert (items["deposits"]["target"], items["deposits"]["unit"]) == ("30", "%")
    rules = {(w["metric"], w.get("value"), w["action"]) for w in scheme["warnings"]}
    assert ("total", "85", "demote") in rules
    assert ("total", "70", "terminate") in rules
    assert ("input", "15", "terminate") in rules
    assert ("item", "99", "demote") in rules
    run = next(w for w in scheme["warnings"] if w["metric"] == "run")
    assert (run["ratio"], run["count"], run["op"]) == ("90", 3, "lt")


def test_business_catalogue_r82() -> None:
    scheme = default_scheme("003e-business")
    items = scheme["items"]
    assert len(items) == 19
    assert {i["category"] for i in items} == {"资产业务", "负债业务", "表外及中间业务", "新兴业务"}
    assert sum(D(i["weight"]) for i in items) == D(100)
    assert scheme["period"] == "month"
    assert all(i["type"] == "weighted" and i["target"] is None for i in items)


def test_comprehensive_nine_items_r83() -> None:
    scheme = default_scheme("003e-comprehensive")
    assert [i["base"] for i in scheme["items"]] == ["5", "10", "15", "5", "5", "5", "5", "5", "5"]
    assert scheme["period"] == "month"
    assert scheme["items"][0]["scored"] == "quarter"
    assert scheme["items"][3]["spill"] is True
    direct = {i["code"] for i in scheme["items"] for e in i["events"] if e.get("to") == "total"}
    assert direct == {"c5_mis", "c7_reports", "c8_surveys", "c9_temporary"}


@pytest.mark.parametrize("code", ["002-bsc-corporate-rm", "002-bsc-lobby-manager", "002-bsc-teller"])
def test_bsc_perspectives_r91(code: str) -> None:
    scheme = default_scheme(code)
    assert [i["name"] for i in scheme["items"]] == ["财务维度", "客户维度", "内部运营维度", "学习与成长维度"]
    assert sum(D(i["max"]) for i in scheme["items"]) == D(100)
    assert scheme["posts"]


def test_two_hundred_and_thousand_point_templates() -> None:
    two = default_scheme("002-200")
    assert len(two["items"]) == 5
    assert sum(D(i["max"]) for i in two["items"]) == D(200)
    thousand = default_scheme("002-thousand")
    assert thousand["expected_total"] == "1000"
    assert thousand["params"] == {"base_coef": "1.0", "deputy_ratio": "0.9"}
    full = {"performance": D(380), "customers": D(180), "process": D(140), "team": D(90),
            "compliance": {"violations": 0, "findings": 2, "complaints": 1}}
    assert score_scheme(thousand, full).total == D(380 + 180 + 140 + 90 + 130)


def test_parameter_schemes_carry_spec_values() -> None:
    banca = default_scheme("000-bancassurance")["params"]
    assert banca["targets"] == {"single_kaimenhong": "50000000", "single_full_year": "150000000",
                                "regular_kaimenhong": "3500000", "regular_full_year": "12000000"}
    assert banca["headcount"] == {"district_managers": 4, "dept_managers": 12, "rms": 48}
    assert banca["staffing_norm"] == 2
    rewards = default_scheme("002-rewards")["params"]
    assert (rewards["personal_share"], rewards["info_share"], rewards["exec_share"]) == ("0.70", "0.30", "0.70")
    assert rewards["process_pool"] == "3000"
    eva = default_scheme("003f-eva")["params"]
    assert (eva["scale"], eva["floor"], eva["base_period"]) == ("10", "0", "2013-12-31")
