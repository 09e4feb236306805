"""Segmentation pages: ladder, rule, quota and 5C1S editors, recompute, saved customer lists, the panel (with the
5C1S rating form) and the widget."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.access import can, get_or_404, policy, scoped
from crm.customers import services as customers
from crm.extensions import db
from crm.models import Branch, Customer, User
from crm.roles import CLAIM_ORDER, POST_BY_CODE
from crm.web import toast
from plugins.segmentation import rules, services
from plugins.segmentation.rules import RuleError

bp = Blueprint("segmentation", __name__, template_folder="templates", static_folder="static")


def _branch() -> Branch:
    """The 分行 being looked at: the user's own; the system administrator picks one (?branch=)."""
    if current_user.root_branch_id is not None:
        return db.session.get(Branch, current_user.root_branch_id)
    raw = request.values.get("branch", "")
    branch = db.session.execute(scoped(Branch).where(Branch.parent_id.is_(None), Branch.id == (
        int(raw) if raw.isdigit() else -1))).scalar_one_or_none()
    if branch is None:
        abort(404)
    return branch


def _conditions(form: Any) -> list[tuple[str, str, str]]:
    return list(zip(form.getlist("field"), form.getlist("op"), form.getlist("value"), strict=False))


def _quota_ctx(branch: Branch, values: dict[tuple[str, str], Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The quota grid: rows = the R-07 claim-order posts, columns = the 分行's tiers (top first)."""
    codes = [t.code for t in services.ladder(branch.id)]
    if values is None:
        values = services.quotas(branch.id)
    return dict(branch=branch, quota_tiers=codes, quota_posts=[(p, POST_BY_CODE[p].label) for p in CLAIM_ORDER],
                quota_values=values, can_manage=can("segmentation.manage"), **extra)


def _page(branch: Branch, status: int = 200, **errors: Any):
    labels = services.segment_labels(branch.id)
    tier_counts = dict(services.scope_tier_counts(current_user))
    seg_counts = services.scope_segment_counts(current_user, branch.id)
    seg_counts.update(services.scope_primary_counts(current_user, branch.id))
    factors, quality, prospect = services.fivec_settings(branch.id)
    quota = _quota_ctx(branch, errors.pop("quota_values", None), quota_error=errors.pop("quota_error", None))
    quota.pop("branch")
    quota.pop("can_manage")
    tiers = services.ladder(branch.id)
    params = services.settings(branch.id)
    ladder_rows = errors.pop("ladder_rows", None) or [(t.code, t.name, "" if t.min_amount is None else
                                                       f"{t.min_amount:f}") for t in tiers]
    while len(ladder_rows) < 6:
        ladder_rows.append(("", "", ""))
    return render_template(
        "segmentation/index.html", branch=branch, tiers=tiers, params=params, ladder_rows=ladder_rows,
        bases=rules.BASES, tier_counts=tier_counts, seg_counts=seg_counts, labels=labels,
        builtin=rules.BUILTIN_RULES, custom=services.custom_rules(branch.id), runs=services.runs(branch.id),
        fields=rules.FIELDS, operators=rules.OPERATORS, ops_by_kind=rules.OPERATORS_BY_KIND,
        currencies=services.CURRENCIES, can_manage=can("segmentation.manage"),
        can_recompute=can("segmentation.manage") and services.can_recompute(current_user, branch.id),
        admin_branches=_admin_branches(), form=errors.pop("form", None), computed=services.slots(branch.id),
        list_kinds=services.LIST_KINDS, primary_keys=rules.PRIMARY_PRECEDENCE, primary=services.PRIMARY,
        fivec_factors=errors.pop("fivec_factors", None) or factors,
        fivec_quality=errors.pop("fivec_quality", quality), fivec_prospect=errors.pop("fivec_prospect", prospect),
        max_factors=services.MAX_FACTORS, **quota, **errors), status


def _admin_branches() -> list[Branch]:
    if current_user.root_branch_id is not None:
        return []
    return list(db.session.execute(scoped(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars())


def _back(branch: Branch):
    args = {"branch": branch.id} if current_user.root_branch_id is None else {}
    return redirect(url_for("segmentation.index", **args))


@bp.route("/")
@policy(permission="segmentation.view")
def index():
    if current_user.root_branch_id is None and not request.args.get("branch"):
        branches = _admin_branches()
        if not branches:
            abort(404)
        return redirect(url_for("segmentation.index", branch=branches[0].id))
    return _page(_branch())


@bp.route("/ladder", methods=["POST"])
@policy(permission="segmentation.manage")
def save_ladder():
    branch = _branch()
    f = request.form
    rows = list(zip(f.getlist("code"), f.getlist("name"), f.getlist("min_amount"), strict=False))
    try:
        services.save_ladder(current_user, branch.id, rows, f.get("basis", ""))
    except RuleError as exc:
        db.session.rollback()
        return _page(branch, 422, ladder_error=str(exc), ladder_rows=rows)
    toast(_("分层阶梯已保存，重算后生效"))
    return _back(branch)


@bp.route("/params", methods=["POST"])
@policy(permission="segmentation.manage")
def save_params():
    branch = _branch()
    try:
        services.save_params(current_user, branch.id, request.form.to_dict())
    except RuleError as exc:
        db.session.rollback()
        return _page(branch, 422, params_error=str(exc))
    toast(_("分群参数已保存，重算后生效"))
    return _back(branch)


@bp.route("/rules", methods=["POST"])
@policy(permission="segmentation.manage")
def save_rule():
    branch = _branch()
    f = request.form
    try:
        row = services.save_custom_rule(current_user, branch.id, f.get("name", ""), f.get("join", ""),
                                        _conditions(f))
    except RuleError as exc:
        db.session.rollback()
        return _page(branch, 422, rule_error=str(exc), form={"name": f.get("name", ""), "join": f.get("join"),
                                                             "conditions": _conditions(f)})
    n = services.count_matching(current_user, branch.id, rules.compile_custom(
        {"join": row.join, "conditions": row.conditions}))
    toast(_("自定义分群“%(name)s”已保存，当前符合条件的客户 %(n)s 户；重算后计入分群", name=row.name, n=format(n, ",")))
    return _back(branch)


@bp.route("/rules/<int:rule_id>/delete", methods=["POST"])
@policy(permission="segmentation.manage")
def delete_rule(rule_id: int):
    branch = _branch()
    if not services.delete_custom_rule(current_user, branch.id, rule_id):
        abort(404)
    toast(_("自定义分群已删除"))
    return _back(branch)


@bp.route("/rules/condition")
@policy(permission="segmentation.manage")
def condition_row():
    """One more empty condition row for the rule builder (htmx, appended to the list)."""
    return render_template("segmentation/_condition.html", cond=("", "", ""), fields=rules.FIELDS,
                           operators=rules.OPERATORS)


@bp.route("/recompute", methods=["POST"])
@policy(permission="segmentation.manage")
def recompute():
    branch = _branch()
    try:
        run = services.recompute(current_user, branch.id)
    except services.SegmentationError as exc:
        db.session.rollback()
        return _page(branch, 403, run_error=str(exc))
    toast(_("重算完成：%(n)s 户客户，层级变动 %(changed)s 户", n=format(sum(run.tiers_after.values()), ","),
            changed=format(run.changed, ",")))
    return _back(branch)


# ---------------------------------------------------------------- per-post tier quotas

def _quota_cells(form: Any, codes: list[str]) -> dict[tuple[str, str], str]:
    """Cells are named q-<post>-<column>: the column index of the tier the grid was drawn with."""
    return {(code, post): form.get(f"q-{post}-{i}", "") for post in CLAIM_ORDER for i, code in enumerate(codes)}


@bp.route("/quotas", methods=["POST"])
@policy(permission="segmentation.manage")
def save_quotas():
    branch = _branch()
    codes = request.form.getlist("tier_code")
    cells = _quota_cells(request.form, codes)
    try:
        grid = services.save_quotas(current_user, branch.id, codes, cells)
    except services.SegmentationError as exc:
        db.session.rollback()
        return _page(branch, 422, quota_error=str(exc), quota_values=cells)
    toast(_("包户配额已保存：%(n)s 个岗位 × 层级设有配额", n=len(grid)) if grid
          else _("包户配额已清空，分配不再受配额限制"))
    return _back(branch)


@bp.route("/quotas/suggest")
@policy(permission="segmentation.manage")
def suggest_quotas():
    """The quota grid filled with the S-12 suggestion (an htmx swap of the card); nothing is saved."""
    branch = _branch()
    return render_template("segmentation/_quotas.html", suggested=True,
                           **_quota_ctx(branch, services.suggested_quotas(current_user, branch.id)))


# ---------------------------------------------------------------- 5C1S (S-13)

@bp.route("/fivec", methods=["POST"])
@policy(permission="segmentation.manage")
def save_fivec():
    branch = _branch()
    f = request.form
    factors = f.getlist("factor")
    try:
        services.save_fivec(current_user, branch.id, factors, f.get("quality", ""), f.get("prospect", ""))
    except services.SegmentationError as exc:
        db.session.rollback()
        return _page(branch, 422, fivec_error=str(exc), fivec_factors=factors,
                     fivec_quality=f.get("quality", ""), fivec_prospect=f.get("prospect", ""))
    toast(_("5C1S评级设置已保存，重算后按新分档归入优质客户/准客户/不予考虑"))
    return _back(branch)


def _panel(customer: Customer, status: int = 200, **extra: Any):
    branch_id = customer.outlet.root_branch_id
    labels = services.segment_labels(branch_id)
    history = services.tier_history(customer.id, current_user)
    ratings = services.ratings(customer.id, current_user)
    ids = {a for _, a in history if a} | {r.rated_by_id for r in ratings if r.rated_by_id}
    actors = {u.id: u.name for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    segments, primary = services.customer_tag(customer.id, current_user)
    factors, quality, prospect = services.fivec_settings(branch_id)
    latest = ratings[0] if ratings else None
    return render_template(
        "segmentation/_panel.html", c=customer, labels=labels, history=history, actors=actors, segments=segments,
        primary=primary, ratings=ratings, latest=latest, factors=factors, quality=quality, prospect=prospect,
        grades=rules.GRADES, current_grade=rules.grade_of(latest.total, quality, prospect) if latest else None,
        can_rate=can("segmentation.rate"), **extra), status


@bp.route("/panel/<int:customer_id>")
@policy("login")
def panel(customer_id: int):
    customer = get_or_404(Customer, customer_id)  # through the scope: another outlet's customer is a 404
    return _panel(customer)


@bp.route("/rating/<int:customer_id>", methods=["POST"])
@policy(permission="segmentation.rate")
def rate(customer_id: int):
    """Record a 5C1S rating from the panel's form (htmx: the panel comes back; 422 with the error in Chinese)."""
    customer = get_or_404(Customer, customer_id)
    scores = request.form.getlist("score")
    try:
        row = services.rate(current_user, customer, scores, request.form.get("note", ""))
    except services.SegmentationError as exc:
        db.session.rollback()
        if not request.headers.get("HX-Request"):
            toast(str(exc), "danger")
            return redirect(url_for("customers.detail", customer_id=customer_id))
        return _panel(customer, 422, rate_error=str(exc), entered=scores, note=request.form.get("note", ""))
    toast(_("5C1S评级已保存：总分 %(total)s，%(grade)s", total=row.total, grade=rules.GRADES[row.grade]))
    if not request.headers.get("HX-Request"):
        return redirect(url_for("customers.detail", customer_id=customer_id))
    return _panel(get_or_404(Customer, customer_id))


@bp.route("/widget")
@policy("login")
def widget():
    branch_id = current_user.root_branch_id
    tiers = services.scope_tier_counts(current_user)
    order = services.ordered_tiers(branch_id, [t for t, _ in tiers]) if branch_id else sorted(t for t, _ in tiers)
    by_tier = dict(tiers)
    pyramid = [{"name": t or _("未分层"), "value": by_tier.get(t, 0)} for t in order if by_tier.get(t)]
    if by_tier.get("") and "" not in order:
        pyramid.append({"name": _("未分层"), "value": by_tier[""]})
    segments: list[dict[str, Any]] = []
    if branch_id:
        labels = services.segment_labels(branch_id)
        counts = services.scope_segment_counts(current_user, branch_id)
        segments = [{"name": labels.get(k, k), "value": n} for k, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    data = json.dumps({"pyramid": pyramid, "segments": segments}, ensure_ascii=False)
    return render_template("segmentation/_widget.html", pyramid=pyramid, segments=segments, data=data,
                           total=sum(by_tier.values()))


# ---------------------------------------------------------------- saved customer lists

LIST_PAGE = 50


def _list_or_404(list_id: int):
    lst = services.visible_list(list_id, current_user)
    if lst is None:  # another 分行's list, or none
        abort(404)
    return lst


@bp.route("/lists", methods=["POST"])
@policy(permission="segmentation.manage")
def save_list():
    branch = _branch()
    f = request.form
    try:
        row = services.save_list(current_user, branch.id, f.get("name", ""), f.get("segment", ""), f.get("kind", ""))
    except services.SegmentationError as exc:
        db.session.rollback()
        toast(str(exc), "danger")
        return _back(branch)
    toast(_("客户名单“%(name)s”已保存，共 %(n)s 户", name=row.name, n=format(row.size, ",")))
    return redirect(url_for("segmentation.show_list", list_id=row.id))


@bp.route("/lists")
@policy(permission="segmentation.view")
def list_index():
    if current_user.root_branch_id is None and not request.args.get("branch"):
        branches = _admin_branches()
        if not branches:
            abort(404)
        return redirect(url_for("segmentation.list_index", branch=branches[0].id))
    branch = _branch()
    rows = services.lists(branch.id)
    creators = {u.id: u.name for u in db.session.execute(select(User).where(
        User.id.in_({r.created_by_id for r in rows if r.created_by_id}))).scalars()} if rows else {}
    return render_template("segmentation/lists.html", branch=branch, rows=rows, creators=creators,
                           labels=services.segment_labels(branch.id), kinds=services.LIST_KINDS,
                           in_scope=services.list_sizes_in_scope(current_user, rows),
                           can_manage=can("segmentation.manage"), admin_branches=_admin_branches())


@bp.route("/lists/<int:list_id>")
@policy(permission="segmentation.view")
def show_list(list_id: int):
    """The list's customers the viewer may see, with the customer list's filters, keyset-paged on id (newest
    first): the core list's own pager takes no extra condition, its filters and row columns do."""
    lst = _list_or_404(list_id)
    f = customers.parse_filters(request.args)
    stmt = customers.filtered(current_user, f).where(services.list_members_condition(lst))
    after = customers.decode_cursor(request.args.get("after"))
    if after is not None and len(after) == 1:
        stmt = stmt.where(Customer.id < after[0])
    rows = db.session.execute(customers.list_rows(stmt).order_by(Customer.id.desc()).limit(LIST_PAGE + 1)).all()
    more = len(rows) > LIST_PAGE
    rows = rows[:LIST_PAGE]
    nxt = customers.encode_cursor([rows[-1].id]) if more and rows else None
    ctx = dict(lst=lst, rows=rows, next_cursor=nxt, f=f, args=f.args())
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "more-list":
        return render_template("segmentation/_list_rows.html", **ctx)
    return render_template("segmentation/list.html", label=services.segment_labels(lst.branch_id).get(
        lst.segment, lst.segment), kinds=services.LIST_KINDS, computed=lst.segment in services.slots(lst.branch_id),
        can_manage=can("segmentation.manage"), can_export=can("customers.export"), **ctx)


@bp.route("/lists/<int:list_id>/export.xlsx")
@policy(permission="segmentation.view")
def export_list(list_id: int):
    """The list's customers in the viewer's scope as Excel: the core export (masking per post, formula-safe cells,
    IDs as text, one audit row), narrowed to the list."""
    from flask import send_file

    from crm.customers import exports
    from crm.timeutil import to_local, utcnow

    lst = _list_or_404(list_id)
    if not can("customers.export"):
        abort(403)
    f = customers.parse_filters(request.args)
    try:
        buffer, _rows, _full = exports.export(current_user, f, extra=services.list_members_condition(lst),
                                              label=f"segmentation_list:{lst.id}")
    except exports.ExportError as exc:
        toast(str(exc), "danger")
        return redirect(url_for("segmentation.show_list", list_id=lst.id, **f.args()))
    stamp = to_local(utcnow()).strftime("%Y%m%d-%H%M")
    return send_file(buffer, as_attachment=True, download_name=f"客户名单-{lst.name}-{stamp}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/lists/<int:list_id>/delete", methods=["POST"])
@policy(permission="segmentation.manage")
def delete_list(list_id: int):
    lst = _list_or_404(list_id)
    name = lst.name
    services.delete_list(current_user, lst.branch_id, lst.id)
    toast(_("客户名单“%(name)s”已删除", name=name))
    args = {"branch": lst.branch_id} if current_user.root_branch_id is None else {}
    return redirect(url_for("segmentation.list_index", **args))
