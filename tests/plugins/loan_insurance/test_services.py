"""银保贷 services against the database: validation, premium (R-59, A-15), the R-61 checklist (T-24), the workflow
with maker-checker and its gates (T-57), overrides, R-69 suspension, scope, default events (T-27), claims (R-68)
and recoveries (R-70, T-26)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditLog, Customer
from plugins.loan_insurance import services as s
from plugins.loan_insurance.models import LoanAgreement, LoanCase, LoanClaim, LoanTransition
from tests.plugins.loan_insurance.conftest import as_user, case_data

D = Decimal
ALL_YES = {i: (True, None) for i in range(1, 11)}
ALL_CHECKS = {i: (True, None) for i in range(1, 8)}


def fresh(case_id: int) -> LoanCase:
    db.session.expire_all()
    return db.session.get(LoanCase, case_id)


def create(li, **over) -> LoanCase:
    return as_user(li.corp_rm, s.create_case, case_data(li, **over))


def receive_all(li, case: LoanCase) -> None:
    for doc in s.missing_documents(fresh(case.id)):
        as_user(li.corp_rm, s.mark_document, case.id, doc.code)


def to_reviewing(li, **over) -> LoanCase:
    case = create(li, **over)
    as_user(li.corp_rm, s.transition, case.id, "investigating")
    receive_all(li, case)
    as_user(li.corp_rm, s.transition, case.id, "reviewing")
    return fresh(case.id)


def to_approving(li, **over) -> LoanCase:
    case = to_reviewing(li, **over)
    as_user(li.reviewer, s.answer_review, case.id, ALL_YES)
    as_user(li.reviewer, s.transition, case.id, "approving")
    return fresh(case.id)


def to_check(li, **over) -> LoanCase:
    case = to_approving(li, **over)
    as_user(li.approver, s.transition, case.id, "disbursement_check", on=date(2024, 3, 12))
    return fresh(case.id)


def to_disbursed(li, **over) -> LoanCase:
    case = to_check(li, **over)
    as_user(li.checker, s.record_disbursement_checks, case.id, ALL_CHECKS)
    as_user(li.checker, s.transition, case.id, "disbursed")
    return fresh(case.id)


# ---------------------------------------------------------------- creating and validating

def test_create_case_prices_the_premium_and_the_transfer_day(li):
    case = create(li)
    assert (case.status, case.rm_id, case.branch_id, case.outlet_id) == ("accepted", li.corp_rm.id, li.b1.id, li.a.id)
    # 600,000 × 1.5% = 9,000.00; transferred the day before the issue date — a calendar day: issued
    # Monday 2024-03-11 → Sunday 2024-03-10.
    assert case.premium == D("9000.00")
    assert case.premium_transfer_on == date(2024, 3, 10)
    assert isinstance(case.amount, Decimal) and case.amount == D("1800000.00")
    assert [(t.from_status, t.to_status) for t in s.transitions(case)] == [(None, "accepted")]
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "loan_insurance.case_created")) == 1


def test_create_case_errors_are_chinese_and_per_field(li):
    with pytest.raises(s.FormErrors) as err:
        as_user(li.corp_rm, s.create_case, case_data(li, amount="一百万", borrower_type="", term_end="2024-03-01",
                                                     product="acceptance", margin_amount=None))
    e = err.value.errors
    assert e["borrower_type"] == "请选择借款人类型：企业法人或个体工商户"
    assert e["amount"].startswith("授信金额：")
    assert e["term_end"] == "授信到期日不能早于起始日"
    assert e["margin_amount"] == "银行承兑须填写保证金金额"
    assert db.session.scalar(select(func.count()).select_from(LoanCase)) == 0


def test_amount_accepts_wan_and_refuses_floats(li):
    assert create(li, amount="180万").amount == D("1800000.00")
    with pytest.raises(TypeError):
        as_user(li.corp_rm, s.create_case, case_data(li, amount=1800000.0))


def test_nested_rows_are_validated(li):
    with pytest.raises(s.FormErrors) as err:
        as_user(li.corp_rm, s.create_case, case_data(li, collaterals=[{"kind": "boat", "appraised_value": ""}],
                                                     shareholders=[{"name": "甲", "share_pct": "60"},
                                                                   {"name": "乙", "share_pct": "50"}]))
    e = err.value.errors
    assert e["collaterals.0.kind"] == "抵押物类型须为建筑物或土地"
    assert e["collaterals.0.appraised_value"] == "请填写评估价值"
    assert e["shareholders"] == "股东持股比例合计超过100%"


def test_customer_out_of_scope_or_personal_is_refused(li):
    for cid in (li.customer_b.id, 999999):
        with pytest.raises(s.FormErrors) as err:
            as_user(li.corp_rm, s.create_case, case_data(li, customer_id=cid))
        assert err.value.errors == {"customer_id": "请选择您管辖范围内的对公客户"}
    personal = Customer(outlet_id=li.a.id, kind="personal", name="个人", deposit_balance=D(0),
                        maintainer_id=li.corp_rm.id)
    db.session.add(personal)
    db.session.commit()
    with pytest.raises(s.FormErrors):
        as_user(li.corp_rm, s.create_case, case_data(li, customer_id=personal.id))


def test_only_preparing_posts_create_cases(li):
    with pytest.raises(s.ServiceError, match="没有此项权限"):
        as_user(li.checker, s.create_case, case_data(li))


def test_stale_edit_is_refused(li):
    case = create(li)
    seen = case.version  # two tabs opened the same version
    as_user(li.corp_rm, s.update_case, case.id, {"use_of_funds": "支付货款"}, version=seen)
    with pytest.raises(s.ServiceError, match="已被他人修改"):
        as_user(li.corp_rm, s.update_case, case.id, {"use_of_funds": "别的"}, version=seen)
    assert fresh(case.id).use_of_funds == "支付货款"


# ---------------------------------------------------------------- scope

def test_another_outlets_case_is_invisible(li):
    case = create(li)
    with db.session.no_autoflush:
        assert s.visible_case(case.id, li.rm_b) is None          # another 分行
        assert s.visible_case(case.id, li.head_a2) is None       # another outlet of the same 支行
        assert s.visible_case(case.id, li.rm_a2) is None         # a corporate RM who is not responsible
        assert s.visible_case(case.id, li.teller_a) is None      # no view permission
        assert s.visible_case(case.id, li.head_a).id == case.id  # the outlet head
        assert s.visible_case(case.id, li.reviewer).id == case.id  # the 支行
        assert s.visible_case(case.id, li.corp_rm).id == case.id
        assert s.visible_case("x", li.corp_rm) is None
    with pytest.raises(s.ServiceError, match="不在您的管辖范围内"):
        as_user(li.head_b, s.transition, case.id, "investigating")
    assert [c.id for c in s.visible_cases(li.head_a)] == [case.id]
    assert s.visible_cases(li.head_b) == []


def test_disabled_plugin_gives_no_permission(li, enable_plugin):
    case = create(li)
    enable_plugin(li.b1, "loan_insurance", on=False)
    assert s.visible_case(case.id, li.head_a) is None


# ---------------------------------------------------------------- documents (R-61, T-24)

def codes(items):
    return [i.code for i in items]


def test_t24_shareholders_of_ten_percent_and_their_spouses(li):
    case = create(li, shareholders=[{"name": "甲", "share_pct": "55", "has_spouse": True},
                                    {"name": "乙", "share_pct": "26", "has_spouse": False},
                                    {"name": "丙", "share_pct": "10", "has_spouse": True},
                                    {"name": "丁", "share_pct": "9", "has_spouse": True}],
                  guarantors=[{"kind": "person", "role": "legal_rep", "name": "甲", "married": True,
                               "spouse_name": "甲妻"},
                              {"kind": "person", "role": "shareholder", "name": "乙", "married": False},
                              {"kind": "enterprise", "role": "other", "name": "担保公司"}])
    items = s.document_checklist(case)
    by_label = " | ".join(i.label for i in items)
    ids = {sh.name: sh.id for sh in case.shareholders}
    assert "04.legal_rep" in codes(items)
    for name in ("甲", "丙"):
        assert f"04.sh.{ids[name]}" in codes(items) and f"04.sp.{ids[name]}" in codes(items)
    assert f"04.sh.{ids['乙']}" in codes(items) and f"04.sp.{ids['乙']}" not in codes(items)  # no spouse
    assert f"04.sh.{ids['丁']}" not in codes(items)  # 9% is not needed
    assert "股东丙（持股10.00%）身份证" in by_label
    g = {x.name: x.id for x in case.guarantors}
    assert {f"13.{g['甲']}.ids", f"13.{g['甲']}.marriage", f"13.{g['甲']}.credit"} <= set(codes(items))
    assert "担保人甲夫妻双方有效身份证件" in by_label and "担保人甲结婚证复印件" in by_label
    assert f"13.{g['乙']}.marriage" not in codes(items)
    assert f"13.{g['担保公司']}.corp" in codes(items)
    assert "（贸易流通及服务类企业不少于3个月）" in by_label
    # Stored rows follow the adapted list; 14 (其他) is optional.
    stored = {d.code: d.required for d in s.case_documents(case)}
    assert stored.keys() == set(codes(items)) and stored["14"] is False


@pytest.mark.parametrize("founded, applied, words", [
    ("2024-02-01", "2024-09-02", "最近6个月财务报表"),
    ("2022-05-01", "2024-09-02", "自成立以来及近期财务报表"),
    ("2021-09-02", "2024-09-02", "近三年财务报表及最近一期财务报表"),  # 3 years exactly: no longer "不足三年"
    ("2021-09-03", "2024-09-02", "自成立以来及近期财务报表"),
    ("2015-03-01", "2024-09-02", "近三年财务报表及最近一期财务报表"),
])
def test_t24_statements_by_company_age(li, founded, applied, words):
    case = create(li, registered_on=founded, application_date=applied)
    [item] = [i for i in s.document_checklist(case) if i.code == "06"]
    assert words in item.label


def test_submitting_to_review_needs_every_required_document(li):
    case = create(li)
    as_user(li.corp_rm, s.transition, case.id, "investigating")
    missing = s.missing_documents(fresh(case.id))
    assert len(missing) == 17  # 13 base items + legal rep's shareholder ID + spouse + 3 for the guarantor
    for doc in missing[:-1]:
        as_user(li.corp_rm, s.mark_document, case.id, doc.code)
    with pytest.raises(s.ServiceError, match="以下必备材料尚未收齐") as err:
        as_user(li.corp_rm, s.transition, case.id, "reviewing")
    assert missing[-1].label in str(err.value)
    as_user(li.corp_rm, s.mark_document, case.id, missing[-1].code, file_name="征信.pdf")
    as_user(li.corp_rm, s.transition, case.id, "reviewing")
    assert fresh(case.id).status == "reviewing"


# ---------------------------------------------------------------- workflow

def test_the_whole_way_to_settled_with_one_log_and_one_audit_row_per_transition(li):
    case = to_disbursed(li)
    assert (case.prepared_by_id, case.reviewed_by_id, case.approved_by_id, case.checked_by_id) == (
        li.corp_rm.id, li.reviewer.id, li.approver.id, li.checker.id)
    assert case.approved_insured_amount == D("600000.00")
    as_user(li.corp_rm, s.transition, case.id, "post_loan")
    as_user(li.head_a, s.transition, case.id, "settled")
    log = s.transitions(fresh(case.id))
    assert [t.to_status for t in log] == ["accepted", "investigating", "reviewing", "approving",
                                          "disbursement_check", "disbursed", "post_loan", "settled"]
    assert [t.actor_id for t in log[1:]] == [li.corp_rm.id, li.corp_rm.id, li.reviewer.id, li.approver.id,
                                             li.checker.id, li.corp_rm.id, li.head_a.id]
    audits = db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "loan_insurance.transition", AuditLog.target_id == str(case.id)))
    assert audits == len(log) - 1


@pytest.mark.parametrize("start, to", [("accepted", "approving"), ("accepted", "disbursed"),
                                       ("accepted", "settled"), ("accepted", "prohibited")])
def test_illegal_transitions_are_refused(li, start, to):
    case = create(li)
    with pytest.raises(s.ServiceError, match="案件不能从“受理”转为"):
        as_user(li.admin, s.transition, case.id, to)
    assert fresh(case.id).status == "accepted"


def test_rejection_needs_a_reason(li):
    case = to_reviewing(li)
    with pytest.raises(s.FormErrors) as err:
        as_user(li.reviewer, s.transition, case.id, "rejected", "  ")
    assert err.value.errors == {"reason": "退回或否决须填写理由"}
    as_user(li.reviewer, s.transition, case.id, "rejected", "第一还款来源不足")
    assert fresh(case.id).status == "rejected"
    with pytest.raises(s.ServiceError, match="案件不能从“已否决”转为"):
        as_user(li.reviewer, s.transition, case.id, "approving")


def test_wrong_post_cannot_move_a_step(li):
    case = to_reviewing(li)
    with pytest.raises(s.ServiceError, match="没有此项权限"):
        as_user(li.corp_rm, s.transition, case.id, "approving")


# ---------------------------------------------------------------- maker-checker

def test_the_creator_cannot_review_their_own_case(li):
    case = as_user(li.admin, s.create_case, case_data(li))  # the administrator holds every permission
    as_user(li.admin, s.transition, case.id, "investigating")
    for doc in s.missing_documents(fresh(case.id)):
        as_user(li.admin, s.mark_document, case.id, doc.code)
    as_user(li.admin, s.transition, case.id, "reviewing")
    with pytest.raises(s.ServiceError, match="双人复核"):
        as_user(li.admin, s.answer_review, case.id, ALL_YES)
    as_user(li.reviewer, s.answer_review, case.id, ALL_YES)
    with pytest.raises(s.ServiceError, match="双人复核"):
        as_user(li.admin, s.transition, case.id, "approving")
    assert fresh(case.id).status == "reviewing"


def test_the_reviewer_cannot_approve_and_the_approver_cannot_check(li):
    case = to_approving(li)  # reviewed by the 支行行长, who also holds the approval permission
    with pytest.raises(s.ServiceError, match="双人复核"):
        as_user(li.reviewer, s.transition, case.id, "disbursement_check")
    as_user(li.approver, s.transition, case.id, "disbursement_check", on=date(2024, 3, 12))
    # The 分行负责人 holds disburse_check too, but approved this case.
    with pytest.raises(s.ServiceError, match="双人复核"):
        as_user(li.approver, s.record_disbursement_checks, case.id, ALL_CHECKS)
    as_user(li.checker, s.record_disbursement_checks, case.id, ALL_CHECKS)
    with pytest.raises(s.ServiceError, match="双人复核"):
        as_user(li.approver, s.transition, case.id, "disbursed")
    as_user(li.checker, s.transition, case.id, "disbursed")
    assert fresh(case.id).status == "disbursed"


# ---------------------------------------------------------------- T-57

def test_t57_a_prohibited_flag_makes_the_case_prohibited_and_unapprovable(li):
    case = to_reviewing(li)
    as_user(li.reviewer, s.update_case, case.id, {"prohibited_5": True, "prohibited_note": "报表虚假"})
    case = fresh(case.id)
    assert case.status == "prohibited"
    assert s.transitions(case)[-1].reason == "存在第八条（五）严禁授信情形"
    for to in ("approving", "disbursement_check", "investigating"):
        with pytest.raises(s.ServiceError, match="案件不能从“禁止”转为"):
            as_user(li.admin, s.transition, case.id, to)
    with pytest.raises(s.ServiceError, match="不能修改"):
        as_user(li.corp_rm, s.update_case, case.id, {"prohibited_5": False})


def test_t57_approval_needs_all_ten_review_items(li):
    case = to_reviewing(li)
    as_user(li.reviewer, s.answer_review, case.id, {i: (True, None) for i in range(1, 10)})
    with pytest.raises(s.ServiceError, match="审查事项第10项尚未填写"):
        as_user(li.reviewer, s.transition, case.id, "approving")
    with pytest.raises(s.FormErrors, match="第10项答“否”时须说明情况"):
        as_user(li.reviewer, s.answer_review, case.id, {10: (False, "")})
    as_user(li.reviewer, s.answer_review, case.id, {10: (False, "另需补充租赁合同")})
    as_user(li.reviewer, s.transition, case.id, "approving")
    assert fresh(case.id).status == "approving"


def test_t57_disbursement_needs_all_seven_checks(li):
    case = to_check(li)
    as_user(li.checker, s.record_disbursement_checks, case.id, {**ALL_CHECKS, 7: (False, "抵押登记证明未到")})
    with pytest.raises(s.ServiceError, match="放款审核要点第7项未通过或未填写"):
        as_user(li.checker, s.transition, case.id, "disbursed")
    assert fresh(case.id).status == "disbursement_check"


def test_t20_check6_is_recomputed_even_when_ticked(li):
    case = to_check(li)
    as_user(li.checker, s.record_disbursement_checks, case.id, ALL_CHECKS)
    # The policy on file now insures 900,000: 900,000 + 1,200,000 > 2,000,000 although every box is ticked.
    db.session.execute(LoanCase.__table__.update().where(LoanCase.id == case.id).values(insured_amount=D("900000")))
    db.session.commit()
    with pytest.raises(s.ServiceError, match="放款审核复算未通过") as err:
        as_user(li.checker, s.transition, case.id, "disbursed")
    assert "第二十二条（六）" in str(err.value) and "2,100,000.00" in str(err.value)


def test_check5_policy_must_cover_the_loan_period(li):
    case = to_check(li)
    db.session.execute(LoanCase.__table__.update().where(LoanCase.id == case.id).values(
        policy_end=date(2025, 3, 14)))
    db.session.commit()
    as_user(li.checker, s.record_disbursement_checks, case.id, ALL_CHECKS)
    with pytest.raises(s.ServiceError, match="第二十二条（五）"):
        as_user(li.checker, s.transition, case.id, "disbursed")


def test_t20_credit_above_the_appraised_value_cannot_be_approved(li):
    case = to_approving(li, amount="2100000", insured_amount="900000")
    with pytest.raises(s.ServiceError, match="不符合准入条件") as err:
        as_user(li.approver, s.transition, case.id, "disbursement_check", on=date(2024, 3, 12))
    assert "第十一条" in str(err.value) and "2,100,000.00" in str(err.value)


# ---------------------------------------------------------------- overrides (T-22, A-15)

def acceptance(li):
    return to_approving(li, product="acceptance", amount="1000000", margin_amount="350000", insured_amount="0")


def test_t22_margin_below_40_percent_blocks_approval_until_an_exception_is_recorded(li):
    case = acceptance(li)
    with pytest.raises(s.ServiceError, match="保证金350,000.00 元低于承兑金额的40%"):
        as_user(li.approver, s.transition, case.id, "disbursement_check", on=date(2024, 3, 12))
    with pytest.raises(s.FormErrors) as err:
        as_user(li.approver2, s.record_override, case.id, "R-57", "   ")
    assert err.value.errors == {"reason": "例外放行须填写理由"}
    with pytest.raises(s.ServiceError, match="没有此项权限"):
        as_user(li.checker, s.record_override, case.id, "R-57", "产品经理想放行")
    with pytest.raises(s.ServiceError, match="不是“原则上”条款"):
        as_user(li.approver2, s.record_override, case.id, "R-55", "超额")
    as_user(li.approver2, s.record_override, case.id, "R-57", "存量优质客户，保证金35%经行长办公会同意")
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "loan_insurance.override")).scalar_one()
    assert audit.actor_id == li.approver2.id and audit.detail["rule_id"] == "R-57"
    results = {r.rule_id: r for r in s.evaluate_case(fresh(case.id))}
    assert results["R-57"].outcome == "pass_exception"
    as_user(li.approver, s.transition, case.id, "disbursement_check", on=date(2024, 3, 12))
    assert fresh(case.id).status == "disbursement_check"


def test_the_preparer_cannot_override(li):
    case = acceptance(li)
    with pytest.raises(s.ServiceError):
        as_user(li.corp_rm, s.record_override, case.id, "R-57", "我想放行")


# ---------------------------------------------------------------- suspension

def test_suspension_blocks_new_customers_of_that_insurer_in_that_branch(li):
    first = to_disbursed(li)  # this customer now has a 银保贷 loan
    other = Customer(outlet_id=li.a.id, kind="corporate", name="新客户公司", deposit_balance=D(0),
                     maintainer_id=li.corp_rm.id)
    db.session.add(other)
    db.session.commit()
    as_user(li.branch_admin1, s.suspend_insurer, li.insurer.id, date(2024, 3, 1), "保险公司未在5个工作日内赔付")
    new_case = to_approving(li, customer_id=other.id)
    with pytest.raises(s.ServiceError, match="暂停新增客户审批"):
        as_user(li.approver, s.transition, new_case.id, "disbursement_check", on=date(2024, 3, 12))
    old_customer_case = to_approving(li)  # the customer of `first` is not new
    as_user(li.approver, s.transition, old_customer_case.id, "disbursement_check", on=date(2024, 3, 12))
    assert fresh(old_customer_case.id).status == "disbursement_check"
    assert first.customer_id == old_customer_case.customer_id


def test_suspension_needs_a_reason_and_only_counts_in_its_branch(li):
    with pytest.raises(s.FormErrors):
        as_user(li.branch_admin1, s.suspend_insurer, li.insurer.id, date(2024, 3, 1), "")
    with pytest.raises(s.ServiceError, match="没有此项权限"):
        as_user(li.corp_rm, s.suspend_insurer, li.insurer.id, date(2024, 3, 1), "x")
    with pytest.raises(s.ServiceError, match="保险公司不存在"):  # another 分行's panel administrator
        as_user(li.branch_admin2, s.suspend_insurer, li.insurer.id, date(2024, 3, 1), "x")
    row = as_user(li.admin, s.suspend_insurer, li.insurer.id, date(2024, 3, 1), "乙分行暂停", branch_id=li.b2.id)
    assert row.branch_id == li.b2.id
    case = to_approving(li)
    as_user(li.approver, s.transition, case.id, "disbursement_check", on=date(2024, 3, 12))
    assert fresh(case.id).status == "disbursement_check"


# ---------------------------------------------------------------- default, claim, recovery

def test_t27_default_event_offers_the_measures(li):
    case = to_disbursed(li)
    as_user(li.corp_rm, s.transition, case.id, "post_loan")
    event, measures = as_user(li.corp_rm, s.record_default_event, case.id, 1, date(2024, 4, 15), "资金挪用于购房")
    assert fresh(case.id).status == "defaulted"
    assert [label for _code, label in measures] == ["调整或取消贷款额度", "停止发放贷款", "拒绝新的提款要求",
                                                    "终止贷款合同", "要求立即偿还所有未还借款"]
    assert s.transitions(fresh(case.id))[-1].reason == "借款人擅自改变贷款用途"
    as_user(li.corp_rm, s.record_measure, case.id, "stop_disbursement", date(2024, 4, 16), default_event_id=event.id)
    as_user(li.corp_rm, s.record_measure, case.id, "accelerate", date(2024, 4, 16))
    with pytest.raises(s.FormErrors):
        as_user(li.corp_rm, s.record_measure, case.id, "sue_everyone", date(2024, 4, 16))
    with pytest.raises(s.FormErrors):
        as_user(li.corp_rm, s.record_default_event, case.id, 8, date(2024, 4, 15))


def test_default_before_disbursement_is_refused(li):
    case = create(li)
    with pytest.raises(s.ServiceError, match="只有已放款的案件"):
        as_user(li.corp_rm, s.record_default_event, case.id, 2, date(2024, 4, 15))


def defaulted(li) -> LoanCase:
    case = to_disbursed(li)
    as_user(li.corp_rm, s.record_default_event, case.id, 2, date(2024, 4, 15), "逾期未还本息")
    return fresh(case.id)


def test_claim_deadlines_in_working_days(li):
    case = defaulted(li)
    claim = as_user(li.corp_rm, s.open_claim, case.id)
    # Waiting period 30 calendar days: 2024-04-15 → 2024-05-15 (Wed); claim due 3 working days later: 05-20 (Mon).
    assert (claim.waiting_period_end, claim.deadline) == (date(2024, 5, 15), date(2024, 5, 20))
    with pytest.raises(s.FormErrors, match="赔款等待期2024-05-15结束后"):
        as_user(li.corp_rm, s.submit_claim, case.id, date(2024, 5, 14))
    assert s.claim_flags(claim, date(2024, 5, 20)).bank_late is False
    assert s.claim_flags(claim, date(2024, 5, 21)).bank_late is True
    as_user(li.corp_rm, s.submit_claim, case.id, date(2024, 5, 20))
    claim = as_user(li.corp_rm, s.claim_docs_complete, case.id, date(2024, 5, 21))
    assert claim.insurer_deadline == date(2024, 5, 28)  # 5 working days after Tue 05-21
    assert fresh(case.id).status == "claiming"
    assert s.claim_flags(claim, date(2024, 5, 28)).insurer_late is False
    assert s.claim_flags(claim, date(2024, 5, 29)).insurer_late is True
    with db.session.no_autoflush:
        late = s.late_insurer_claims(li.head_a, date(2024, 5, 29))
    assert [c.id for c, _ in late] == [case.id]
    with pytest.raises(s.ServiceError, match="保险公司未逾期赔付"):
        as_user(li.approver, s.suspend_for_late_claim, case.id, date(2024, 5, 28))
    with pytest.raises(s.ServiceError, match="没有此项权限"):
        as_user(li.corp_rm, s.suspend_for_late_claim, case.id, date(2024, 5, 29))
    stop = as_user(li.approver, s.suspend_for_late_claim, case.id, date(2024, 5, 29))
    assert (stop.branch_id, stop.insurer_id, stop.starts_on) == (li.b1.id, li.insurer.id, date(2024, 5, 29))
    assert stop.reason == f"案件#{case.id}：资料齐全后应于2024-05-28前赔付，保险公司未按时赔付"
    claim = as_user(li.corp_rm, s.record_claim_payment, case.id, date(2024, 5, 29), "600000")
    assert s.claim_flags(claim, date(2024, 6, 30)) == s.ClaimFlags(bank_late=False, insurer_late=True)
    assert fresh(case.id).status == "recovering"
    paid = db.session.execute(select(AuditLog).where(AuditLog.action == "loan_insurance.claim_paid")).scalar_one()
    assert paid.detail["late"] is True


def test_claim_deadlines_across_the_spring_festival_and_a_make_up_workday(li):
    """R-68 with the real PRC calendar (crm.workdays, seeded from chinesecalendar): the 2026 Spring Festival is off
    from 02-15 to 02-23, Saturday 02-14 and Saturday 02-28 are make-up workdays."""
    from crm.workdays import seed_from_package

    seed_from_package([2026])
    case = defaulted(li)
    # Waiting period ends Thu 2026-02-12: day 1 Fri 02-13, day 2 Sat 02-14 (make-up workday), holiday, day 3 Tue 02-24.
    claim = as_user(li.corp_rm, s.open_claim, case.id, waiting_period_end=date(2026, 2, 12))
    assert claim.deadline == date(2026, 2, 24)
    assert s.claim_flags(claim, date(2026, 2, 24)).bank_late is False
    assert s.claim_flags(claim, date(2026, 2, 25)).bank_late is True
    as_user(li.corp_rm, s.submit_claim, case.id, date(2026, 2, 13))
    # Complete materials on Fri 02-20 (a holiday): 02-24, 02-25, 02-26, 02-27, then Sat 02-28 (make-up) is day 5.
    claim = as_user(li.corp_rm, s.claim_docs_complete, case.id, date(2026, 2, 20))
    assert claim.insurer_deadline == date(2026, 2, 28)
    assert s.claim_flags(claim, date(2026, 3, 2)).insurer_late is True


def test_late_submission_is_recorded(li):
    case = defaulted(li)
    as_user(li.corp_rm, s.open_claim, case.id)
    as_user(li.corp_rm, s.submit_claim, case.id, date(2024, 5, 21))
    assert s.transitions(fresh(case.id))[-1].reason == "递交索赔申请（逾期，应于2024-05-20前递交）"


def paid_claim(li, amount="600000") -> LoanCase:
    case = defaulted(li)
    as_user(li.corp_rm, s.open_claim, case.id)
    as_user(li.corp_rm, s.submit_claim, case.id, date(2024, 5, 16))
    as_user(li.corp_rm, s.claim_docs_complete, case.id, date(2024, 5, 17))
    as_user(li.corp_rm, s.record_claim_payment, case.id, date(2024, 5, 20), amount)
    return fresh(case.id)


def test_t26_recovery_net_of_costs_shared_per_agreement(li):
    case = paid_claim(li)
    r = as_user(li.corp_rm, s.record_recovery, case.id, date(2024, 8, 1), "250000", "30000")
    assert (r.net, r.insurer_share, r.bank_share, r.capped) == (D("220000.00"), D("110000.00"), D("110000.00"),
                                                                False)
    with pytest.raises(s.FormErrors, match="追偿费用不能大于追偿所得"):
        as_user(li.corp_rm, s.record_recovery, case.id, date(2024, 8, 2), "1000", "1000.01")


def test_t26_insurer_recovery_is_capped_at_what_it_paid(li):
    db.session.execute(LoanAgreement.__table__.update().values(insurer_recovery_share=D("1")))
    db.session.commit()
    case = paid_claim(li)
    first = as_user(li.corp_rm, s.record_recovery, case.id, date(2024, 8, 1), "530000", "30000")
    assert (first.insurer_share, first.bank_share) == (D("500000.00"), D("0.00"))
    second = as_user(li.corp_rm, s.record_recovery, case.id, date(2024, 9, 1), "250000", "30000")
    # Net 220,000 but only 100,000 of room left under the 600,000 paid: the rest goes to the bank.
    assert (second.insurer_share, second.bank_share, second.capped) == (D("100000.00"), D("120000.00"), True)
    third = as_user(li.corp_rm, s.record_recovery, case.id, date(2024, 10, 1), "50000", "0")
    assert (third.insurer_share, third.bank_share) == (D("0.00"), D("50000.00"))
    claim = db.session.execute(select(LoanClaim).where(LoanClaim.case_id == case.id)).scalar_one()
    db.session.refresh(claim)
    assert claim.insurer_recovered == D("600000.00") == claim.paid_amount
    assert sum(x.insurer_share for x in s.case_recoveries(case)) == D("600000.00")


def test_split_recovery_rounds_half_up():
    assert s.split_recovery(D("0.05"), D("0.5"), D("100"), D("0")) == (D("0.03"), D("0.02"), False)


def test_every_transition_row_has_actor_and_time(li):
    case = to_approving(li)
    rows = db.session.execute(select(LoanTransition).where(LoanTransition.case_id == case.id)).scalars().all()
    assert all(r.actor_id and r.at for r in rows)


def test_a_case_created_with_a_prohibited_flag_is_prohibited_at_once(li):
    case = create(li, prohibited_10=True, prohibited_note="本行禁止授信客户名单")
    case = fresh(case.id)
    assert case.status == "prohibited" and case.status_label == "禁止"
    assert [(t.from_status, t.to_status) for t in s.transitions(case)] == [(None, "accepted"),
                                                                          ("accepted", "prohibited")]
    reasons = {r.rule_id: r for r in s.evaluate_case(case)}
    assert reasons["R-52.10"].outcome == "prohibited" and "本行禁止授信客户名单" in reasons["R-52.10"].reason


def test_panel_insurers_and_agreements(li):
    with pytest.raises(s.ServiceError, match="没有此项权限"):
        as_user(li.approver, s.save_insurer, {"name": "人保财险"})
    with pytest.raises(s.FormErrors) as err:
        as_user(li.branch_admin1, s.save_insurer, {"name": "人保财险", "hq": "1"})
    assert err.value.errors == {"hq": "只有系统管理员可以维护总行入围保险公司"}
    ins = as_user(li.branch_admin1, s.save_insurer, {"name": "人保财险"})
    assert ins.branch_id == li.b1.id
    with pytest.raises(s.FormErrors) as err:
        as_user(li.branch_admin1, s.save_agreement, ins.id, {
            "agreement_no": "", "valid_from": "2024-06-01", "valid_to": "2024-05-31", "premium_rate": "1.5",
            "mortgage_rate": "0.6", "insurer_recovery_share": "0.5", "waiting_days": "30.5"})
    assert err.value.errors == {"agreement_no": "请填写协议编号", "valid_to": "协议到期日不能早于生效日",
                                "premium_rate": "保险费率须在0至1之间", "waiting_days": "赔款等待期须为整数天"}
    ag = as_user(li.branch_admin1, s.save_agreement, ins.id, {
        "agreement_no": "RB-1", "valid_from": "2024-06-01", "valid_to": "2025-05-31", "premium_rate": "0.012",
        "mortgage_rate": "0.65", "insurer_recovery_share": "0.4", "waiting_days": "60", "collection_fee": "300"})
    assert (ag.premium_rate, ag.mortgage_rate, ag.waiting_days) == (D("0.012"), D("0.65"), 60)
    with db.session.no_autoflush:
        on_day = [a.agreement_no for a in s.panel_agreements(li.head_a, date(2024, 6, 1))]
        assert sorted(on_day) == ["RB-1", "YBD-2024-01"]
        assert [a.agreement_no for a in s.panel_agreements(li.head_a, date(2025, 6, 1))] == ["YBD-2024-01"]
        assert s.panel_agreements(li.head_b, date(2024, 6, 1)) == []  # 乙分行 has no panel insurer
    with pytest.raises(s.ServiceError, match="保险公司不存在"):
        as_user(li.branch_admin2, s.save_agreement, ins.id, {"agreement_no": "X"})


def test_evaluating_a_loaded_case_runs_no_query_and_is_fast(li):
    import statistics
    import time

    from sqlalchemy import event

    from plugins.loan_insurance import rules

    case = create(li)
    db.session.expire_all()
    with db.session.no_autoflush:
        loaded = s.visible_case(case.id, li.head_a)
        statements: list[str] = []

        def count(*args, **kw):
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            timings = []
            for _ in range(50):
                t = time.perf_counter()
                results = rules.evaluate(loaded, date(2024, 3, 4))
                timings.append(time.perf_counter() - t)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []
    assert statistics.median(timings) < 0.005
    assert [r.rule_id for r in results if r.outcome != "pass"] == []
