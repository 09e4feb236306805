"""The 360° page's "持有产品" and "家庭成员" panels and their inline forms (on the customers blueprint)."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm import audit
from crm.access import can, get_or_404, policy
from crm.customers import profile, services
from crm.customers.views import bp
from crm.extensions import db
from crm.models import Customer, CustomerProduct, FamilyMember
from crm.models.customers import PRODUCT_CATEGORIES, RELATIONS, RISK_PREFERENCES, SCHOOL_GRADES
from crm.timeutil import today_local
from crm.web import toast

SECTIONS = "any(products, family)"
MODELS: dict[str, type] = {"products": CustomerProduct, "family": FamilyMember}


def _row(section: str, customer: Customer, row_id: int) -> Any:
    """A product or family member of this (already scope-checked) customer; anything else answers 404."""
    model = MODELS[section]
    row = db.session.execute(select(model).where(model.id == row_id, model.customer_id == customer.id)
                             ).scalar_one_or_none()
    if row is None:
        if db.session.get(model, row_id) is not None:  # another customer's row under this customer's URL
            audit.record("access.denied", target=(model.__tablename__, row_id), result="denied", commit=True)
        abort(404)
    return row


def _panel(section: str, customer: Customer, status: int = 200, form: dict | None = None):
    """The panel; `form` (row, values, errors) puts the inline form back in it, e.g. after a 422."""
    ctx: dict[str, Any] = dict(c=customer, section=section, today=today_local(), can_edit=can("customers.edit"),
                               can_reveal=can("customers.reveal"), form=form is not None, **_choices())
    if form:
        ctx.update(form)
    if section == "products":
        rows = profile.products(customer)
        return render_template("customers/_products.html", rows=rows, holdings=profile.holdings(customer, rows),
                               **ctx), status
    return render_template("customers/_family.html", rows=profile.members(customer), **ctx), status


def _choices() -> dict[str, Any]:
    return dict(categories=PRODUCT_CATEGORIES, relations=RELATIONS, grades=SCHOOL_GRADES, risks=RISK_PREFERENCES)


def _form(section: str, customer: Customer, row: Any = None):
    values: dict[str, Any] = {}
    if row is not None:
        for column in MODELS[section].__table__.columns:
            value = getattr(row, column.key)
            values[column.key] = "" if value is None else (f"{value:f}" if column.key == "amount" else value)
        values["phone"] = values["account_no"] = ""  # full numbers only through the audited reveal
    return render_template("customers/_profile_form.html", c=customer, section=section, row=row, values=values,
                           errors={}, **_choices())


@bp.route(f"/<int:customer_id>/panel/<{SECTIONS}:section>")
@policy(permission="customers.view")
def profile_panel(customer_id: int, section: str):
    return _panel(section, get_or_404(Customer, customer_id))


@bp.route(f"/<int:customer_id>/<{SECTIONS}:section>/new")
@policy(permission="customers.edit")
def profile_new(customer_id: int, section: str):
    return _form(section, get_or_404(Customer, customer_id))


@bp.route(f"/<int:customer_id>/<{SECTIONS}:section>/<int:row_id>/edit")
@policy(permission="customers.edit")
def profile_edit(customer_id: int, section: str, row_id: int):
    customer = get_or_404(Customer, customer_id)
    return _form(section, customer, _row(section, customer, row_id))


def _save(section: str, customer: Customer, row: Any):
    values = request.form.to_dict()
    version = services._int(values.get("version"))
    try:
        if section == "products":
            saved = profile.save_product(current_user, customer, values, row, version)
        else:
            saved = profile.save_member(current_user, customer, values, row, version)
    except profile.ProfileError as exc:
        db.session.rollback()
        status = 409 if exc.conflict else 422
        if not request.headers.get("HX-Request"):
            toast(next(iter(exc.errors.values())), "danger")
            return redirect(url_for("customers.detail", customer_id=customer.id))
        if status == 409:  # the row changed under us: show the current state instead of a stale form
            toast(exc.errors["_"], "danger")
            return _panel(section, get_or_404(Customer, customer.id), 409)
        return _panel(section, customer, 422, form=dict(row=row, values=values, errors=exc.errors))
    toast(_("已保存“%(name)s”", name=saved.name))
    if not request.headers.get("HX-Request"):
        return redirect(url_for("customers.detail", customer_id=customer.id))
    return _panel(section, customer)


@bp.route(f"/<int:customer_id>/<{SECTIONS}:section>", methods=["POST"])
@policy(permission="customers.edit")
def profile_create(customer_id: int, section: str):
    return _save(section, get_or_404(Customer, customer_id), None)


@bp.route(f"/<int:customer_id>/<{SECTIONS}:section>/<int:row_id>", methods=["POST"])
@policy(permission="customers.edit")
def profile_update(customer_id: int, section: str, row_id: int):
    customer = get_or_404(Customer, customer_id)
    return _save(section, customer, _row(section, customer, row_id))


@bp.route(f"/<int:customer_id>/<{SECTIONS}:section>/<int:row_id>/delete", methods=["POST"])
@policy(permission="customers.edit")
def profile_delete(customer_id: int, section: str, row_id: int):
    customer = get_or_404(Customer, customer_id)
    row = _row(section, customer, row_id)
    name = row.name
    try:
        if section == "products":
            profile.remove_product(current_user, customer, row, services._int(request.form.get("version")))
        else:
            profile.remove_member(current_user, customer, row, services._int(request.form.get("version")))
    except profile.ProfileError as exc:
        db.session.rollback()
        toast(next(iter(exc.errors.values())), "danger")
        status = 409 if exc.conflict else 403
    else:
        toast(_("已删除“%(name)s”", name=name))
        status = 200
    if not request.headers.get("HX-Request"):
        return redirect(url_for("customers.detail", customer_id=customer.id))
    return _panel(section, get_or_404(Customer, customer.id), status)


@bp.route(f"/<int:customer_id>/<{SECTIONS}:section>/<int:row_id>/reveal", methods=["POST"])
@policy(permission="customers.reveal")
def profile_reveal(customer_id: int, section: str, row_id: int):
    customer = get_or_404(Customer, customer_id)
    row = _row(section, customer, row_id)
    try:
        value = profile.reveal(current_user, customer, row)
    except profile.ProfileError:
        abort(404)
    return render_template("customers/_revealed.html", value=value)
