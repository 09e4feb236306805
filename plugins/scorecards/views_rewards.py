"""The 绩效分配 page of a period, per outlet: BSC pool and process pay split by scores, head/deputy 千分制 bonus,
loan RMs' EVA performance and the marketing-reward calculator (R-84–R-93), every figure explained; pools entered
by the branch's assessment managers (stored, audited), read-only once the period is locked."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.access import can, policy
from crm.extensions import db
from crm.web import toast
from plugins.scorecards import services_rewards as sr
from plugins.scorecards.models_rewards import AMOUNT_KINDS, PERSON_KINDS, POOL_KINDS
from plugins.scorecards.services import FormErrors, ServiceError
from plugins.scorecards.views import bp
from plugins.scorecards.views_periods import _common, _period_or_404

VIEW, MANAGE = "scorecards.view", "scorecards.manage"


def _outlet_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _page(period, outlet_id: int | None, *, errors: dict[str, str] | None = None, error_form: str = "",
          form: Any = None, status: int = 200):
    outlets = sr.outlets_for(current_user, period)
    if not outlets:
        abort(403)  # staff of their own scope: the distribution is seen per outlet, by its management and up
    if outlet_id is None:
        outlet_id = current_user.outlet_id if any(o.id == current_user.outlet_id for o in outlets) else outlets[0].id
    if sr.outlet_in_scope(current_user, period, outlet_id) is None:
        abort(404)
    dist = sr.distribution(current_user, period, outlet_id)
    calc = sr.reward_calculator(period.branch_id, request.args.get("individual", ""), request.args.get("joint", ""))
    return render_template("scorecards/rewards.html", period=period, outlets=outlets, d=dist, calc=calc,
                           can_edit=dist.editable and can(MANAGE), errors=errors or {}, error_form=error_form,
                           form=form or {}, EVA_FIELDS=sr.EVA_FIELDS, POOL_KINDS=POOL_KINDS,
                           **_common()), status


@bp.route("/periods/<int:period_id>/rewards")
@policy(permission=VIEW)
def rewards(period_id: int):
    period = _period_or_404(period_id)
    raw = request.args.get("outlet", "")
    outlet_id = _outlet_id(raw)
    if raw and outlet_id is None:
        abort(404)
    return _page(period, outlet_id)


def _save(period_id: int, call, error_form: str, done: str):
    period = _period_or_404(period_id)
    if not can(MANAGE):
        abort(403)
    outlet_id = _outlet_id(request.form.get("outlet", ""))
    if outlet_id is None or sr.outlet_in_scope(current_user, period, outlet_id) is None:
        abort(404)
    try:
        call(period, outlet_id)
    except FormErrors as exc:
        db.session.rollback()
        return _page(period, outlet_id, errors=exc.errors, error_form=error_form, form=request.form, status=422)
    except ServiceError as exc:
        db.session.rollback()
        return _page(period, outlet_id, errors={"_": str(exc)}, error_form=error_form, form=request.form,
                     status=422)
    toast(done)
    return redirect(url_for("scorecards.rewards", period_id=period.id, outlet=outlet_id))


@bp.route("/periods/<int:period_id>/rewards/pool", methods=["POST"])
@policy(permission=VIEW)
def rewards_pool(period_id: int):
    """R-91 / R-90: the outlet's performance-pay pool or average bonus of the period."""
    kind = request.form.get("kind", "")
    if kind not in AMOUNT_KINDS:
        abort(404)
    return _save(period_id, lambda p, o: sr.set_pool(current_user, p, o, kind, request.form.get("amount", "")),
                 kind, _("已保存：%(k)s", k=POOL_KINDS[kind]))


@bp.route("/periods/<int:period_id>/rewards/person", methods=["POST"])
@policy(permission=VIEW)
def rewards_person(period_id: int):
    """R-93 process score / R-84–R-86 EVA figures of one person of the outlet."""
    kind = request.form.get("kind", "")
    user_raw = request.form.get("user_id", "")
    if kind not in PERSON_KINDS or not user_raw.isdigit() or len(user_raw) > 11:
        abort(404)
    user_id = int(user_raw)
    fields = sr.EVA_FIELDS if kind == "eva" else sr.PROCESS_FIELDS
    values = {k: request.form.get(k, "") for k in fields}
    return _save(period_id, lambda p, o: sr.set_person_inputs(current_user, p, o, kind, user_id, values),
                 f"{kind}-{user_id}", _("已保存：%(k)s", k=POOL_KINDS[kind]))
