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
BATCH = 2_000


class ExportError(ValueError):
    pass


def _name(names: dict[int | None, str | None], model: Any, ids: set[int | None]) -> None:
    """Add the names of the outlets or staff `ids` not yet in `names`."""
    missing = sorted(i for i in ids if i not in names)
    if missing:
        names.update(db.session.execute(select(model.id, model.name).where(model.id.in_(missing))).all())


def columns() -> list[Column]:
    # Certificate and mobile numbers are text-formatted ("@"): a number typed into them again stays exact. Names
    # and labels are strings anyway and need no cell format (each one costs XlsxWriter ≈1 µs a cell).
    return [Column(_("客户名称"), 24, "plain"), Column(_("类型"), 6, "plain"), Column(_("存量/目标"), 8, "plain"),
            Column(_("证件号码"), 22), Column(_("手机号码"), 14), Column(_("网点"), 18, "plain"),
            Column(_("维护人"), 10, "plain"), Column(_("层级"), 6, "plain"),
            Column(_("存款余额（元）"), 16, "money"), Column(_("存款日均（元）"), 16, "money"),
            Column(_("有无贷款"), 8, "plain"), Column(_("贷款余额（元）"), 16, "money"),
            Column(_("最近联系"), 16, "datetime")]


def export(actor: Any, f: Filters, *, extra: Any = None, label: str | None = None) -> tuple[BytesIO, int, bool]:
    """Stream the filtered customers (scoped) into an .xlsx. Full ID and mobile numbers only for posts that may
    reveal them; everyone else gets them masked. Every export is audited with its size. `extra` narrows the list
    further (a plugin's saved list), `label` names it in the audit row; the scope is applied whatever they say."""
    n, more = count(actor, f, cap=MAX_ROWS, extra=extra)
    if more:
        raise ExportError(_("符合条件的客户超过 %(n)s 位，请缩小筛选范围后再导出", n=format(MAX_ROWS, ",")))
    full = can("customers.reveal", actor)
    # Outlet and maintainer ids, named from small maps filled batch by batch (a few hundred names), rather than
    # two correlated subqueries per row; plain column tuples through Core, not ORM rows.
    stmt = filtered(actor, f)
    if extra is not None:
        stmt = stmt.where(extra)
    stmt = stmt.with_only_columns(
        Customer.name, Customer.kind, Customer.status, Customer.cert_no, Customer.phone, Customer.outlet_id,
        Customer.maintainer_id, Customer.tier, Customer.deposit_balance, Customer.deposit_daily_avg,
        Customer.has_loan, Customer.loan_balance, Customer.last_contact_at)
    order = {"deposit": (Customer.deposit_balance.desc(), Customer.id.desc()),
             "contact": (Customer.last_contact_at.desc().nulls_last(), Customer.id.desc()),
             "newest": (Customer.id.desc(),)}.get(f.sort, (Customer.name_pinyin, Customer.id))
    zone = local_tz()
    kinds = {k: str(v) for k, v in KINDS.items()}
    statuses = {k: str(v) for k, v in STATUSES.items()}
    yes, no = _("有"), _("无")

    outlets: dict[int | None, str | None] = {None: None}
    staff: dict[int | None, str | None] = {None: None}

    def rows():
        # Streamed in batches (a server-side cursor on PostgreSQL): a 100,000-row export never holds the whole
        # list in memory.
        result = db.session.connection().execute(stmt.order_by(*order).execution_options(yield_per=BATCH))
        for batch in result.partitions():
            _name(outlets, Outlet, {r[5] for r in batch})
            _name(staff, User, {r[6] for r in batch})
            for (name, kind, status, cert_no, phone, outlet_id, maintainer_id, tier, balance, daily_avg, has_loan,
                 loan, contact) in batch:
                if contact is not None:
                    contact = contact.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
                yield (name, kinds.get(kind, kind), statuses.get(status, status),
                       cert_no if full else mask_id_card(cert_no), phone if full else mask_mobile(phone),
                       outlets[outlet_id], staff[maintainer_id], tier, balance, daily_avg, yes if has_loan else no,
                       loan if has_loan else None, contact)

    buffer = BytesIO()
    written = write_sheet(buffer, _("客户清单"), columns(), rows())
    buffer.seek(0)
    audit.record("customer.exported",
                 detail={"rows": written, "masked": not full, "filters": {k: str(v) for k, v in f.args().items()},
                         **({"list": label} if label else {})})
    db.session.commit()
    return buffer, written, full
