"""金融生态图 pages (R-02–R-05): the map and its data, the table and its export, entry edits, adding and removing
customers, 按规模分配, claims, the enterprise-list import, and the panel on the customer page.

Every outlet, entry and customer is looked up through the user's scope (plus, for outlet staff, the unclaimed
targets of their own outlet); anything else answers 404 with no data. The plugin gate answers 404 for every route
where the plugin is off for the user's 分行."""

from __future__ import annotations

import io
import json
import os
import time
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import jobs
from crm.access import can, get_or_404, policy
from crm.customers import claims
from crm.customers.imports import XLSX_MIME, ImportRefused, write_rejects
from crm.excel_import import MAX_BYTES, SpreadsheetError
from crm.extensions import db
from crm.i18n import label
from crm.models import Customer, Outlet
from crm.models.customers import ECO_MODULES, STATUSES
from crm.roles import CLAIM_ORDER
from crm.timeutil import to_local, utcnow
from crm.web import toast
from plugins.target_map import services_map as svc
from plugins.target_map.models import TAG_HINTS, TAG_LABELS, TAGS, TargetMapEntry

bp = Blueprint("target_map", __name__, template_folder="templates", static_folder="static")

IMPORT_PREVIEW = 200
imports_store = jobs.JobStore("target_map_imports", keep_seconds=24 * 3600)


def _outlet(outlet_id: int) -> Outlet:
    outlet = svc.visible_outlet(current_user, outlet_id)
    if outlet is None:
        abort(404)
    return outlet


def _entry(entry_id: int, *, pool: bool = True) -> TargetMapEntry:
    entry = svc.entry_for(current_user, entry_id, pool=pool)
    if entry is None:
        abort(404)
    return entry


def sort_labels() -> dict[str, str]:
    """The table's sort options (the allow-list of services_map.SORTS), as the sort menu names them."""
    return {"value": _("按存款/预计规模"), "revenue": _("按年销售收入"), "name": _("按企业名称拼音"), "module": _("按模块"),
            "perspective": _("按存量/目标"), "tag": _("按保抢挖"), "owner": _("按责任人"), "tax_rank": _("按纳税排名"),
            "sales_rank": _("按销售排名"), "trade_rank": _("按进出口排名"), "added": _("按加入时间")}


def _labels() -> dict[str, Any]:
    return dict(modules={k: label(v) for k, v in ECO_MODULES.items()},
                statuses={k: label(v) for k, v in STATUSES.items()},
                tag_labels={k: label(v) for k, v in TAG_LABELS.items()},
                tag_hints={k: label(v) for k, v in TAG_HINTS.items()}, tags=TAGS)


def _can_claim() -> bool:
    return can("customers.claim") and current_user.post in CLAIM_ORDER


def _page_context(outlet: Outlet) -> dict[str, Any]:
    """What both views of an outlet's map show around the chart or the table (one GROUP BY over the entries)."""
    manage = can("target_map.manage")
    summary = svc.summary(current_user, outlet)
    # Those who manage the map see all of the outlet's entries: the summary's unassigned targets are the outlet's.
    return dict(outlet=outlet, outlets=svc.outlet_choices(current_user), summary=summary,
                can_manage=manage, can_export=can("customers.export"), can_claim=_can_claim(),
                can_settings=can("plugins.manage"), threshold=svc.threshold(outlet.root_branch_id),
                unassigned=summary.unassigned_targets if manage else 0, module_order=svc.MODULES, **_labels())


# ---------------------------------------------------------------- the map

@bp.route("/")
@policy(permission="target_map.view")
def index():
    """Opens one's own outlet (branch staff: the first with a map); `?outlet=` switches (out of scope: 404)."""
    if request.args.get("outlet"):
        outlet = _outlet(svc._version(request.args.get("outlet")) or 0)
    else:
        outlet = svc.default_outlet(current_user)
    if outlet is None:
        abort(404)
    view = "target_map.outlet_table" if request.args.get("view") == "table" else "target_map.outlet_map"
    return redirect(url_for(view, outlet_id=outlet.id))


@bp.route("/outlets/<int:outlet_id>")
@policy(permission="target_map.view")
def outlet_map(outlet_id: int):
    outlet = _outlet(outlet_id)
    return render_template("target_map/map.html", view="map", **_page_context(outlet))


@bp.route("/outlets/<int:outlet_id>/map.json")
@policy(permission="target_map.view")
def map_json(outlet_id: int):
    """The chart's data (arrays, see services_map.map_data), loaded by map.js after the page."""
    outlet = _outlet(outlet_id)
    # UTF-8 rather than \uXXXX escapes and no spaces: a Chinese name takes 3 bytes a character instead of 6.
    body = json.dumps(svc.map_data(current_user, outlet), ensure_ascii=False, separators=(",", ":"))
    return Response(body, mimetype="application/json")


@bp.route("/entries/<int:entry_id>/card")
@policy(permission="target_map.view")
def entry_card(entry_id: int):
    """The small card the map shows for a node the user cannot open (an unclaimed target of their outlet)."""
    entry = _entry(entry_id)
    return render_template("target_map/_entry_card.html", e=entry, c=entry.customer,
                           can_open=svc.in_scope(current_user, entry.customer_id), can_claim=_can_claim(),
                           can_manage=can("target_map.manage"), **_labels())


# ---------------------------------------------------------------- the table and its export

@bp.route("/outlets/<int:outlet_id>/table")
@policy(permission="target_map.view")
def outlet_table(outlet_id: int):
    outlet = _outlet(outlet_id)
    f = svc.parse_filters(request.args)
    page = svc.table_page(current_user, outlet, f, request.args.get("after"))
    ctx = dict(page=page, f=f, args=f.args(), me=current_user.id, **_labels())
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") in ("map-rows", "more-entries"):
        return render_template("target_map/_map_rows.html", outlet=outlet, can_manage=can("target_map.manage"),
                               can_claim=_can_claim(), **ctx)
    ctx.update(_page_context(outlet))
    filtered = f.module or f.perspective or f.tag or f.q
    count = svc.table_count(current_user, outlet, f) if filtered else ctx["summary"].total
    return render_template("target_map/map_table.html", view="table", count=count, sort_labels=sort_labels(), **ctx)


@bp.route("/outlets/<int:outlet_id>/export.xlsx")
@policy(permission="target_map.view")
def export(outlet_id: int):
    outlet = _outlet(outlet_id)
    if not can("customers.export"):
        abort(403)
    f = svc.parse_filters(request.args)
    try:
        buffer, _rows, _full = svc.export(current_user, outlet, f)
    except svc.MapError as exc:
        toast(exc.message, "danger")
        return redirect(url_for("target_map.outlet_table", outlet_id=outlet.id, **f.args()))
    stamp = to_local(utcnow()).strftime("%Y%m%d-%H%M")
    return send_file(buffer, as_attachment=True, download_name=f"金融生态图-{outlet.name}-{stamp}.xlsx",
                     mimetype=XLSX_MIME)


# ---------------------------------------------------------------- editing, adding, removing

def _form_context(entry: TargetMapEntry, values: dict[str, Any] | None = None, error: str | None = None,
                  field: str | None = None, where: str = "table") -> dict[str, Any]:
    c = entry.customer
    if values is None:
        values = {"eco_module": c.eco_module or "", "status": c.status, "tag": entry.tag or "",
                  "maintainer_id": c.maintainer_id or "", "maintenance_target": c.maintenance_target or "",
                  "near_term_target": c.near_term_target or "",
                  "expected_scale": "" if entry.expected_scale is None else f"{entry.expected_scale:f}",
                  "version": entry.version, "customer_version": c.version}
    return dict(e=entry, c=c, values=values, error=error, field=field, where=where,
                staff=svc.outlet_staff(c.outlet_id), **_labels())


@bp.route("/entries/<int:entry_id>/edit", methods=["GET", "POST"])
@policy(permission="target_map.manage")
def edit_entry(entry_id: int):
    entry = _entry(entry_id, pool=False)
    where = request.values.get("where") if request.values.get("where") in ("table", "panel") else "table"
    if request.method == "GET":
        return render_template("target_map/_entry_form.html", **_form_context(entry, where=where))
    values = request.form.to_dict()
    try:
        changed = svc.update_entry(current_user, entry, values)
    except svc.MapError as exc:
        db.session.rollback()
        entry = _entry(entry_id, pool=False)
        status = 409 if exc.conflict else 422
        if exc.conflict:  # show what is stored now; the user's input is not kept over someone else's save
            return render_template("target_map/_entry_form.html", **_form_context(
                entry, error=exc.message, where=where)), status
        return render_template("target_map/_entry_form.html", **_form_context(
            entry, values, exc.message, exc.field, where)), status
    toast(_("已保存") if changed else _("没有需要保存的修改"))
    entry = _entry(entry_id, pool=False)
    if where == "panel":
        return render_template("target_map/_panel_entry.html", c=entry.customer, e=entry,
                               can_manage=True, **_labels())
    return render_template("target_map/_entry_saved.html", r=_row_of(entry), outlet=entry.customer.outlet,
                           can_manage=True, can_claim=_can_claim(), me=current_user.id, **_labels())


def _row_of(entry: TargetMapEntry) -> Any:
    """The entry as the table's row query gives it (one row)."""
    return svc.table_row(current_user, entry)


@bp.route("/outlets/<int:outlet_id>/candidates")
@policy(permission="target_map.manage")
def candidates(outlet_id: int):
    outlet = _outlet(outlet_id)
    q = (request.args.get("q") or "").strip()[:40]
    return render_template("target_map/_map_candidates.html", outlet=outlet, q=q,
                           rows=svc.candidates(current_user, outlet, q), **_labels())


@bp.route("/outlets/<int:outlet_id>/entries", methods=["POST"])
@policy(permission="target_map.manage")
def add_entry(outlet_id: int):
    outlet = _outlet(outlet_id)
    back = request.form.get("back") if request.form.get("back") in ("map", "table", "panel") else "table"
    try:
        entry = svc.add_entry(current_user, outlet, request.form.get("customer_id"), request.form.get("eco_module", ""),
                              request.form.get("tag") or None)
    except svc.MapError as exc:
        db.session.rollback()
        toast(exc.message, "danger")
        if back == "panel" and request.form.get("customer_id", "").isdigit():
            return redirect(url_for("customers.detail", customer_id=int(request.form["customer_id"])))
        return redirect(url_for("target_map.outlet_table", outlet_id=outlet.id))
    toast(_("“%(name)s”已加入金融生态图", name=entry.customer.name))
    if back == "panel":
        return redirect(url_for("customers.detail", customer_id=entry.customer_id))
    if back == "map":
        return redirect(url_for("target_map.outlet_map", outlet_id=outlet.id))
    return redirect(url_for("target_map.outlet_table", outlet_id=outlet.id))


@bp.route("/entries/<int:entry_id>/remove", methods=["POST"])
@policy(permission="target_map.manage")
def remove_entry(entry_id: int):
    entry = _entry(entry_id, pool=False)
    outlet_id, name = entry.outlet_id, entry.customer.name
    svc.remove_entry(current_user, entry)
    toast(_("“%(name)s”已移出金融生态图（客户档案保留）", name=name))
    return redirect(url_for("target_map.outlet_table", outlet_id=outlet_id))


# ---------------------------------------------------------------- assignment and claims (熟客认领)

@bp.route("/outlets/<int:outlet_id>/assign", methods=["POST"])
@policy(permission="target_map.manage")
def assign(outlet_id: int):
    outlet = _outlet(outlet_id)
    try:
        result = svc.assign_by_size(current_user, outlet)
    except svc.MapError as exc:
        db.session.rollback()
        toast(exc.message, "danger")
    else:
        if result.total:
            toast(_("已分配 %(n)d 户目标客户：网点负责人 %(head)d 户，法人客户经理 %(rm)d 户", n=result.total,
                    head=result.to_head, rm=sum(result.to_rms.values())))
        else:
            toast(_("没有待分配的目标客户"), "info")
    back = "target_map.outlet_map" if request.form.get("back") == "map" else "target_map.outlet_table"
    return redirect(url_for(back, outlet_id=outlet.id))


@bp.route("/entries/<int:entry_id>/claim", methods=["POST"])
@policy(permission="target_map.view")
def claim(entry_id: int):
    """熟客认领 from the map: the core claim (a conditional UPDATE; a second claimant makes it contested and the
    outlet head decides on the core claims page)."""
    entry = _entry(entry_id)
    customer = entry.customer
    back = "target_map.outlet_map" if request.form.get("back") == "map" else "target_map.outlet_table"
    try:
        state = claims.claim(current_user, customer)
    except claims.ClaimError as exc:
        db.session.rollback()
        toast(exc.message, "warning")
    else:
        toast(_("认领成功，您已成为“%(name)s”的营销人", name=customer.name) if state == "won"
              else _("该客户已有营销人，您的认领已提交网点负责人裁定"), "success" if state == "won" else "info")
    return redirect(url_for(back, outlet_id=entry.outlet_id))


# ---------------------------------------------------------------- the enterprise-list import

def _import_page(error: str | None = None, status: int = 200, outlet_id: int | None = None):
    outlets = svc.outlet_choices(current_user)
    chosen = outlet_id or current_user.outlet_id or (outlets[0].id if outlets else None)
    return render_template("target_map/import.html", error=error, outlets=outlets, chosen=chosen,
                           columns=svc.IMPORT_COLUMNS, sources=svc.SOURCES, max_mb=MAX_BYTES // 1024 // 1024,
                           source=request.form.get("source", "")), status


@bp.route("/import", methods=["GET", "POST"])
@policy(permission="target_map.manage")
def import_page():
    if request.method == "GET":
        return _import_page(outlet_id=svc._version(request.args.get("outlet")))
    outlet = svc.visible_outlet(current_user, request.form.get("outlet_id"))
    if outlet is None:
        return _import_page(_("请选择您管辖范围内的网点"), 422)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(_("请选择要导入的文件"), 422, outlet.id)
    data = upload.read(MAX_BYTES + 1)
    filename = os.path.basename(upload.filename.replace("\\", "/"))[:200]
    importer = svc.ListImport(current_user._get_current_object(), outlet, request.form.get("source", ""))
    try:
        report = importer.run(data, filename)
    except (SpreadsheetError, ImportRefused, svc.MapError) as exc:
        db.session.rollback()
        return _import_page(exc.message, 422, outlet.id)
    imports_store.cleanup()
    job = imports_store.new(filename=filename, outlet_id=outlet.id, outlet=outlet.name, counts=importer.counts(),
                            ignored=report.ignored, seconds=report.seconds, has_rejects=bool(report.rejected),
                            rejects=[[r.row, r.columns, r.reasons] for r in report.rejected[:IMPORT_PREVIEW]])
    job.update(state="done", finished=time.time())
    if report.rejected:
        scratch = imports_store.scratch(job["id"], "-rejects.xlsx")
        write_rejects(str(scratch), report)
        imports_store.put_file(job["id"], "-rejects.xlsx", scratch)  # whole, where every app server sees it
    imports_store.save(job)
    return redirect(url_for("target_map.import_job", job_id=job["id"]), 303)


@bp.route("/import/template.xlsx")
@policy(permission="target_map.manage")
def import_template():
    out = io.BytesIO()
    svc.write_import_template(out, current_user)
    out.seek(0)
    return send_file(out, mimetype=XLSX_MIME, as_attachment=True, download_name="金融生态图企业名录模板.xlsx")


@bp.route("/import/<job_id>")
@policy(permission="target_map.manage")
def import_job(job_id: str):
    return render_template("target_map/import_job.html", job=imports_store.own(job_id), preview=IMPORT_PREVIEW)


@bp.route("/import/<job_id>/rejects.xlsx")
@policy(permission="target_map.manage")
def import_rejects(job_id: str):
    job = imports_store.own(job_id)
    data = imports_store.open_file(job["id"], "-rejects.xlsx") if job.get("has_rejects") else None
    if data is None:
        abort(404)
    stem = os.path.splitext(job["filename"])[0][:80] or "import"
    return send_file(io.BytesIO(data), mimetype=XLSX_MIME, as_attachment=True,
                     download_name=f"{stem}-未导入的行.xlsx")


# ---------------------------------------------------------------- the panel on the customer page

@bp.route("/panel/<int:customer_id>")
@policy(permission="target_map.view")
def panel(customer_id: int):
    customer = get_or_404(Customer, customer_id)  # through the scope: another outlet's customer is a 404
    entry = svc.entry_of_customer(customer.id)
    return render_template("target_map/_panel_entry.html", c=customer, e=entry,
                           can_manage=can("target_map.manage"), **_labels())
