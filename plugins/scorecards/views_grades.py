"""Customer-manager grade pages: the roster of the people in scope (grade, 行员等级, customer scale held, required
minimum grade, probation, provisional 初级, separation notice, assistant eligibility; R-72–R-77), one person's
facts with their events, and the event forms (scorecards.manage)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

import plugins.scorecards.models_grades  # noqa: F401 - the grade-event table is registered with the app's metadata
from crm.access import can, get_or_404, policy, scoped
from crm.extensions import db
from crm.models import Outlet, User
from crm.roles import GRADED_POSTS, GRADES, grade_label, post_label
from crm.timeutil import today_local
from crm.web import toast
from plugins.scorecards import grades as grade_rules
from plugins.scorecards import services_grades as svc
from plugins.scorecards.models_grades import EVENT_KINDS, NOTICE_BY
from plugins.scorecards.services import FormErrors, ServiceError
from plugins.scorecards.views import bp

VIEW, MANAGE = "scorecards.view", "scorecards.manage"
FLAG_BADGES = {"info": "bg-azure-lt", "warning": "bg-yellow-lt", "danger": "bg-red-lt"}
EDUCATIONS = tuple(grade_rules.EDUCATION_LADDER)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _as_of() -> tuple[date, bool]:
    """The day the facts are worked out for: ?on=YYYY-MM-DD (to look back or ahead), else today."""
    raw = request.args.get("on", "").strip()
    if raw:
        try:
            return date.fromisoformat(raw), True
        except ValueError:
            pass
    return today_local(), False


def _common() -> dict[str, Any]:
    return {"post_label": post_label, "grade_label": grade_label, "wan": svc.wan, "short_grade": svc.short_grade,
            "FLAG_BADGES": FLAG_BADGES, "EVENT_KINDS": EVENT_KINDS, "NOTICE_BY": NOTICE_BY,
            "may_manage": can(MANAGE), "scale_basis": svc.SCALE_BASIS}


@bp.route("/grades")
@policy(permission=VIEW)
def grades():
    today, chosen = _as_of()
    outlets = db.session.execute(scoped(Outlet, current_user).with_only_columns(Outlet.id, Outlet.name)
                                 .order_by(Outlet.code, Outlet.id)).all()
    outlet_id = _int_arg("outlet")
    if outlet_id is not None and outlet_id not in {o.id for o in outlets}:
        outlet_id = None  # not one of the viewer's outlets: ignored, nothing of it is shown
    grade = request.args.get("grade", "")
    if grade != "none" and grade not in {g.code for g in GRADES}:
        grade = ""
    problems = request.args.get("problems") == "1"
    rows = svc.grade_roster(current_user, outlet_id, grade=grade or None, problems_only=problems, today=today)
    return render_template("scorecards/grades.html", rows=rows, outlets=outlets, outlet_id=outlet_id, grade=grade,
                           problems=problems, today=today, as_of=today if chosen else None, grades_list=GRADES,
                           limit=svc.ROSTER_LIMIT, **_common())


def _person_page(person: User, *, status: int = 200, form_kind: str | None = None,
                 form: dict[str, Any] | None = None, errors: dict[str, str] | None = None):
    today, chosen = _as_of()
    row = svc.grade_facts(current_user, person, today)
    events = svc.events_for(current_user, person.id)
    may_record = can(MANAGE) and person.id != current_user.id
    return render_template("scorecards/grade.html", person=person, row=row, events=events, today=today,
                           as_of=today if chosen else None, may_record=may_record, form_kind=form_kind,
                           form=form or {}, errors=errors or {}, educations=EDUCATIONS, real_today=today_local(),
                           graded=person.post in GRADED_POSTS, **_common()), status


@bp.route("/grades/<int:user_id>")
@policy(permission=VIEW)
def grade_person(user_id: int):
    return _person_page(get_or_404(User, user_id))


@bp.route("/grades/<int:user_id>/events", methods=["POST"])
@policy(permission=VIEW)
def grade_event(user_id: int):
    if not can(MANAGE):
        abort(403)
    person = get_or_404(User, user_id)
    form = {k: request.form.get(k, "") for k in ("kind", "on", "amount", "by", "education", "cba_cert",
                                                  "bank_experience", "good_conduct", "note")}
    try:
        event = svc.record_event(current_user, person.id, form["kind"], form)
    except svc.NotFound:
        db.session.rollback()
        abort(404)
    except FormErrors as exc:
        db.session.rollback()
        return _person_page(db.session.get(User, user_id), status=422, form_kind=form["kind"], form=form,
                            errors=exc.errors)
    except ServiceError as exc:
        db.session.rollback()
        return _person_page(db.session.get(User, user_id), status=422, form_kind=form["kind"], form=form,
                            errors={"_": str(exc)})
    toast(_("已登记：%(k)s（%(d)s）", k=event.kind_label, d=event.on.isoformat()))
    return redirect(url_for("scorecards.grade_person", user_id=user_id))

