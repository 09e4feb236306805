"""The loan_insurance plugin object: metadata, permissions (who does which step of 银保贷) and hooks."""

from __future__ import annotations

from pathlib import Path

from flask import url_for
from flask_babel import lazy_gettext as _l

from crm import hookimpl
from crm.contrib import NavItem, Panel, Permission, Widget

# Who sees cases (in their scope): branch credit posts, the outlet's management and corporate customer managers.
VIEW_POSTS = ("admin", "branch_admin", "branch_head", "sub_branch_president", "product_manager", "outlet_head",
              "outlet_deputy", "corporate_rm")
# 受理 and 贷前调查: the handling outlet — corporate RM, outlet head and deputy — accepts the customer,
# collects the R-61 documents, investigates and submits to review.
PREPARE_POSTS = ("admin", "corporate_rm", "outlet_head", "outlet_deputy")
# 审查: credit review above the outlet — 支行行长 and 产品经理 of the 支行/分行.
REVIEW_POSTS = ("admin", "sub_branch_president", "product_manager")
# 审批: the approving authority — 分行负责人 and 支行行长 (maker-checker keeps the reviewer from approving).
APPROVE_POSTS = ("admin", "branch_head", "sub_branch_president")
# 放款审核岗: a post independent from the approver; 产品经理 and 分行负责人 (never the case's approver).
DISBURSE_POSTS = ("admin", "product_manager", "branch_head")
# "原则上" exceptions: only the approving authority may accept them, with a recorded reason.
OVERRIDE_POSTS = ("admin", "branch_head", "sub_branch_president")
# 贷后, default events, measures, claims and recoveries: the handling outlet and its 支行/分行 heads.
POST_LOAN_POSTS = ("admin", "corporate_rm", "outlet_head", "outlet_deputy", "sub_branch_president", "branch_head")
# The insurer panel and agreements (R-49, R-60): the 分行's administrator; HQ-wide insurers
# only the system administrator.
PANEL_POSTS = ("admin", "branch_admin")


# How the audit log names this plugin's actions and objects (crm_register_audit_labels).
AUDIT_LABELS = (
    ("loan_insurance.case_created", _l("受理银保贷案件")),
    ("loan_insurance.case_updated", _l("修改银保贷案件")),
    ("loan_insurance.transition", _l("银保贷流程流转")),
    ("loan_insurance.override", _l("银保贷例外放行")),
    ("loan_insurance.document", _l("登记贷前材料")),
    ("loan_insurance.document_downloaded", _l("下载贷前材料")),
    ("loan_insurance.review", _l("银保贷审查意见")),
    ("loan_insurance.disbursement_check", _l("银保贷放款审核")),
    ("loan_insurance.default_event", _l("登记违约事件")),
    ("loan_insurance.measure", _l("登记违约处置措施")),
    ("loan_insurance.claim_opened", _l("发起索赔")),
    ("loan_insurance.claim_submitted", _l("递交索赔申请")),
    ("loan_insurance.claim_docs_complete", _l("索赔资料齐全")),
    ("loan_insurance.claim_paid", _l("保险公司赔付")),
    ("loan_insurance.recovery", _l("登记追偿")),
    ("loan_insurance.form_printed", _l("打印银保贷附件")),
    ("loan_insurance.exported", _l("导出银保贷案件")),
    ("loan_insurance.insurer_saved", _l("维护入围保险公司")),
    ("loan_insurance.agreement_saved", _l("新增合作协议")),
    ("loan_insurance.agreement_updated", _l("修改合作协议")),
    ("loan_insurance.insurer_suspended", _l("暂停保险公司新增客户审批")),
    ("loan_insurance.suspension_lifted", _l("恢复保险公司新增客户审批")),
    ("loan_insurance_case", _l("银保贷案件")),
    ("loan_insurance_insurer", _l("入围保险公司")),
    ("loan_insurance_agreement", _l("合作协议")),
    ("loan_insurance_document", _l("贷前材料")),
)


class LoanInsurancePlugin:
    name = "loan_insurance"
    label = "银保贷"
    description = "银保贷：准入规则逐条判断、材料清单、审查审批放款审核（双人复核）、违约索赔与追偿"
    version = "0.1"
    default_enabled = False

    @hookimpl
    def crm_register_blueprints(self, app):
        from plugins.loan_insurance.views import bp

        return [bp]

    @hookimpl
    def crm_register_permissions(self):
        return [
            Permission("loan_insurance.view", _l("查看银保贷案件"), posts=VIEW_POSTS),
            Permission("loan_insurance.prepare", _l("银保贷受理、贷前调查与材料收集"), posts=PREPARE_POSTS),
            Permission("loan_insurance.review", _l("银保贷审查"), posts=REVIEW_POSTS),
            Permission("loan_insurance.approve", _l("银保贷审批"), posts=APPROVE_POSTS),
            Permission("loan_insurance.disburse_check", _l("银保贷放款审核"), posts=DISBURSE_POSTS),
            Permission("loan_insurance.override", _l("银保贷“原则上”例外放行（须填写理由）"), posts=OVERRIDE_POSTS),
            Permission("loan_insurance.post_loan", _l("银保贷贷后、违约、索赔与追偿"), posts=POST_LOAN_POSTS),
            Permission("loan_insurance.manage_panel", _l("维护入围保险公司、合作协议与暂停审批"), posts=PANEL_POSTS),
        ]

    @hookimpl
    def crm_migration_dirs(self):
        return str(Path(__file__).parent / "migrations" / "versions")

    @hookimpl
    def crm_nav_items(self, user, branch):
        return [NavItem(_l("银保贷"), "loan_insurance.index", icon="bi-shield-check", weight=45,
                        permission="loan_insurance.view")]

    @hookimpl
    def crm_customer_panels(self, customer, user, branch):
        # 银保贷 is for enterprises and 个体工商户: corporate customers only; loaded lazily.
        from crm.access import can

        if customer.kind != "corporate" or not can("loan_insurance.view", user):
            return []
        return [Panel("loan_insurance.cases", _l("银保贷"), url_for("loan_insurance.panel_customer",
                                                                 customer_id=customer.id), weight=30)]

    @hookimpl
    def crm_dashboard_widgets(self, user, branch):
        from crm.access import can

        if not can("loan_insurance.view", user):
            return []
        return [Widget("loan_insurance.claims", _l("银保贷索赔提醒"), url_for("loan_insurance.widget"), weight=45,
                       width=6)]

    @hookimpl
    def crm_register_audit_labels(self):
        return AUDIT_LABELS

    @hookimpl
    def crm_seed_demo(self, seed):
        from plugins.loan_insurance.demo import seed_demo

        made = seed_demo(seed)
        return f"银保贷：{made} 笔演示案件（受理、调查、审查、审批、放款、贷后、索赔、追偿、结清）" if made else None
