"""Campaign pages: campaigns, rounds, routes, invitations, registration, the check-in page, steps, photos, outcomes,
results, export and the dashboard widget. Thin: parse, call services, render."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError

from crm.access import can, get_or_404, policy, scoped
from crm.extensions import db
from crm.models import Branch, Customer
from crm.models.customers import SCHOOL_GRADES
from crm.timeutil import to_local, utcnow
from crm.web import toast
from plugins.salon_events import services, uploads
from plugins.salon_events.models import (
    CAMPAIGN_STATUSES,
    CLOSING_RESULTS,
    KINDS,
    SalonCampaign,
    SalonInvitation,
    SalonPhoto,
    SalonRegistration,
    SalonRoute,
    SalonSession,
)
from plugins.salon_events.services import FormErrors, ServiceError

bp = Blueprint("salon_events", __name__, template_folder="templates", static_folder="static")

VIEW, MANAGE, RUN = "salon_events.view", "salon_events.manage", "salon_events.run"


def _refused(exc: ServiceError) -> None:
    """A refused action: nothing of it stays, and the user reads why (the page it redirects to shows the toast)."""
    db.session.rollback()
    toast(str(exc), "danger")


def _form() -> dict[str, Any]:
    data: dict[str, Any] = {k: request.form.get(k) for k in request.form}
    data["outlets"] = request.form.getlist("outlets")
    return data


def _back(default: str):
    return redirect(request.form.get("next") or default)


# ---------------------------------------------------------------- campaigns

@bp.route("/")
@policy(permission=VIEW)
def index():
    status = request.args.get("status") if request.args.get("status") in CAMPAIGN_STATUSES else ""
    return render_template("salon_events/index.html", campaigns=services.campaigns(current_user, status),
                           status=status, statuses=CAMPAIGN_STATUSES, upcoming=services.upcoming(current_user, 10),
                           branch_names=_branch_names())


def _branch_names() -> dict[int, str] | None:
    """The names of the 分行 the user's scope spans, by id, when that is more than one (the system administrator,
    全行 posts): the list then names each campaign's 分行, since two 分行 may run campaigns of the same name.
    None for anyone inside one 分行, where the column would repeat one name. One query, whatever the list's length."""
    names = dict(db.session.execute(scoped(Branch).where(Branch.parent_id.is_(None)).with_only_columns(
        Branch.id, Branch.name).order_by(Branch.code)).all())
    return names if len(names) > 1 else None


def _admin_branches() -> list[Branch]:
    if current_user.root_branch_id is not None:
        return []
    return list(db.session.execute(select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars())


def _campaign_form(campaign: SalonCampaign | None, values: dict[str, Any] | None = None,
                   errors: dict[str, str] | None = None, status: int = 200):
    branch_id = campaign.branch_id if campaign else (current_user.root_branch_id or services._int(
        (values or {}).get("branch")) or request.args.get("branch", type=int))
    outlets = services.branch_outlets(branch_id) if branch_id else []
    if values is None:
        values = {"year": str(to_local(utcnow()).year), "outlets": [], "kind": request.args.get("kind", "kids")}
        if campaign is not None:
            values = {k: getattr(campaign, k) for k in ("name", "kind", "code", "audience", "goal", "core_products",
                                                         "partner", "year", "starts_on", "ends_on", "premium_cap")}
            values["outlets"] = [str(o.outlet_id) for o in campaign.outlets]
        elif values["kind"] == "kids":
            # the kids campaign's frame, editable.
            values.update(audience="1至15岁儿童及其家长", goal="以孩子为情感纽带，切入家庭营销",
                          core_products="儿童专属借记卡、少儿教育金保险")
    return render_template("salon_events/campaign_form.html", campaign=campaign, values=values, errors=errors or {},
                           kinds=KINDS, outlets=outlets, branch_id=branch_id,
                           admin_branches=_admin_branches()), status


@bp.route("/campaigns/new", methods=["GET", "POST"])
@policy(permission=MANAGE)
def campaign_new():
    if request.method == "GET":
        return _campaign_form(None)
    raw = _form()
    try:
        campaign = services.create_campaign(current_user, raw)
    except FormErrors as exc:
        db.session.rollback()
        return _campaign_form(None, raw, exc.errors, 422)
    except ServiceError as exc:
        db.session.rollback()
        return _campaign_form(None, raw, {"branch": str(exc)}, 422)
    toast(_("活动已创建（草稿）"))
    return redirect(url_for("salon_events.campaign", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@policy(permission=MANAGE)
def campaign_edit(campaign_id: int):
    campaign = get_or_404(SalonCampaign, campaign_id)
    if request.method == "GET":
        return _campaign_form(campaign)
    raw = _form()
    try:
        services.update_campaign(current_user, campaign, raw, request.form.get("version", type=int))
    except FormErrors as exc:
        db.session.rollback()
        return _campaign_form(db.session.get(SalonCampaign, campaign_id), raw, exc.errors, 422)
    except ServiceError as exc:
        db.session.rollback()
        return _campaign_form(db.session.get(SalonCampaign, campaign_id), raw, {"name": str(exc)}, 409)
    toast(_("已保存"))
    return redirect(url_for("salon_events.campaign", campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>/status", methods=["POST"])
@policy(permission=MANAGE)
def campaign_status(campaign_id: int):
    campaign = get_or_404(SalonCampaign, campaign_id)
    try:
        services.advance_status(current_user, campaign, request.form.get("status", ""))
        toast(_("活动状态已更新为：%(s)s", s=campaign.status_label))
    except ServiceError as exc:
        _refused(exc)
    return redirect(url_for("salon_events.campaign", campaign_id=campaign_id))


def _campaign_page(campaign: SalonCampaign, status: int = 200, **extra: Any):
    outlets = services.outlets_in_scope(current_user, campaign)
    round_values = extra.get("round_values") or {}
    chosen = services._int(round_values.get("outlet_id"))
    outlet = next((o for o in outlets if o.id == chosen), outlets[0] if outlets else None)
    staff = services.staff_choices(outlet) if can(RUN) else {}
    ctx = dict(campaign=campaign, outlets=outlets, staff=staff, staff_labels=staff_labels(),
               rounds=services.rounds(current_user, campaign.id),
               routes=services.routes(current_user, campaign.id) if campaign.kind == "study_tour" else [],
               steps=services.steps_of(campaign.kind), hints=services.step_hints(campaign.kind), grades=SCHOOL_GRADES, tour_grades=services.TOUR_GRADES,
               lists=services.segment_lists(current_user) if can(RUN) else [],
               invitations=services.invitations(current_user, campaign.id, 50),
               round_values=extra.pop("round_values", {}), round_errors=extra.pop("round_errors", {}),
               route_values=extra.pop("route_values", {}), route_errors=extra.pop("route_errors", {}),
               warnings=extra.pop("warnings", []), kids_max=services.KIDS_MAX_CHILDREN,
               cert_url=cert_url(campaign.id) if campaign.kind == "kids" else None, **extra)
    return render_template("salon_events/campaign.html", **ctx), status


def staff_labels() -> list[tuple[str, str]]:
    return [("lobby_manager_id", _("大堂经理")), ("rm_id", _("客户经理")),
            ("president_id", _("支行行长/零售主管行长")), ("wealth_manager_id", _("理财经理"))]


@bp.route("/campaigns/<int:campaign_id>/round-staff")
@policy(permission=RUN)
def round_staff(campaign_id: int):
    """htmx: the staff dropdowns of the round form for the chosen outlet (only the posts of each role)."""
    campaign = get_or_404(SalonCampaign, campaign_id)
    oid = request.args.get("outlet_id", type=int)
    outlet = next((o for o in services.outlets_in_scope(current_user, campaign) if o.id == oid), None)
    if outlet is None:
        abort(404)
    return render_template("salon_events/_staff_fields.html", staff=services.staff_choices(outlet),
                           staff_labels=staff_labels(), values={}, errors={}, prefix="r", current={})


@bp.route("/campaigns/<int:campaign_id>")
@policy(permission=VIEW)
def campaign(campaign_id: int):
    return _campaign_page(get_or_404(SalonCampaign, campaign_id))


@bp.route("/campaigns/<int:campaign_id>/rounds", methods=["POST"])
@policy(permission=RUN)
def round_create(campaign_id: int):
    campaign = get_or_404(SalonCampaign, campaign_id)
    raw = _form()
    try:
        if request.form.get("split"):
            created, warnings = services.split_rounds(current_user, campaign, raw)
            toast(_("已按人数拆分为 %(n)s 场：%(sizes)s", n=len(created),
                    sizes="、".join(str(r.capacity) for r in created)))
        else:
            _session, warnings = services.create_round(current_user, campaign, raw)
            toast(_("场次已安排"))
    except FormErrors as exc:
        db.session.rollback()
        return _campaign_page(db.session.get(SalonCampaign, campaign_id), 422, round_values=raw,
                              round_errors=exc.errors)
    except ServiceError as exc:
        db.session.rollback()
        return _campaign_page(db.session.get(SalonCampaign, campaign_id), 422, round_values=raw,
                              round_errors={"campaign": str(exc)})
    for w in warnings:
        toast(w, "warning")
    return redirect(url_for("salon_events.campaign", campaign_id=campaign_id) + "#rounds")


@bp.route("/campaigns/<int:campaign_id>/routes", methods=["POST"])
@policy(permission=MANAGE)
def route_save(campaign_id: int):
    campaign = get_or_404(SalonCampaign, campaign_id)
    raw = _form()
    route = None
    if request.form.get("route_id"):
        route = db.session.execute(scoped(SalonRoute).where(
            SalonRoute.id == request.form.get("route_id", type=int),
            SalonRoute.campaign_id == campaign.id)).scalar_one_or_none()
        if route is None:
            abort(404)
    try:
        services.save_route(current_user, campaign, raw, route)
    except FormErrors as exc:
        db.session.rollback()
        return _campaign_page(db.session.get(SalonCampaign, campaign_id), 422, route_values=raw,
                              route_errors=exc.errors)
    except ServiceError as exc:
        _refused(exc)
        return redirect(url_for("salon_events.campaign", campaign_id=campaign_id))
    toast(_("线路已保存"))
    return redirect(url_for("salon_events.campaign", campaign_id=campaign_id) + "#routes")


# ---------------------------------------------------------------- invitations

@bp.route("/campaigns/<int:campaign_id>/customers")
@policy(permission=RUN)
def customer_search(campaign_id: int):
    """htmx: customers matching the search box, for inviting or registering."""
    campaign = get_or_404(SalonCampaign, campaign_id)
    q = (request.args.get("q") or "").strip()[:40]
    mode = request.args.get("mode", "invite")
    target = request.args.get("target", "")
    found = services.search_customers(current_user, campaign, q) if q else []
    return render_template("salon_events/_customer_results.html", campaign=campaign, found=found, q=q, mode=mode,
                           target=target)


@bp.route("/campaigns/<int:campaign_id>/invite", methods=["POST"])
@policy(permission=RUN)
def invite(campaign_id: int):
    campaign = get_or_404(SalonCampaign, campaign_id)
    try:
        if request.form.get("list_id"):
            n = services.invite_list(current_user, campaign, request.form.get("list_id", type=int))
        else:
            n = services.invite_customers(current_user, campaign, request.form.getlist("customer_id"))
        toast(_("已邀约 %(n)s 位客户", n=n))
    except ServiceError as exc:
        _refused(exc)
    return redirect(url_for("salon_events.campaign", campaign_id=campaign_id) + "#invitations")


@bp.route("/invitations/<int:invitation_id>/delete", methods=["POST"])
@policy(permission=RUN)
def invitation_remove(invitation_id: int):
    inv = get_or_404(SalonInvitation, invitation_id)
    campaign_id = inv.campaign_id
    try:
        services.remove_invitation(current_user, inv)
        toast(_("已删除邀约"))
    except ServiceError as exc:
        _refused(exc)
    return redirect(url_for("salon_events.campaign", campaign_id=campaign_id) + "#invitations")


@bp.route("/invitations/<int:invitation_id>/status", methods=["POST"])
@policy(permission=RUN)
def invitation_status(invitation_id: int):
    inv = get_or_404(SalonInvitation, invitation_id)
    try:
        services.set_invitation_status(current_user, inv, request.form.get("status", ""))
    except ServiceError as exc:
        _refused(exc)
    return redirect(url_for("salon_events.campaign", campaign_id=inv.campaign_id) + "#invitations")


# ---------------------------------------------------------------- rounds and routes: registration

def _target(kind: str, target_id: int) -> SalonSession | SalonRoute:
    return get_or_404(SalonSession if kind == "round" else SalonRoute, target_id)


def cert_url(campaign_id: int) -> str | None:
    """The certificate page of the campaign (the certificate blueprint), for those who print."""
    if not can(MANAGE):
        return None
    try:
        return url_for("salon_events_cert.page", campaign_id=campaign_id)
    except BuildError:
        return None


def _target_page(kind: str, target: Any, status: int = 200, **extra: Any):
    campaign = target.campaign if kind == "round" else get_or_404(SalonCampaign, target.campaign_id)
    regs = services.registrations(current_user, session_id=target.id if kind == "round" else None,
                                  route_id=target.id if kind == "route" else None)
    ctx = dict(kind=kind, target=target, campaign=campaign, regs=regs, grades=SCHOOL_GRADES,
               tour_grades=services.TOUR_GRADES, closings=CLOSING_RESULTS,
               steps=services.steps_of(campaign.kind) if kind == "round" else (),
               done=services.steps_done(target.id) if kind == "round" else [],
               hints=services.step_hints(campaign.kind),
               photos=services.photos(current_user, target.id) if kind == "round" else [],
               reg_values=extra.pop("reg_values", {}), reg_errors=extra.pop("reg_errors", {}),
               parent=extra.pop("parent", None), children=extra.pop("children", []),
               cert_url=cert_url(campaign.id) if campaign.kind == "kids" else None, **extra)
    return render_template("salon_events/round.html", **ctx), status


@bp.route("/rounds/<int:session_id>")
@policy(permission=VIEW)
def round_page(session_id: int):
    return _target_page("round", _target("round", session_id))


@bp.route("/routes/<int:route_id>")
@policy(permission=VIEW)
def route_page(route_id: int):
    return _target_page("route", _target("route", route_id))


@bp.route("/<any(round, route):kind>/<int:target_id>/register-form")
@policy(permission=RUN)
def register_form(kind: str, target_id: int):
    """htmx: the registration form for a chosen parent customer, with their children to pick from."""
    target = _target(kind, target_id)
    parent = db.session.execute(scoped(Customer).where(
        Customer.id == request.args.get("customer_id", type=int))).scalar_one_or_none()
    if parent is None:
        abort(404)
    campaign = target.campaign if kind == "round" else db.session.get(SalonCampaign, target.campaign_id)
    return render_template("salon_events/_register_form.html", kind=kind, target=target, campaign=campaign,
                           parent=parent, children=services.children_of(current_user, parent.id), reg_values={},
                           reg_errors={}, grades=SCHOOL_GRADES, tour_grades=services.TOUR_GRADES)


@bp.route("/<any(round, route):kind>/<int:target_id>/register", methods=["POST"])
@policy(permission=RUN)
def register(kind: str, target_id: int):
    target = _target(kind, target_id)
    raw = _form()
    try:
        reg = services.register(current_user, target, services.parse_registration(raw))
    except FormErrors as exc:
        db.session.rollback()
        target = _target(kind, target_id)
        parent = db.session.execute(scoped(Customer).where(
            Customer.id == services._int(raw.get("customer_id")))).scalar_one_or_none()
        return _target_page(kind, target, 422, reg_values=raw, reg_errors=exc.errors, parent=parent,
                            children=services.children_of(current_user, parent.id) if parent else [])
    except ServiceError as exc:
        _refused(exc)
        return redirect(url_for(f"salon_events.{kind}_page", **{("session_id" if kind == "round" else "route_id"):
                                                                target_id}))
    if reg.status == "waitlisted":
        toast(_("名额已满，已登记为候补"), "warning")
    else:
        toast(_("报名成功"))
    return redirect(url_for(f"salon_events.{kind}_page",
                            **{("session_id" if kind == "round" else "route_id"): target_id}) + "#registrations")


def _reg_redirect(reg: SalonRegistration):
    if reg.session_id:
        return url_for("salon_events.round_page", session_id=reg.session_id)
    return url_for("salon_events.route_page", route_id=reg.route_id)


@bp.route("/registrations/<int:reg_id>/cancel", methods=["POST"])
@policy(permission=RUN)
def registration_cancel(reg_id: int):
    reg = get_or_404(SalonRegistration, reg_id)
    back = _reg_redirect(reg)
    try:
        promoted = services.cancel_registration(current_user, reg)
        toast(_("已取消报名") + ("，" + _("候补 %(name)s 已递补", name=promoted.child_name or "") if promoted else ""))
    except ServiceError as exc:
        _refused(exc)
    return redirect(back + "#registrations")


@bp.route("/registrations/<int:reg_id>/contact", methods=["POST"])
@policy(permission=RUN)
def registration_contact(reg_id: int):
    reg = get_or_404(SalonRegistration, reg_id)
    back = _reg_redirect(reg)
    try:
        services.mark_contact(current_user, reg, request.form.get("what", ""))
    except ServiceError as exc:
        _refused(exc)
    return redirect(back + "#registrations")


@bp.route("/registrations/<int:reg_id>/outcome", methods=["POST"])
@policy(permission=RUN)
def registration_outcome(reg_id: int):
    reg = get_or_404(SalonRegistration, reg_id)
    back = _reg_redirect(reg)
    try:
        warnings = services.record_outcome(current_user, reg, _form())
        toast(_("成效已登记"))
        for w in warnings:
            toast(w, "warning")
    except ServiceError as exc:
        _refused(exc)
    return redirect(back + f"#reg-{reg_id}")


@bp.route("/rounds/<int:session_id>/status", methods=["POST"])
@policy(permission=RUN)
def round_status(session_id: int):
    session = get_or_404(SalonSession, session_id)
    try:
        services.set_round_status(current_user, session, request.form.get("status", ""))
        toast(_("场次已截止报名") if session.status == "closed" else _("场次已重新开放报名"))
    except ServiceError as exc:
        _refused(exc)
    if request.form.get("back") == "edit":
        return redirect(url_for("salon_events.round_edit", session_id=session_id))
    return redirect(url_for("salon_events.round_page", session_id=session_id))


def _round_edit_page(session: SalonSession, values: dict[str, Any] | None = None,
                     errors: dict[str, str] | None = None, status: int = 200, version: str | None = None):
    if values is None:
        values = {"day": session.starts_at.date().isoformat(), "start": session.starts_at.strftime("%H:%M"),
                  "end": session.ends_at.strftime("%H:%M"), "capacity": str(session.capacity),
                  "partner_teacher": session.partner_teacher or "", "note": session.note or "",
                  **{k: str(getattr(session, k)) if getattr(session, k) else "" for k in services.STAFF_ROLES}}
    staff = services.staff_choices(session.outlet)
    # A current assignee who no longer fits the role (moved, disabled, post changed) is shown, so nobody is
    # dropped silently; saving with them still selected is refused.
    current = {}
    for key in services.STAFF_ROLES:
        u = getattr(session, key.removesuffix("_id"))
        if u is not None and u.id not in {x.id for x in staff[key]}:
            current[key] = u
    return render_template("salon_events/round_edit.html", target=session, campaign=session.campaign,
                           values=values, errors=errors or {}, staff=staff, staff_labels=staff_labels(),
                           current=current, version=version or services.round_version(session),
                           blocker=services.round_delete_blocker(session.id), kids_max=services.KIDS_MAX_CHILDREN,
                           started=services.round_started(session.id)), status


@bp.route("/rounds/<int:session_id>/edit", methods=["GET", "POST"])
@policy(permission=RUN)
def round_edit(session_id: int):
    session = get_or_404(SalonSession, session_id)
    if request.method == "GET":
        return _round_edit_page(session)
    raw = _form()
    try:
        result = services.update_round(current_user, session, raw, request.form.get("version"))
    except FormErrors as exc:
        db.session.rollback()
        return _round_edit_page(get_or_404(SalonSession, session_id), raw, exc.errors, 422,
                                request.form.get("version"))
    except ServiceError as exc:
        db.session.rollback()
        # Stale form or closed campaign: show the current values with the message.
        return _round_edit_page(get_or_404(SalonSession, session_id), None, {"form": str(exc)}, 409)
    toast(_("场次已保存") if result.changes else _("未作修改"))
    if result.promoted:
        toast(_("名额增加，%(n)s 名候补已转为正式报名", n=result.promoted))
    for w in result.warnings:
        toast(w, "warning")
    return redirect(url_for("salon_events.round_page", session_id=session_id))


@bp.route("/rounds/<int:session_id>/delete", methods=["POST"])
@policy(permission=RUN)
def round_delete(session_id: int):
    session = get_or_404(SalonSession, session_id)
    campaign_id = session.campaign_id
    try:
        services.delete_round(current_user, session)
    except ServiceError as exc:
        _refused(exc)
        return redirect(url_for("salon_events.round_edit", session_id=session_id))
    toast(_("场次已删除"))
    return redirect(url_for("salon_events.campaign", campaign_id=campaign_id) + "#rounds")


# ---------------------------------------------------------------- the day

@bp.route("/rounds/<int:session_id>/checkin")
@policy(permission=RUN)
def checkin_page(session_id: int):
    """The phone/tablet page of the day: big buttons per child, the steps, photo upload."""
    session = get_or_404(SalonSession, session_id)
    regs = [r for r in services.registrations(current_user, session_id=session_id) if r[0].status == "registered"]
    photos = {p.registration_id: p for p in services.photos(current_user, session_id)}
    return render_template("salon_events/checkin.html", target=session, campaign=session.campaign, regs=regs,
                           photos=photos, steps=services.steps_of(session.campaign.kind),
                           done=services.steps_done(session_id), hints=services.step_hints(session.campaign.kind),
                           attended=sum(1 for r in regs if r[0].attended))


@bp.route("/registrations/<int:reg_id>/checkin", methods=["POST"])
@policy(permission=RUN)
def checkin(reg_id: int):
    reg = get_or_404(SalonRegistration, reg_id)
    present = request.form.get("present", "1") == "1"
    try:
        services.check_in(current_user, reg, present)
        toast(_("%(name)s 已签到", name=reg.child_name or "") if present else _("已撤销签到"))
    except ServiceError as exc:
        _refused(exc)
    return redirect(request.form.get("back") == "round" and _reg_redirect(reg) or
                    url_for("salon_events.checkin_page", session_id=reg.session_id) + f"#reg-{reg_id}")


@bp.route("/rounds/<int:session_id>/steps", methods=["POST"])
@policy(permission=RUN)
def step_log(session_id: int):
    session = get_or_404(SalonSession, session_id)
    try:
        services.log_step(current_user, session, request.form.get("step", type=int) or 0, request.form.get("note"))
        toast(_("步骤已登记"))
    except ServiceError as exc:
        _refused(exc)
    back = request.form.get("back")
    if back == "checkin":
        return redirect(url_for("salon_events.checkin_page", session_id=session_id) + "#steps")
    return redirect(url_for("salon_events.round_page", session_id=session_id) + "#steps")


@bp.route("/rounds/<int:session_id>/photos", methods=["POST"])
@policy(permission=RUN)
def photo_upload(session_id: int):
    session = get_or_404(SalonSession, session_id)
    upload = request.files.get("photo")
    try:
        services.add_photo(current_user, session, request.form.get("registration_id", type=int), upload)
        toast(_("照片已上传"))
    except ServiceError as exc:
        _refused(exc)
    finally:
        if upload is not None:
            upload.close()  # a large upload is spooled to a temporary file
    if request.form.get("back") == "checkin":
        return redirect(url_for("salon_events.checkin_page", session_id=session_id))
    return redirect(url_for("salon_events.round_page", session_id=session_id) + "#photos")


@bp.route("/photos/<int:photo_id>")
@policy(permission=VIEW)
def photo(photo_id: int):
    """A stored photo, only through the scoped row (never a path the user chose)."""
    row = get_or_404(SalonPhoto, photo_id)
    name = row.thumb_name if request.args.get("thumb") else row.stored_name
    path = uploads.path_of(name)
    if path is None:
        abort(404)
    resp = send_file(path, mimetype=uploads.mimetype_of(name), max_age=0)
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


# ---------------------------------------------------------------- results

@bp.route("/campaigns/<int:campaign_id>/results")
@policy(permission=VIEW)
def results(campaign_id: int):
    campaign = get_or_404(SalonCampaign, campaign_id)
    total, per_outlet = services.results(current_user, campaign)
    chart = json.dumps({"stages": [
        {"name": _("邀约"), "value": total.invited}, {"name": _("报名"), "value": total.registered},
        {"name": _("到场"), "value": total.attended}, {"name": _("转化"), "value": total.converted}]},
        ensure_ascii=False)
    return render_template("salon_events/results.html", campaign=campaign, total=total, per_outlet=per_outlet,
                           chart=chart)


@bp.route("/campaigns/<int:campaign_id>/export.xlsx")
@policy(permission=VIEW)
def export(campaign_id: int):
    campaign = get_or_404(SalonCampaign, campaign_id)
    try:
        buffer, _n = services.export_registrations(current_user, campaign)
    except ServiceError as exc:
        toast(str(exc), "danger")
        return redirect(url_for("salon_events.results", campaign_id=campaign_id))
    stamp = to_local(utcnow()).strftime("%Y%m%d-%H%M")
    return send_file(buffer, as_attachment=True, download_name=f"活动报名-{campaign.code}-{stamp}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/widget")
@policy(permission=VIEW)
def widget():
    return render_template("salon_events/_widget.html", rows=services.upcoming(current_user, 6))


@bp.app_template_filter("salon_grade")
def _grade_filter(code: str | None) -> str:
    return services.grade_label(code)

