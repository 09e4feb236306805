"""R-61 checklist across case edits: update_case updates guarantor / shareholder / collateral rows in place by
position, so the documents keyed by row id (`04.sh.<id>`, `13.<id>.ids`) keep their received flags."""

from __future__ import annotations

from plugins.loan_insurance import services as s
from tests.plugins.loan_insurance.conftest import as_user, case_data


def create(li, **over):
    return as_user(li.corp_rm, s.create_case, case_data(li, **over))


def docs(case) -> dict[str, tuple[str, bool, bool]]:
    """code → (label, received, required); the share in a label is shown as entered ("55" or "55.00")."""
    return {d.code: (d.label.replace(".00%", "%"), d.received, d.required) for d in s.case_documents(case)}


HOLDERS = [{"name": "甲", "share_pct": "60", "has_spouse": True}, {"name": "乙", "share_pct": "40"}]


def test_editing_a_shareholder_keeps_its_id_and_received_documents(li):
    case = create(li, shareholders=HOLDERS)
    a, b = (sh.id for sh in case.shareholders)
    as_user(li.corp_rm, s.mark_document, case.id, f"04.sh.{a}")
    as_user(li.corp_rm, s.mark_document, case.id, f"04.sp.{a}")

    as_user(li.corp_rm, s.update_case, case.id, {"shareholders": [
        {"name": "甲某", "share_pct": "55", "has_spouse": True}, {"name": "乙", "share_pct": "45"}]})

    assert [(sh.id, sh.name, str(sh.share_pct)) for sh in case.shareholders] == [(a, "甲某", "55.00"),
                                                                                 (b, "乙", "45.00")]
    d = docs(case)
    assert d[f"04.sh.{a}"] == ("股东甲某（持股55%）身份证", True, True)  # relabelled, still received
    assert d[f"04.sp.{a}"] == ("股东甲某之配偶身份证", True, True)
    assert d[f"04.sh.{b}"] == ("股东乙（持股45%）身份证", False, True)
    assert f"04.sh.{a}" not in {x.code for x in s.missing_documents(case)}


def test_removing_a_shareholder_drops_its_items_and_adding_one_adds_unreceived_items(li):
    case = create(li, shareholders=HOLDERS)
    a, b = (sh.id for sh in case.shareholders)
    as_user(li.corp_rm, s.mark_document, case.id, f"04.sh.{a}")

    as_user(li.corp_rm, s.update_case, case.id, {"shareholders": [HOLDERS[0]]})
    assert [sh.id for sh in case.shareholders] == [a]
    d = docs(case)
    assert f"04.sh.{b}" not in d  # 乙 removed, its unreceived item goes
    assert d[f"04.sh.{a}"][1] is True

    as_user(li.corp_rm, s.update_case, case.id, {"shareholders": [
        HOLDERS[0], {"name": "丙", "share_pct": "30", "has_spouse": True}]})
    a2, c = (sh.id for sh in case.shareholders)
    assert a2 == a and c not in (a, b)  # a deleted row's id is never reused (AUTOINCREMENT on SQLite)
    d = docs(case)
    assert d[f"04.sh.{c}"] == ("股东丙（持股30%）身份证", False, True)
    assert d[f"04.sp.{c}"] == ("股东丙之配偶身份证", False, True)
    assert d[f"04.sh.{a}"][1] is True
    assert {f"04.sh.{c}", f"04.sp.{c}"} <= {x.code for x in s.missing_documents(case)}


def test_removed_holder_with_a_received_document_keeps_it_as_optional(li):
    """A received document is never deleted (R-61 sync): the removed holder's line stays, no longer required."""
    case = create(li, shareholders=HOLDERS)
    a, b = (sh.id for sh in case.shareholders)
    as_user(li.corp_rm, s.mark_document, case.id, f"04.sh.{b}")
    as_user(li.corp_rm, s.update_case, case.id, {"shareholders": [HOLDERS[0]]})
    assert docs(case)[f"04.sh.{b}"][1:] == (True, False)


def test_holder_falling_below_ten_percent_loses_its_id_item_boundary(li):
    """R-61 (4): 10% included, 9.99% not — the row keeps its id either way."""
    case = create(li, shareholders=[{"name": "甲", "share_pct": "90"}, {"name": "乙", "share_pct": "10"}])
    a, b = (sh.id for sh in case.shareholders)
    assert f"04.sh.{b}" in docs(case)
    as_user(li.corp_rm, s.update_case, case.id, {"shareholders": [
        {"name": "甲", "share_pct": "90"}, {"name": "乙", "share_pct": "9.99"}]})
    assert [sh.id for sh in case.shareholders] == [a, b]
    assert f"04.sh.{b}" not in docs(case)


def test_editing_a_guarantor_keeps_its_items_and_collateral_keeps_its_id(li):
    case = create(li)
    g = case.guarantors[0].id
    col = case.collaterals[0].id
    as_user(li.corp_rm, s.mark_document, case.id, f"13.{g}.ids")
    as_user(li.corp_rm, s.update_case, case.id, {
        "guarantors": [{"kind": "person", "role": "legal_rep", "name": "张三丰", "married": True,
                        "spouse_name": "李四"}],
        "collaterals": [dict(case_data(li)["collaterals"][0], appraised_value="2100000")]})
    assert case.guarantors[0].id == g and case.guarantors[0].name == "张三丰"
    assert case.collaterals[0].id == col and str(case.collaterals[0].appraised_value) == "2100000.00"
    d = docs(case)
    assert d[f"13.{g}.ids"] == ("担保人张三丰夫妻双方有效身份证件", True, True)
    assert d[f"13.{g}.marriage"][1:] == (False, True)


def test_removing_the_first_holder_leaves_the_second_its_id_and_documents(li):
    """The form's 删除此行 on row 1 shifts 乙 to position 1: 乙 keeps its own record (matched by name)."""
    case = create(li, shareholders=HOLDERS)
    a, b = (sh.id for sh in case.shareholders)
    as_user(li.corp_rm, s.mark_document, case.id, f"04.sh.{b}")
    as_user(li.corp_rm, s.update_case, case.id, {"shareholders": [{"name": "乙", "share_pct": "40"}]})
    assert [(sh.id, sh.name) for sh in case.shareholders] == [(b, "乙")]
    d = docs(case)
    assert d[f"04.sh.{b}"] == ("股东乙（持股40%）身份证", True, True)
    assert f"04.sh.{a}" not in d and f"04.sp.{a}" not in d
