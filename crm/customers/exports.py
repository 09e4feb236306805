"""Customer export: the current filtered list (or the R-12 stock-customer list) as Excel, masked per post."""

from __future__ import annotations

from datetime import UTC
from io import BytesIO
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm import audit
from crm.access import can
from crm.customers.services import Filters, count, filtered
from crm.excel import Column, write_sheet
from crm.extensions import db
from crm.masking import mask_id_card, mask_mobile
from crm.models import Customer, Outlet, User
from crm.models.customers import KINDS, STATUSES
from crm.timeutil import local_tz

MAX_ROWS = 200_000


class ExportError(ValueError):
    pass


def columns() -> list[Column]:
    return [Column(_("客户名称"), 24), Column(_("类型"), 6), Column(_("存量/目标"), 8), Column(_("证件号码"), 22),
            Column(_("手机号码"), 14), Column(_("网点"), 18), Column(_("维护人"), 10), Column(_("层级"), 6),
            Column(_("存款余额（元）"), 16, "money"), Column(_("存款日均（元）"), 16, "money"),
            Column(_("有无贷款"), 8), Column(_("贷款余额（元）"), 16, "money"), Column(_("最近联系"), 16, "datetime")]


def export(actor: Any, f: Filters) -> tuple[BytesIO, int, bool]:
    """Stream the filtered customers (scoped) into an .xlsx. Full ID and mobile numbers only for posts that may
    reveal them; everyone else gets them masked. Every export is audited with its size."""
    n, more = count(actor, f, cap=MAX_ROWS)
    if more:
        raise ExportError(_("符合条件的客户超过 %(n)s 位，请缩小筛选范围后再导出", n=f"{MAX_ROWS:,}"))
    full = can("customers.reveal", actor)
    maintainer = select(User.name).where(User.id == Customer.maintainer_id).scalar_subquery()
    outlet = select(Outlet.name).where(Outlet.id == Customer.outlet_id).scalar_subquery()
    stmt = filtered(actor, f).with_only_columns(
        Customer.name, Customer.kind, Customer.status, Customer.cert_no, Customer.phone, outlet, maintainer,
        Customer.tier, Customer.deposit_balance, Customer.deposit_daily_avg, Customer.has_loan,
        Customer.loan_balance, Customer.last_contact_at)
    order = {"deposit": (Customer.deposit_balance.desc(), Customer.id.desc()),
             "contact": (Customer.last_contact_at.desc().nulls_last(), Customer.id.desc()),
             "newest": (Customer.id.desc(),)}.get(f.sort, (Customer.name_pinyin, Customer.id))
    zone = local_tz()
    kinds = {k: str(v) for k, v in KINDS.items()}
    statuses = {k: str(v) for k, v in STATUSES.items()}
    yes, no = _("有"), _("无")

    def rows():
        # Streamed in batches: a 100,000-row export never holds the whole list in memory.
        for r in db.session.execute(stmt.order_by(*order).execution_options(yield_per=2000)):
            contact = r.last_contact_at.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None) \
                if r.last_contact_at else None
            yield (r.name, kinds.get(r.kind, r.kind), statuses.get(r.status, r.status),
                   r.cert_no if full else mask_id_card(r.cert_no), r.phone if full else mask_mobile(r.phone),
                   r[5], r[6], r.tier, r.deposit_balance, r.deposit_daily_avg, yes if r.has_loan else no,
                   r.loan_balance if r.has_loan else None, contact)

    buffer = BytesIO()
    written = write_sheet(buffer, _("客户清单"), columns(), rows())
    buffer.seek(0)
    audit.record("customer.exported",
                 detail={"rows": written, "masked": not full, "filters": {k: str(v) for k, v in f.args().items()}})
    db.session.commit()
    return buffer, written, full
