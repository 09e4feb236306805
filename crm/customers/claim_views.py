"""包户包效 pages: the claim pool, duplicate resolution, allocation and hand-over (on the customers blueprint)."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from crm import audit
from crm.access import can, policy
from crm.customers import claims
from crm.customers.search import condition
from crm.customers.views import bp
from crm.extensions import db
from crm.models import Customer, CustomerClaim, User
from crm.roles import CLAIM_ORDER, POST_BY_CODE
from crm.web import toast


def _own_outlet_customer(customer_id: int) -> Customer:
    """Claims work on the customers of the actor's own outlet, including ones outside the actor's list scope
    (nobody maintains them yet); any other id answers 404."""
    customer = db.session.execute(select(Customer).where(
        Customer.id == customer_id, Customer.outlet_id == current_user.outlet_id)).scalar_one_or_none()
    if customer is None or current_user.outlet_id is None:
        if db.session.get(Customer, customer_id) is not None:  # another outlet's customer: a denied access
            audit.record("access.denied", target=("customer", customer_id), result="denied", commit=True)
        abort(404)
    return customer


@bp.route("/claims")
@policy(permission="customers.claim")
def claim_page():
    if current_user.outlet_id is None:
        abort(404)
    q = (request.args.get("q") or "").strip()[:40]
    pool = claims.claim_pool(current_user)
    cond = condition(q)
    if cond is not None:
        pool = pool.where(cond)
    rows = db.session.execute(pool.order_by(Customer.name_pinyin, Customer.id).limit(100)).scalars().all()
    mine = db.session.execute(select(CustomerClaim).where(
        CustomerClaim.user_id == current_user.id, CustomerClaim.kind == "claim")
        .order_by(CustomerClaim.id.desc()).limit(20)).scalars().all()
    ctx = dict(rows=rows, q=q, mine=mine, customers={c.id: c for c in db.session.execute(select(Customer).where(
        Customer.id.in_({m.customer_id for m in mine}))).scalars()} if mine else {})
    if can("customers.allocate"):
        duplicates = db.session.execute(select(Customer).where(
            Customer.outlet_id == current_user.outlet_id, Customer.duplicate_claim.is_(True))
            .order_by(Customer.id).limit(100)).scalars().all()
        staff = db.session.execute(select(User).where(User.outlet_id == current_user.outlet_id)
                                   .order_by(User.active.desc(), User.name)).scalars().all()
        held = dict(db.session.execute(select(Customer.maintainer_id, func.count()).where(
            Customer.outlet_id == current_user.outlet_id).group_by(Customer.maintainer_id)).all())
        ctx.update(duplicates=[(c, claims.candidates(c)) for c in duplicates], staff=staff, held=held,
                   summary=claims.allocation_summary(current_user),
                   posts=[(p, POST_BY_CODE[p].label) for p in CLAIM_ORDER])
        table = claims.quotas(current_user)  # quotas, when a plugin of the 分行 supplies them
        if table:
            tiers, rows = claims.quota_overview(current_user, table)
            ctx.update(quota_tiers=tiers, quota_rows=[(POST_BY_CODE[p].label, cells) for p, cells in rows])
    return render_template("customers/claims.html", **ctx)


@bp.route("/<int:customer_id>/claim", methods=["POST"])
@policy(permission="customers.claim")
def claim(customer_id: int):
    customer = _own_outlet_customer(customer_id)
    try:
        state = claims.claim(current_user, customer)
    except claims.ClaimError as exc:
        toast(exc.message, "warning")
    else:
        toast(_("认领成功，您已成为“%(name)s”的维护人", name=customer.name) if state == "won"
              else _("该客户已有维护人，您的认领已提交网点负责人裁定"), "success" if state == "won" else "info")
    return redirect(url_for("customers.claim_page", q=request.form.get("q") or None))


@bp.route("/<int:customer_id>/resolve", methods=["POST"])
@policy(permission="customers.allocate")
def resolve(customer_id: int):
    customer = _own_outlet_customer(customer_id)
    try:
        claims.resolve(current_user, customer, int(request.form.get("user_id", "0") or 0))
    except (claims.ClaimError, ValueError) as exc:
        toast(getattr(exc, "message", _("请选择维护人")), "danger")
    else:
        toast(_("已裁定“%(name)s”的维护人", name=customer.name))
    return redirect(url_for("customers.claim_page"))


@bp.route("/allocate", methods=["POST"])
@policy(permission="customers.allocate")
def allocate():
    post = request.form.get("post", "")
    tier = (request.form.get("tier") or "").strip() or None
    try:
        per_person = int(request.form.get("per_person", "0"))
    except ValueError:
        per_person = 0
    if post not in POST_BY_CODE:
        toast(_("请选择岗位"), "danger")
    else:
        try:
            n = claims.allocate(current_user, tier=tier, post=post, per_person=per_person)
        except claims.ClaimError as exc:
            toast(exc.message, "danger")
        else:
            toast(_("已分配 %(n)d 位客户", n=n))
    return redirect(url_for("customers.claim_page"))


@bp.route("/allocate-by-quota", methods=["POST"])
@policy(permission="customers.allocate")
def allocate_by_quota():
    """R-08/R-14: every tier × post by the 分行's quotas in one action (top tier first, R-07 order)."""
    try:
        result = claims.allocate_by_quota(current_user)
    except claims.ClaimError as exc:
        toast(exc.message, "danger")
    else:
        n = sum(result.values())
        if n == 0:
            toast(_("没有可按配额分配的客户：各岗位已达配额，或本网点没有对应层级的待分配客户"), "info")
        elif n >= claims.MAX_ALLOCATION:
            toast(_("已按配额分配 %(n)d 位客户（单次最多 %(max)d 位），请再次点击继续分配", n=n,
                    max=claims.MAX_ALLOCATION))
        else:
            toast(_("已按配额分配 %(n)d 位客户", n=n))
    return redirect(url_for("customers.claim_page"))


@bp.route("/handover", methods=["POST"])
@policy(permission="customers.allocate")
def handover():
    try:
        n = claims.handover(current_user, int(request.form.get("from_id") or 0), int(request.form.get("to_id") or 0))
    except (claims.ClaimError, ValueError) as exc:
        toast(getattr(exc, "message", _("请选择本网点的两位不同员工")), "danger")
    else:
        toast(_("已移交 %(n)d 位客户", n=n))
    return redirect(url_for("customers.claim_page"))
