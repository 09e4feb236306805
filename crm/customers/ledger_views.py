"""包户包效客户台账 (R-09): the ledger page and the PDF, on the customers blueprint.

Anyone with customers.view prints their own ledger (the customers they maintain). Another staff member's or an
outlet's ledger needs users.view, and the staff member / outlet must be in the actor's scope: otherwise 404.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import Response, abort, redirect, render_template, request, url_for
from flask_login import current_user

from crm import audit, pdf
from crm.access import can, get_or_404, policy, scoped
from crm.customers import ledger
from crm.customers.views import bp
from crm.extensions import db
from crm.models import Outlet, User
from crm.web import toast

_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def _deny(target: tuple[str, str]) -> None:
    """No right to print others' ledgers: answered like an unknown id (404), and audited."""
    audit.record("access.denied", target=target, result="denied", commit=True)
    abort(404)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        abort(404)


@bp.route("/ledger")
@policy(permission="customers.view")
def ledger_page():
    mine = ledger.count_customers(current_user)
    ctx: dict = {"mine": mine, "max_customers": ledger.MAX_CUSTOMERS, "outlets": [], "staff": []}
    if can("users.view"):
        ctx["outlets"] = db.session.execute(scoped(Outlet).where(Outlet.active).order_by(Outlet.code)).scalars().all()
        ctx["staff"] = db.session.execute(
            scoped(User).where(User.active, User.outlet_id.is_not(None)).order_by(User.outlet_id, User.name)
            .limit(2000)).scalars().all()
    return render_template("ledger/page.html", **ctx)


@bp.route("/ledger.pdf")
@policy(permission="customers.view")
def ledger_pdf():
    user_id, outlet_id = _int_arg("user"), _int_arg("outlet")
    if user_id is not None and outlet_id is not None:
        abort(400)
    outlet = user = None
    if outlet_id is not None:
        if not can("users.view"):
            _deny(("outlet", str(outlet_id)))
        outlet = get_or_404(Outlet, outlet_id)
    elif user_id is not None and user_id != current_user.id:
        if not can("users.view"):
            _deny(("user", str(user_id)))
        user = get_or_404(User, user_id)
    else:
        user = current_user._get_current_object()
    try:
        data = ledger.gather(current_user, user=user, outlet=outlet)
    except ledger.LedgerTooLarge as exc:
        toast(exc.message, "danger")
        return redirect(url_for("customers.ledger_page"))
    rendered = pdf.render("ledger/ledger.html", ledger=data)
    audit.record("customer.ledger_printed", target=(data.kind, data.target_id),
                 detail={"customers": data.count, "pages": rendered.pages})
    db.session.commit()
    name = f"{_UNSAFE_FILENAME.sub('_', data.subject).strip() or data.kind}_{data.title}_{data.period}.pdf"
    fallback = f"ledger-{data.kind}-{data.target_id}-{data.period_key}.pdf"
    return Response(rendered.data, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
        "Content-Length": str(len(rendered.data)),
    })

