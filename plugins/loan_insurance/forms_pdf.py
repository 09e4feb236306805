"""The three attachments of the 银保贷 办法 (R-71) as A4 PDFs: 《索赔申请书》, 《未按期还款记录清单》, 《权益转让证明书》;
plus the case facts (customer, outlet, 分行, insurer) the pages, the export and the widget print."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm import pdf
from crm.access import can, scoped
from crm.extensions import db
from crm.masking import mask_id_card
from crm.models import Branch, Customer, Outlet, User
from plugins.loan_insurance import services
from plugins.loan_insurance.models import (
    DEFAULT_EVENTS,
    PRODUCTS,
    LoanCase,
    LoanDefaultEvent,
)

FORMS = {
    "claim": ("loan_insurance/pdf_claim.html", _l("索赔申请书")),
    "overdue": ("loan_insurance/pdf_overdue.html", _l("未按期还款记录清单")),
    "assignment": ("loan_insurance/pdf_assignment.html", _l("权益转让证明书")),
}
OVERDUE_EVENT = 2  # R-66 (二): 未按合同约定支付到期贷款本息等应付款项


class FormRefused(ValueError):
    """The form cannot be printed yet; the message says why, in Chinese."""


def customers_of(user: Any, ids: set[int]) -> dict[int, Customer]:
    """The customers among `ids` the user may see (plugins read customers only through ``scoped``)."""
    if not ids:
        return {}
    rows = db.session.execute(scoped(Customer, user).where(Customer.id.in_(sorted(ids)))).scalars()
    return {c.id: c for c in rows}


def names_of(model: Any, ids: set[int | None]) -> dict[int, str]:
    keys = sorted(i for i in ids if i is not None)
    if not keys:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(keys))).all())


@dataclass(frozen=True)
class CaseFacts:
    customer_name: str
    cert_no: str  # 统一社会信用代码, masked for posts without customers.reveal
    outlet_name: str
    branch_name: str
    insurer_name: str
    agreement_no: str
    product_label: str
    rm_name: str


def case_facts(user: Any, case: LoanCase) -> CaseFacts:
    customer = customers_of(user, {case.customer_id}).get(case.customer_id)
    cert = (customer.cert_no or "") if customer else ""
    if cert and not can("customers.reveal", user):
        cert = mask_id_card(cert)
    agreement = case.agreement
    return CaseFacts(
        customer_name=customer.name if customer else "—",
        cert_no=cert,
        outlet_name=names_of(Outlet, {case.outlet_id}).get(case.outlet_id, ""),
        branch_name=names_of(Branch, {case.branch_id}).get(case.branch_id, ""),
        insurer_name=agreement.insurer.name if agreement else "",
        agreement_no=agreement.agreement_no if agreement else "",
        product_label=str(PRODUCTS.get(case.product, case.product)),
        rm_name=names_of(User, {case.rm_id}).get(case.rm_id, "") if case.rm_id else "",
    )


def default_events(case: LoanCase) -> list[LoanDefaultEvent]:
    return list(db.session.execute(select(LoanDefaultEvent).where(LoanDefaultEvent.case_id == case.id)
                                   .order_by(LoanDefaultEvent.occurred_on, LoanDefaultEvent.id)).scalars())


def event_label(code: int) -> str:
    return str(DEFAULT_EVENTS[code - 1]) if 1 <= code <= len(DEFAULT_EVENTS) else str(code)


def _context(user: Any, case: LoanCase, form: str, today: date) -> dict[str, Any]:
    claim = services.case_claim(case)
    events = default_events(case)
    ctx: dict[str, Any] = {"case": case, "facts": case_facts(user, case), "claim": claim, "today": today,
                           "events": [(e, event_label(e.event)) for e in events],
                           "guarantors": list(case.guarantors), "title": str(FORMS[form][1])}
    if form == "claim":
        if claim is None:
            raise FormRefused(_("尚未发起索赔，不能打印《索赔申请书》"))
        ctx["first_default"] = events[0].occurred_on if events else None
        # The amount claimed: the insured amount of the policy (the insurer covers the part above the mortgage
        # rate, R-55); the approved figure when the policy amount is empty.
        ctx["claimed"] = case.insured_amount or case.approved_insured_amount
    elif form == "overdue":
        rows = [(e, (today - e.occurred_on).days) for e in events if e.event == OVERDUE_EVENT]
        if not rows:
            raise FormRefused(_("本案件没有“未按合同约定支付到期贷款本息”的违约事件，无需打印《未按期还款记录清单》"))
        ctx["rows"] = rows
    elif form == "assignment":
        if claim is None or claim.paid_on is None:
            raise FormRefused(_("保险公司赔付后方可出具《权益转让证明书》"))
    return ctx


def render_form(user: Any, case: LoanCase, form: str, today: date) -> tuple[pdf.Rendered, str]:
    """Render one attachment of the case; returns the PDF and its download name. Raises FormRefused."""
    if form not in FORMS:
        raise FormRefused(_("没有这种表单"))
    template, label = FORMS[form]
    rendered = pdf.render(template, **_context(user, case, form, today))
    return rendered, f"{label}-{case.id}-{today.isoformat()}.pdf"
