"""Customer pages: the list (search as you type), the 360° page, create and edit, reveal."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import or_, select

from crm import i18n
from crm.access import can, get_or_404, policy, scope_filter, scoped
from crm.customers import services
from crm.extensions import db
from crm.models import AuditLog, Customer, Outlet, User
from crm.models.customers import ECO_MODULES, EMPLOYER_TYPES, KINDS, RISK_PREFERENCES, STATUSES
from crm.web import current_branch, toast

bp = Blueprint("customers", __name__, url_prefix="/customers")

LIST_TARGETS = ("customer-rows", "more-customers")


@bp.route("")
@policy(permission="customers.view")
def index():
    f = services.parse_filters(request.args)
    page = services.page(current_user, f, request.args.get("after"))
    ctx = dict(page=page, f=f, args=f.args())
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") in LIST_TARGETS:
        return render_block("customers/list.html", "rows", **ctx)
    # The outlet and maintainer filters name only what is chosen; their choices load when a picker opens.
    outlet = services.chosen_name(current_user, Outlet, f.outlet_id) if f.outlet_id else None
    maintainer = services.chosen_name(current_user, User, f.maintainer_id) if f.maintainer_id else None
    return render_template("customers/list.html", outlet=outlet, maintainer=maintainer,
                           kinds={k: i18n.label(v) for k, v in KINDS.items()},
                           statuses={k: i18n.label(v) for k, v in STATUSES.items()}, **ctx)


@bp.route("/count")
@policy(permission="customers.view")
def count():
    """Loaded after the list, so the list itself never waits for a COUNT."""
    f = services.parse_filters(request.args)
    n, more = services.count(current_user, f)
    return render_template("customers/_count.html", n=n, more=more)


def _picker(field: str, choices: Callable, everything: str, placeholder: str, more_hint: str):
    """A filter picker's menu: a search box, then the choices as links to the list filtered by them, with the
    list's other filters kept. Opening the picker loads the whole menu; typing reloads the choices only."""
    f = services.parse_filters(request.args)
    find = (request.args.get("find") or "").strip()[:20]
    found, more = choices(current_user, find)
    chosen = getattr(f, f"{field}_id")
    args = {k: v for k, v in f.args().items() if k != field}
    links = [dict(href=url_for("customers.index", **args, **{field: c.id}), label=c.label, hint=c.hint,
                  active=c.id == chosen) for c in found]
    ctx = dict(field=field, find=find, links=links, more=more, everything=everything, placeholder=placeholder,
               more_hint=more_hint, everything_href=url_for("customers.index", **args), chosen=chosen)
    if request.headers.get("HX-Target") == f"{field}-choices":
        return render_block("customers/_picker.html", "choices", **ctx)
    return render_template("customers/_picker.html", **ctx)


@bp.route("/outlets")
@policy(permission="customers.view")
def outlet_choices():
    """The outlet filter of the list: the outlets of the user's scope, searched by name or code."""
    return _picker("outlet", services.outlet_choices, _("全部网点"), _("输入网点名称或编号查找"),
                   _("只列出前 %(n)s 个网点，请输入名称查找", n=services.PICKER_LIMIT))


@bp.route("/maintainers")
@policy(permission="customers.view")
def maintainer_choices():
    """The maintainer filter of the list: the staff of the user's scope, searched by name."""
    return _picker("maintainer", services.maintainer_choices, _("全部维护人"), _("输入姓名查找"),
                   _("只列出前 %(n)s 位，请输入姓名查找", n=services.PICKER_LIMIT))


def _choices() -> dict:
    # One's own outlet is always offered (posts that see only their own customers have no outlet scope).
    outlets = db.session.execute(select(Outlet).where(
        Outlet.active, or_(scope_filter(Outlet), Outlet.id == current_user.outlet_id)).order_by(Outlet.code)
    ).scalars().all()
    staff = db.session.execute(
        scoped(User).where(User.active, User.outlet_id.is_not(None)).order_by(User.outlet_id, User.name)
        .limit(2000)).scalars().all()
    return dict(outlets=outlets, staff=staff, kinds=KINDS, statuses=STATUSES, risks=RISK_PREFERENCES,
                employer_types=EMPLOYER_TYPES, eco_modules=ECO_MODULES)


@bp.route("/new", methods=["GET", "POST"])
@policy(permission="customers.edit")
def create():
    kind = request.values.get("kind") if request.values.get("kind") in KINDS else "personal"
    values: dict = {"kind": kind, "status": "stock", "outlet_id": current_user.outlet_id,
                    "maintainer_id": current_user.id if current_user.outlet_id else None}
    errors: dict[str, str] = {}
    existing = None
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            customer = services.create(current_user, values)
        except services.CustomerError as exc:
            db.session.rollback()
            errors, existing = exc.errors, exc.existing
        else:
            toast(_("客户“%(name)s”已建档", name=customer.name))
            return redirect(url_for("customers.detail", customer_id=customer.id))
    status = 422 if errors else 200
    return render_template("customers/form.html", customer=None, values=values, errors=errors, existing=existing,
                           kind=kind, **_choices()), status


@bp.route("/<int:customer_id>")
@policy(permission="customers.view")
def detail(customer_id: int):
    customer = get_or_404(Customer, customer_id)
    registry = current_app.extensions["crm"]
    panels = registry.gather("crm_customer_panels", customer=customer, user=current_user, branch=current_branch())
    return render_template("customers/detail.html", c=customer, panels=panels, risks=RISK_PREFERENCES,
                           eco_modules=ECO_MODULES, can_reveal=can("customers.reveal"),
                           can_edit=can("customers.edit"))


@bp.route("/<int:customer_id>/edit", methods=["GET", "POST"])
@policy(permission="customers.edit")
def edit(customer_id: int):
    customer = get_or_404(Customer, customer_id)
    errors: dict[str, str] = {}
    existing = None
    status = 200
    if request.method == "POST":
        values = request.form.to_dict()
        version = services._int(values.get("version"))
        try:
            services.update(current_user, customer, values, version)
        except services.CustomerError as exc:
            db.session.rollback()
            errors, existing = exc.errors, exc.existing
            status = 409 if "_" in errors and "修改" in errors["_"] else 422
            customer = get_or_404(Customer, customer_id)
        else:
            toast(_("已保存"))
            return redirect(url_for("customers.detail", customer_id=customer.id))
    else:
        values = {c.key: getattr(customer, c.key) for c in Customer.__table__.columns}
        for key in ("deposit_balance", "deposit_daily_avg", "loan_balance", "aum", "annual_revenue"):
            values[key] = "" if values[key] is None else f"{values[key]:f}"
        values["cert_no"] = values["phone"] = ""  # full numbers only through the audited reveal; blank keeps them
    return render_template("customers/form.html", customer=customer, values=values, errors=errors,
                           existing=existing, kind=customer.kind, **_choices()), status


@bp.route("/<int:customer_id>/reveal/<field_name>", methods=["POST"])
@policy(permission="customers.reveal")
def reveal(customer_id: int, field_name: str):
    customer = get_or_404(Customer, customer_id)
    try:
        value = services.reveal(current_user, customer, field_name)
    except services.CustomerError:
        abort(404)
    return render_template("customers/_revealed.html", value=value)


@bp.route("/<int:customer_id>/panel/maintenance")
@policy(permission="customers.view")
def maintenance_panel(customer_id: int):
    """Core's own customer panel (through crm_customer_panels, like the plugins' panels)."""
    customer = get_or_404(Customer, customer_id)
    history = db.session.execute(
        select(AuditLog).where(AuditLog.target_type == "customer", AuditLog.target_id == str(customer.id),
                               AuditLog.action.in_(("customer.created", "customer.updated")))
        .order_by(AuditLog.id.desc()).limit(10)).scalars().all()
    actors = {u.id: u for u in db.session.execute(
        select(User).where(User.id.in_({h.actor_id for h in history if h.actor_id}))).scalars()} if history else {}
    from crm.customers.claims import history as claim_history
    from crm.models.customers import CLAIM_KINDS, CLAIM_STATES

    return render_template("customers/_maintenance.html", c=customer, history=history, actors=actors,
                           claims=claim_history(customer), claim_kinds=CLAIM_KINDS, claim_states=CLAIM_STATES)
