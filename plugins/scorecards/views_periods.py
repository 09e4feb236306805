"""Scorecards pages of the monthly cycle: periods (open, take figures from the CRM, compute, review, lock, correct),
the entry grid (htmx, cell by cell), the Excel import with its row report, a person's explained scores, the
leaderboard (staff ranking, outlet PK, trend, radar), exports, the printable report and the dashboard widget."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from io import BytesIO
from typing import Any

from flask import abort, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select, tuple_

from crm import audit
from crm.access import can, policy, scope_filter
from crm.excel import Column, write_sheet
from crm.extensions import db
from crm.models import Outlet, User
from crm.roles import grade_label, post_label
from crm.timeutil import today_local
from crm.web import toast
from plugins.scorecards import imports, services
from plugins.scorecards.models import (
    PERIOD_KINDS,
    PERIOD_STATUSES,
    ScorecardPeriod,
    ScorecardResult,
    ScorecardScheme,
)
from plugins.scorecards.services import FormErrors, ServiceError
from plugins.scorecards.views import bp

VIEW, ENTER, MANAGE, REVIEW = "scorecards.view", "scorecards.enter", "scorecards.manage", "scorecards.review"
PAGE = 50
GRID_PAGE = 30
PK_ROWS = 30
STATUS_BADGES = {"open": "bg-azure-lt", "computed": "bg-yellow-lt", "reviewed": "bg-green-lt", "locked": "bg-dark-lt"}
ACTION_BADGES = {"keep": "", "warn": "bg-yellow-lt", "demote": "bg-orange-lt", "terminate": "bg-red-lt"}
ACTION_LABELS = {"warn": "提示", "demote": "降级", "terminate": "解除劳动合同"}


def _period_or_404(period_id: int) -> ScorecardPeriod:
    period = services.visible_period(period_id, current_user)
    if period is None:
        abort(404)
    return period


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _schemes_of(period: ScorecardPeriod) -> list[ScorecardScheme]:
    return services.current_schemes(period.branch_id, period=period.kind, scored=True)


def _chosen_scheme(period: ScorecardPeriod, schemes: list[ScorecardScheme]) -> ScorecardScheme | None:
    """The scheme picked in the URL (only one the period computes), else the first one."""
    wanted = _int_arg("scheme")
    used = {int(k) for k in (period.summary or {})}  # schemes the last computation used (maybe older versions)
    extra = [db.session.get(ScorecardScheme, i) for i in used - {s.id for s in schemes}]
    choices = schemes + [s for s in extra if s is not None]
    for s in choices:
        if s.id == wanted:
            return s
    return choices[0] if choices else None


@bp.app_template_filter("sc_points")
def sc_points(value: Any) -> str:
    """Points as people write them: 46, 7.14, −2.5 (no trailing zeros)."""
    if value is None or value == "":
        return "—"
    number = Decimal(str(value)).normalize()
    text = format(number, "f")
    return text.replace("-", "−")


def _common() -> dict[str, Any]:
    return {"STATUS_BADGES": STATUS_BADGES, "PERIOD_STATUSES": PERIOD_STATUSES, "PERIOD_KINDS": PERIOD_KINDS,
            "ACTION_BADGES": ACTION_BADGES, "ACTION_LABELS": ACTION_LABELS, "post_label": post_label,
            "grade_label": grade_label, "perm": {k: can("scorecards." + k) for k in
                                                 ("enter", "manage", "review", "schemes", "banca")}}


# ---------------------------------------------------------------- index and periods

@bp.route("/")
@policy(permission=VIEW)
def index():
    periods = services.periods_for(current_user)
    standings = services.standings_of(current_user, limit=6)
    today = today_local()
    return render_template("scorecards/index.html", periods=periods, standings=standings, today=today,
                           form={}, errors={}, **_common())


@bp.route("/periods", methods=["POST"])
@policy(permission=VIEW)
def period_open():
    if not can(MANAGE):
        abort(403)
    kind = request.form.get("kind", "")
    errors: dict[str, str] = {}
    try:
        day = date.fromisoformat(request.form.get("day", ""))
    except ValueError:
        errors["day"] = _("请选择考核期内的任意一天")
        day = None
    if day and not errors:
        try:
            period = services.open_period(current_user, kind, day)
        except ServiceError as exc:
            db.session.rollback()
            errors["_"] = str(exc)
        else:
            toast(_("已新建考核期：%(p)s", p=period.label))
            return redirect(url_for("scorecards.period", period_id=period.id))
    return render_template("scorecards/index.html", periods=services.periods_for(current_user),
                           standings=services.standings_of(current_user, limit=6), today=today_local(),
                           form=request.form, errors=errors, **_common()), 422


def _summary(period: ScorecardPeriod, schemes: list[ScorecardScheme]) -> list[dict[str, Any]]:
    """Per scheme: people assessed, scored, missing figures, warnings — over the rows the user may see (the
    computation's stored counts when the user sees the whole 分行)."""
    if services.sees_whole_branch(current_user, period):
        counts = {int(k): (v["n"], v["scored"], v["flagged"]) for k, v in (period.summary or {}).items()}
    else:
        rows = db.session.execute(
            select(ScorecardResult.scheme_id, func.count(), func.count(ScorecardResult.total),
                   func.sum(func.cast(ScorecardResult.action != "keep", db.Integer)))
            .where(ScorecardResult.period_id == period.id, scope_filter(ScorecardResult, current_user))
            .group_by(ScorecardResult.scheme_id)).all()
        counts = {r[0]: (r[1], r[2], r[3] or 0) for r in rows}
    out = []
    for s in schemes:
        n, scored, flagged = counts.get(s.id, (0, 0, 0))
        out.append({"scheme": s, "n": n, "scored": scored, "missing": n - scored, "flagged": flagged,
                    "inputs": len(services.scheme_inputs(s))})
    return out


@bp.route("/periods/<int:period_id>")
@policy(permission=VIEW)
def period(period_id: int):
    period = _period_or_404(period_id)
    schemes = _schemes_of(period)
    scheme = _chosen_scheme(period, schemes)
    outlet_id = _int_arg("outlet")
    after = _int_arg("after")
    rows: list[ScorecardResult] = []
    more = None
    if scheme is not None:
        stmt = services.results_query(current_user, period, scheme.id)
        if outlet_id:
            stmt = stmt.where(ScorecardResult.outlet_id == outlet_id)
        rows, more = _ranked_page(stmt, after)
    names = services.subject_names(rows)
    outlets = db.session.execute(select(Outlet.id, Outlet.name).where(
        Outlet.root_branch_id == period.branch_id, scope_filter(Outlet, current_user)).order_by(Outlet.code)).all()
    people = {u.id: u for u in db.session.execute(select(User).where(
        User.id.in_({r.user_id for r in rows if r.user_id}))).scalars()} if rows else {}
    template = "scorecards/period.html"
    context = dict(period=period, schemes=schemes, scheme=scheme, summary=_summary(period, schemes), rows=rows,
                   more=more, names=names, people=people, outlets=outlets, outlet_id=outlet_id,
                   history=_revisions(period), **_common())
    if request.headers.get("HX-Request") and request.args.get("after"):
        from jinja2_fragments.flask import render_block

        return render_block(template, "result_rows", **context)
    return render_template(template, **context)


def _ranked_page(stmt, after: int | None) -> tuple[list[ScorecardResult], int | None]:
    """Keyset over (rank, id) on the index: the ranked rows best first, then those not scored (by id)."""
    anchor = db.session.get(ScorecardResult, after) if after is not None else None
    found: list[ScorecardResult] = []
    if anchor is None or anchor.rank is not None:
        ranked = stmt.where(ScorecardResult.rank.is_not(None))
        if anchor is not None:
            ranked = ranked.where(tuple_(ScorecardResult.rank, ScorecardResult.id) > (anchor.rank, anchor.id))
        found = list(db.session.execute(ranked.order_by(ScorecardResult.rank, ScorecardResult.id)
                                        .limit(PAGE + 1)).scalars())
    if len(found) <= PAGE:
        unranked = stmt.where(ScorecardResult.rank.is_(None))
        if anchor is not None and anchor.rank is None:
            unranked = unranked.where(ScorecardResult.id > anchor.id)
        found += list(db.session.execute(unranked.order_by(ScorecardResult.id).limit(PAGE + 1 - len(found)))
                      .scalars())
    return found[:PAGE], (found[PAGE - 1].id if len(found) > PAGE else None)


def _revisions(period: ScorecardPeriod) -> list[ScorecardPeriod]:
    return db.session.execute(select(ScorecardPeriod).where(
        ScorecardPeriod.branch_id == period.branch_id, ScorecardPeriod.kind == period.kind,
        ScorecardPeriod.starts_on == period.starts_on).order_by(ScorecardPeriod.revision)).scalars().all()


def _period_action(period_id: int, permission: str, call, done: str):
    period = _period_or_404(period_id)
    if not can(permission):
        abort(403)
    try:
        result = call(period)
    except FormErrors as exc:
        db.session.rollback()
        toast("；".join(exc.errors.values()), "danger")
        return redirect(url_for("scorecards.period", period_id=period_id, scheme=_form_scheme())), 303
    except ServiceError as exc:
        db.session.rollback()
        toast(str(exc), "danger")
        return redirect(url_for("scorecards.period", period_id=period_id, scheme=_form_scheme())), 303
    toast(done if not callable(done) else done(result))
    target = result if isinstance(result, ScorecardPeriod) else period
    return redirect(url_for("scorecards.period", period_id=target.id, scheme=_form_scheme()))


def _form_scheme() -> int | None:
    """The scheme the page showed (a hidden field of the action forms), so the page comes back as it was."""
    raw = request.form.get("scheme", "")
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


@bp.route("/periods/<int:period_id>/crm", methods=["POST"])
@policy(permission=VIEW)
def period_crm(period_id: int):
    return _period_action(period_id, MANAGE, lambda p: services.pull_crm_actuals(current_user, p),
                          lambda n: _("已从系统取数：%(n)d 项", n=n))


@bp.route("/periods/<int:period_id>/compute", methods=["POST"])
@policy(permission=VIEW)
def period_compute(period_id: int):
    return _period_action(period_id, MANAGE, lambda p: services.compute_period(current_user, p),
                          lambda r: _("计算完成：%(s)d 人次得分，%(m)d 人次缺数据，%(w)d 条预警", s=r.scored, m=r.missing,
                                      w=r.warnings))


@bp.route("/periods/<int:period_id>/review", methods=["POST"])
@policy(permission=VIEW)
def period_review(period_id: int):
    return _period_action(period_id, REVIEW, lambda p: services.review_period(current_user, p), _("已复核"))


@bp.route("/periods/<int:period_id>/lock", methods=["POST"])
@policy(permission=VIEW)
def period_lock(period_id: int):
    return _period_action(period_id, MANAGE, lambda p: services.lock_period(current_user, p),
                          _("已锁定：此考核期不能再修改"))


@bp.route("/periods/<int:period_id>/correct", methods=["POST"])
@policy(permission=VIEW)
def period_correct(period_id: int):
    reason = request.form.get("reason", "")
    return _period_action(period_id, MANAGE, lambda p: services.correct_period(current_user, p, reason),
                          lambda p: _("已生成更正版本：%(p)s", p=p.label))


# ---------------------------------------------------------------- the entry grid

def _grid_subjects(period: ScorecardPeriod, scheme: ScorecardScheme, outlet_id: int | None
                   ) -> list[services.Subject]:
    people, outlets = services.branch_subjects(period.branch_id)
    subjects = services.assessed_by(scheme, people, outlets)
    if outlet_id:
        subjects = [s for s in subjects if s.outlet_id == outlet_id]
    allowed = services.scope_checker(current_user)
    return [s for s in subjects if allowed(s)]


@bp.route("/periods/<int:period_id>/entry")
@policy(permission=VIEW)
def entry(period_id: int):
    period = _period_or_404(period_id)
    if not can(ENTER):
        abort(403)
    schemes = _schemes_of(period)
    scheme = _chosen_scheme(period, schemes)
    if scheme is None:
        abort(404)
    outlet_id = _int_arg("outlet")
    subjects = _grid_subjects(period, scheme, outlet_id)
    after = _int_arg("after") or 0
    page = [s for s in subjects if s.id > after][:GRID_PAGE + 1]
    more = page[GRID_PAGE - 1].id if len(page) > GRID_PAGE else None
    page = page[:GRID_PAGE]
    fields = services.scheme_inputs(scheme)
    figures = services.actuals_of(period.id, page)
    outlets = db.session.execute(select(Outlet.id, Outlet.name).where(
        Outlet.root_branch_id == period.branch_id, scope_filter(Outlet, current_user)).order_by(Outlet.code)).all()
    context = dict(period=period, schemes=schemes, scheme=scheme, fields=fields, subjects=page, more=more,
                   figures=figures, outlets=outlets, outlet_id=outlet_id, total=len(subjects),
                   editable=not period.locked and not period.superseded, **_common())
    if request.headers.get("HX-Request") and request.args.get("after"):
        from jinja2_fragments.flask import render_block

        return render_block("scorecards/entry.html", "grid_rows", **context)
    return render_template("scorecards/entry.html", **context)


@bp.route("/periods/<int:period_id>/entry/cell", methods=["POST"])
@policy(permission=VIEW)
def entry_cell(period_id: int):
    """One cell of the grid saved (htmx, on change): the cell comes back saved, or with its Chinese error (422)."""
    period = _period_or_404(period_id)
    if not can(ENTER):
        abort(403)
    kind = request.form.get("subject", "")
    subject_id = request.form.get("subject_id", "")
    key = request.form.get("key", "")
    raw = request.form.get("value", "")
    subject = services.find_subject(period, kind, int(subject_id)) if kind in ("staff", "outlet") and \
        subject_id.isdigit() and len(subject_id) < 12 else None
    fields = services.period_inputs(period)
    field_ = fields.get(key)
    if subject is None or field_ is None or not services.subject_in_scope(current_user, subject):
        abort(404)
    status, error = 200, None
    try:
        services.set_actual(current_user, period, subject, key, raw)
    except ServiceError as exc:
        db.session.rollback()
        status, error = 422, str(exc)
    value = services.actuals_of(period.id, [subject]).get((subject.kind, subject.id), {}).get(key)
    return render_template("scorecards/_entry_cell.html", period=period, s=subject, f=field_,
                           value=raw if error else value, error=error, saved=error is None,
                           editable=True), status


# ---------------------------------------------------------------- Excel import and template

@bp.route("/periods/<int:period_id>/import", methods=["GET", "POST"])
@policy(permission=VIEW)
def import_page(period_id: int):
    period = _period_or_404(period_id)
    if not can(ENTER):
        abort(403)
    schemes = _schemes_of(period)
    scheme = _chosen_scheme(period, schemes)
    if scheme is None:
        abort(404)
    report = None
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            error = _("请选择要导入的 Excel 文件")
        else:
            try:
                report = imports.import_actuals(current_user, period, scheme, upload.read(), upload.filename)
            except imports.ImportRefused as exc:
                db.session.rollback()
                error = exc.message
        if error:
            return render_template("scorecards/import.html", period=period, schemes=schemes, scheme=scheme,
                                   report=None, error=error, **_common()), 422
    return render_template("scorecards/import.html", period=period, schemes=schemes, scheme=scheme, report=report,
                           error=error, **_common())


@bp.route("/periods/<int:period_id>/import/template.xlsx")
@policy(permission=VIEW)
def import_template(period_id: int):
    period = _period_or_404(period_id)
    if not can(ENTER):
        abort(403)
    scheme = _chosen_scheme(period, _schemes_of(period))
    if scheme is None:
        abort(404)
    buffer = BytesIO()
    imports.write_template(buffer, current_user, period, scheme, _grid_subjects(period, scheme, None))
    buffer.seek(0)
    name = f"{period.label}_{scheme.name}_录入模板.xlsx"
    return send_file(buffer, as_attachment=True, download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# ---------------------------------------------------------------- results: export, person, report

@bp.route("/periods/<int:period_id>/export.xlsx")
@policy(permission=VIEW)
def export(period_id: int):
    period = _period_or_404(period_id)
    scheme = _chosen_scheme(period, _schemes_of(period))
    if scheme is None:
        abort(404)
    rows = db.session.execute(services.results_query(current_user, period, scheme.id).order_by(
        func.coalesce(ScorecardResult.rank, 10**9), ScorecardResult.id)).scalars().all()
    names = services.subject_names(rows)
    items = [i["name"] for i in scheme.definition.get("items", [])]
    columns = [Column(_("名次"), 6, "int"), Column(_("姓名/网点"), 16), Column(_("所属网点"), 18),
               *[Column(n, 12, "plain") for n in items], Column(_("总分"), 10, "plain"), Column(_("预警"), 40),
               Column(_("缺少的数据"), 40)]

    def lines():
        for r in rows:
            points = {i["name"]: Decimal(i["points"]) for i in r.items}
            yield [r.rank, names.get((r.subject, r.subject_id), ""),
                   names.get(("outlet", r.outlet_id), "") if r.outlet_id else "",
                   *[points.get(n) for n in items], r.total,
                   "；".join(w["reason"] for w in r.warnings), "；".join(r.missing)]

    buffer = BytesIO()
    count = write_sheet(buffer, scheme.name[:31], columns, lines(),
                        note=_("%(p)s · %(s)s · 导出于 %(d)s", p=period.label, s=scheme.name, d=today_local()))
    audit.record("scorecards.exported", target=("scorecards_period", period.id),
                 detail={"scheme": scheme.code, "rows": count})
    db.session.commit()
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name=f"{period.label}_{scheme.name}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _person_results(period: ScorecardPeriod, user_id: int) -> list[ScorecardResult]:
    return db.session.execute(services.results_query(current_user, period).where(
        ScorecardResult.subject == "staff", ScorecardResult.subject_id == user_id)
        .order_by(ScorecardResult.id)).scalars().all()


def _trend(user_id: int, period: ScorecardPeriod) -> dict[str, Any]:
    """The person's totals per scheme over the 分行's periods of the same kind (current revisions only)."""
    rows = db.session.execute(
        select(ScorecardPeriod.starts_on, ScorecardPeriod.kind, ScorecardPeriod.revision, ScorecardScheme.name,
               ScorecardResult.total)
        .join(ScorecardResult, ScorecardResult.period_id == ScorecardPeriod.id)
        .join(ScorecardScheme, ScorecardScheme.id == ScorecardResult.scheme_id)
        .where(ScorecardResult.subject == "staff", ScorecardResult.subject_id == user_id,
               ScorecardPeriod.kind == period.kind, ScorecardPeriod.superseded.is_(False),
               ScorecardPeriod.branch_id == period.branch_id, scope_filter(ScorecardResult, current_user))
        .order_by(ScorecardPeriod.starts_on)).all()
    labels: list[str] = []
    series: dict[str, dict[str, str | None]] = defaultdict(dict)
    for starts_on, kind, _rev, scheme_name, total in rows:
        label = f"{starts_on.year}-{starts_on.month:02d}" if kind != "year" else str(starts_on.year)
        if label not in labels:
            labels.append(label)
        series[scheme_name][label] = None if total is None else str(total)
    return {"labels": labels, "series": [{"name": n, "data": [v.get(lab) for lab in labels]}
                                         for n, v in series.items()]}


def _radar(results: list[ScorecardResult]) -> dict[str, Any] | None:
    """The balanced scorecard's four perspectives (points against their maximum), when the person has one."""
    for r in results:
        if r.scheme.code.startswith("002-bsc") and r.total is not None:
            maxima = {i["code"]: i.get("max") for i in r.scheme.definition.get("items", [])}
            return {"indicators": [{"name": i["name"], "max": str(maxima.get(i["code"]) or 100)} for i in r.items],
                    "values": [i["points"] for i in r.items], "name": r.scheme.name}
    return None


@bp.route("/periods/<int:period_id>/people/<int:user_id>")
@policy(permission=VIEW)
def person(period_id: int, user_id: int):
    period = _period_or_404(period_id)
    results = _person_results(period, user_id)
    if not results:
        abort(404)  # nothing of this person in the user's scope: not a byte of them
    user = db.session.get(User, user_id)
    outlet = db.session.get(Outlet, user.outlet_id) if user.outlet_id else None
    return render_template("scorecards/person.html", period=period, person=user, outlet=outlet, results=results,
                           trend=json.dumps(_trend(user_id, period), ensure_ascii=False),
                           radar=json.dumps(_radar(results), ensure_ascii=False), **_common())


def _report_pdf(period: ScorecardPeriod, people: list[tuple[User, Outlet | None, list[ScorecardResult]]],
                name: str, detail: dict[str, Any]):
    """People's explained results, one page each, in ONE document (design §6: a batch renders one PDF); audited."""
    from crm import pdf

    data = pdf.render_pdf("scorecards/report_pdf.html", period=period, people=people,
                          title=_("%(p)s考核报告 · %(n)s", p=period.label, n=name), today=today_local(), **_common())
    audit.record("scorecards.report_printed", target=("scorecards_period", period.id), detail=detail)
    db.session.commit()
    return send_file(BytesIO(data), mimetype="application/pdf", as_attachment=False,
                     download_name=f"{period.label}_{name}_考核报告.pdf")


@bp.route("/periods/<int:period_id>/people/<int:user_id>/report.pdf")
@policy(permission=VIEW)
def person_pdf(period_id: int, user_id: int):
    period = _period_or_404(period_id)
    results = _person_results(period, user_id)
    if not results:
        abort(404)
    user = db.session.get(User, user_id)
    outlet = db.session.get(Outlet, user.outlet_id) if user.outlet_id else None
    return _report_pdf(period, [(user, outlet, results)], user.name, {"subject": "staff", "subject_id": user_id})


@bp.route("/periods/<int:period_id>/outlets/<int:outlet_id>/report.pdf")
@policy(permission=VIEW)
def outlet_pdf(period_id: int, outlet_id: int):
    """One outlet's people, one page each."""
    period = _period_or_404(period_id)
    outlet = db.session.execute(select(Outlet).where(Outlet.id == outlet_id, Outlet.root_branch_id ==
                                                     period.branch_id, scope_filter(Outlet, current_user))
                                ).scalar_one_or_none()
    if outlet is None:
        abort(404)
    rows = db.session.execute(services.results_query(current_user, period).where(
        ScorecardResult.subject == "staff", ScorecardResult.outlet_id == outlet_id)
        .order_by(ScorecardResult.subject_id, ScorecardResult.id)).scalars().all()
    if not rows:
        abort(404)
    by_person: dict[int, list[ScorecardResult]] = defaultdict(list)
    for r in rows:
        by_person[r.subject_id].append(r)
    users = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(by_person))).scalars()}
    people = [(users[i], outlet, by_person[i]) for i in sorted(by_person, key=lambda i: users[i].name)]
    return _report_pdf(period, people, outlet.name, {"subject": "outlet", "outlet_id": outlet_id,
                                                     "people": len(people)})


# ---------------------------------------------------------------- leaderboard and widget

@bp.route("/leaderboard")
@policy(permission=VIEW)
def leaderboard():
    periods = [p for p in services.periods_for(current_user) if not p.superseded and p.status != "open"]
    wanted = _int_arg("period")
    period = next((p for p in periods if p.id == wanted), periods[0] if periods else None)
    schemes = _schemes_of(period) if period else []
    scheme = _chosen_scheme(period, schemes) if period else None
    staff: list[tuple[ScorecardResult, str, str]] = []
    pk: list[dict[str, Any]] = []
    mine = None
    total_ranked = 0
    if period and scheme:
        rows = db.session.execute(services.results_query(current_user, period, scheme.id).where(
            ScorecardResult.rank.is_not(None)).order_by(ScorecardResult.rank, ScorecardResult.id).limit(100)
        ).scalars().all()
        names = services.subject_names(rows)
        staff = [(r, names.get((r.subject, r.subject_id), ""), names.get(("outlet", r.outlet_id), "")
                  if r.outlet_id else "") for r in rows]
        total_ranked = (period.summary or {}).get(str(scheme.id), {}).get("scored", 0)
        mine = db.session.execute(select(ScorecardResult).where(
            ScorecardResult.period_id == period.id, ScorecardResult.scheme_id == scheme.id,
            ScorecardResult.subject == "staff", ScorecardResult.subject_id == current_user.id)).scalar_one_or_none()
        pk = _outlet_pk(period, scheme)
    return render_template("scorecards/leaderboard.html", periods=periods, period=period, schemes=schemes,
                           scheme=scheme, staff=staff, pk=pk, mine=mine, total_ranked=total_ranked,
                           chart=json.dumps({"names": [p["name"] for p in pk[:15]],
                                             "values": [str(p["average"]) for p in pk[:15]]}, ensure_ascii=False),
                           **_common())


def _outlet_pk(period: ScorecardPeriod, scheme: ScorecardScheme) -> list[dict[str, Any]]:
    """网点组合PK赛 as the computation ranked it over the whole 分行, shown for the outlets in the user's scope (an
    outlet head sees their outlet's place, not the others' figures)."""
    ranked = (period.summary or {}).get(str(scheme.id), {}).get("pk", [])
    if services.sees_whole_branch(current_user, period):
        visible_rows = ranked
    else:
        visible = set(db.session.execute(select(Outlet.id).where(scope_filter(Outlet, current_user))).scalars())
        visible_rows = [row for row in ranked if row[0] in visible]
    # The top PK_ROWS, and the user's own outlet wherever it stands.
    shown = [row for n, row in enumerate(visible_rows) if n < PK_ROWS or row[0] == current_user.outlet_id]
    names = dict(db.session.execute(select(Outlet.id, Outlet.name).where(
        Outlet.id.in_([row[0] for row in shown]))).all()) if shown else {}
    return [{"outlet_id": o, "name": names.get(o, ""), "average": Decimal(avg), "people": n, "best": Decimal(best),
             "rank": rank, "of": len(ranked)} for o, avg, n, best, rank in shown]


@bp.route("/widget")
@policy(permission=VIEW)
def widget():
    return render_template("scorecards/_widget.html", standings=services.standings_of(current_user, limit=3),
                           **_common())
