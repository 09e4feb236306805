"""Segmentation pages: ladder, rule, quota and 5C1S editors, recompute (a background job), saved customer lists,
the panel (with the 5C1S rating form) and the widget.

重算分层与分群 runs as a job (crm/jobs.py, kind "segmentation_recompute"): in a thread of the process that took the
click, or on the RQ queue run by `crm worker` when CRM_REDIS_URL is set. The POST answers at once with the segmentation
page showing "正在重算…" (POST → 303 → GET ?job=<id>); that card polls its fragment every second while the job runs
and, once it is over, shows the run's figures (or the error) and swaps in the page's fresh counts and 重算记录.
One recompute per 分行 at a time: a second click lands on the running job. The job runs as the user who started it,
whose rights are checked again when it starts (the service checks the scope once more and locks the 分行's row); the
service's single transaction writes the run, the history and the one audit row, or nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block, render_blocks
from sqlalchemy import select

from crm import jobs
from crm.access import can, get_or_404, policy, scoped
from crm.customers import services as customers
from crm.extensions import db
from crm.models import Branch, Customer, User
from crm.roles import CLAIM_ORDER, POST_BY_CODE
from crm.web import toast
from plugins.segmentation import rules, services
from plugins.segmentation.models import SegmentationRun
from plugins.segmentation.rules import RuleError

bp = Blueprint("segmentation", __name__, template_folder="templates", static_folder="static")
log = logging.getLogger(__name__)

# ---------------------------------------------------------------- the recompute job's store

KEEP_HOURS = 24  # a job holds counts only (no customer data); failed ones stay listed for the administrator a day
HEARTBEAT_SECONDS = 15  # a running job is saved at least this often, even during one long statement…
STALE_SECONDS = 90  # …so a job not saved for this long was interrupted (the server restarted)
STAGES = ("queued", "tiers", "segments", "counting")
store = jobs.JobStore("segmentation_recompute", keep_seconds=KEEP_HOURS * 3600, stale_seconds=STALE_SECONDS)


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
    return render_template("segmentation/index.html", **_context(branch, **errors)), status


def _context(branch: Branch, **errors: Any) -> dict[str, Any]:
    """Everything the segmentation page shows (the page, or the blocks a finished recompute swaps in)."""
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
    if "recompute" not in errors:
        errors["recompute"] = _shown_job(branch)
    if errors["recompute"] is not None:
        errors.update(_job_context(errors["recompute"]))
    return dict(
        branch=branch, tiers=tiers, params=params, ladder_rows=ladder_rows,
        bases=rules.BASES, tier_counts=tier_counts, seg_counts=seg_counts, labels=labels,
        builtin=rules.BUILTIN_RULES, custom=services.custom_rules(branch.id), runs=services.runs(branch.id),
        fields=rules.FIELDS, operators=rules.OPERATORS, ops_by_kind=rules.OPERATORS_BY_KIND,
        currencies=services.CURRENCIES, can_manage=can("segmentation.manage"),
        can_recompute=can("segmentation.manage") and services.can_recompute(current_user, branch.id),
        admin_branches=_admin_branches(), form=errors.pop("form", None), computed=services.slots(branch.id),
        list_kinds=services.LIST_KINDS, primary_keys=rules.PRIMARY_PRECEDENCE, primary=services.PRIMARY,
        fivec_factors=errors.pop("fivec_factors", None) or factors,
        fivec_quality=errors.pop("fivec_quality", quality), fivec_prospect=errors.pop("fivec_prospect", prospect),
        max_factors=services.MAX_FACTORS, **quota, **errors)


def _admin_branches() -> list[Branch]:
    if current_user.root_branch_id is not None:
        return []
    return list(db.session.execute(scoped(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars())


def _back(branch: Branch, code: int = 302, **extra: Any):
    args = {"branch": branch.id} if current_user.root_branch_id is None else {}
    return redirect(url_for("segmentation.index", **args, **extra), code)


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


# ---------------------------------------------------------------- recompute: a background job

def _running(branch_id: int) -> dict[str, Any] | None:
    """The 分行's recompute under way (queued or running), if any."""
    for job in store.all():
        if job.get("branch_id") == branch_id and job.get("state") == "running":
            return job
    return None


def _shown_job(branch: Branch) -> dict[str, Any] | None:
    """The recompute the page reports on: the one in its address (?job=, after a click), if it is this 分行's; else
    the 分行's recompute under way, whoever started it."""
    job = store.load(request.args.get("job"))
    if job is not None and job.get("branch_id") == branch.id:
        return job
    return _running(branch.id)


def _job_context(job: dict[str, Any]) -> dict[str, Any]:
    starter = db.session.get(User, job["user_id"]) if job.get("user_id") else None
    last = db.session.execute(select(SegmentationRun.duration_ms).where(
        SegmentationRun.branch_id == job["branch_id"], SegmentationRun.duration_ms.is_not(None))
        .order_by(SegmentationRun.id.desc()).limit(1)).scalar_one_or_none()
    return {"recompute": job, "recompute_stages": STAGES, "recompute_starter": starter.name if starter else "",
            "recompute_started": datetime.fromtimestamp(job["started"], UTC).replace(tzinfo=None),
            "recompute_elapsed": max(0, int(time.time() - job["started"])),
            "recompute_last_seconds": None if last is None else max(1, round(last / 1000))}


def _job_branch(job_id: str) -> tuple[dict[str, Any], Branch]:
    """A recompute job of a 分行 the user looks at (their own; the system administrator's: any in scope), or 404.
    Anyone who sees the 分行's segmentation page sees its recompute: the figures are the page's own."""
    job = store.load(job_id)
    if job is None or not isinstance(job.get("branch_id"), int):
        abort(404)
    if current_user.root_branch_id is not None:
        if job["branch_id"] != current_user.root_branch_id:
            abort(404)
        return job, db.session.get(Branch, current_user.root_branch_id)
    branch = db.session.execute(scoped(Branch).where(Branch.parent_id.is_(None), Branch.id == job["branch_id"])
                                ).scalar_one_or_none()
    if branch is None:
        abort(404)
    return job, branch


@bp.route("/recompute", methods=["POST"])
@policy(permission="segmentation.manage")
def recompute():
    """Start re-tiering the 分行 in the background and show the page with the job under way (303)."""
    branch = _branch()
    if not services.can_recompute(current_user, branch.id):
        return _page(branch, 403, run_error=_("只有能查看全分行客户的管理员才能重算分层"))
    store.cleanup()
    # The 分行's row, without waiting: a recompute running holds it for its whole transaction (PostgreSQL; SQLite
    # ignores FOR UPDATE). Held from here until the job is saved, so that two clicks at once (two servers) cannot
    # both find no job running and start two.
    free = db.session.execute(select(Branch.id).where(Branch.id == branch.id).with_for_update(skip_locked=True)
                              ).scalar_one_or_none()
    running = _running(branch.id)
    if running is not None or free is None:
        db.session.rollback()
        if running is None:
            toast(_("本分行的分层与分群正在重算，请稍后再试。"), "warning")
            return _back(branch, 303)
        if running.get("user_id") == current_user.id:
            toast(_("重算已在进行中，请等它完成。"), "warning")
        else:
            starter = db.session.get(User, running["user_id"])
            toast(_("%(name)s 正在重算本分行的分层与分群，请等它完成后再重算。",
                    name=starter.name if starter else ""), "warning")
        return _back(branch, 303, job=running["id"])
    job = store.new(branch_id=branch.id, stage="queued", run_id=None, customers=None, changed=None, seconds=None,
                    message=None)
    store.save(job)
    db.session.commit()  # the row is free for the job
    store.start(job)  # the work below: on the queue with Redis (crm worker), else in a thread of this process
    return _back(branch, 303, job=job["id"])


@bp.route("/recompute/jobs/<job_id>")
@policy(permission="segmentation.view")
def recompute_progress(job_id: str):
    """The card htmx polls every second while the job runs. Once it is over: the run's figures (or the error), with
    the page's counts, the recompute button and 重算记录 swapped in out of band."""
    job, branch = _job_branch(job_id)
    if job["state"] == "running":
        return render_block("segmentation/index.html", "recompute_status", branch=branch, **_job_context(job))
    return render_blocks("segmentation/index.html", ["recompute_status", "recompute_button", "tier_counts",
                                                     "segment_counts", "runs"],
                         oob=True, **_context(branch, recompute=job))


class _Saves:
    """The job's saves, from its work and from its heartbeat thread, one at a time."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.lock = threading.Lock()

    def __call__(self, **changes: Any) -> None:
        with self.lock:
            self.job.update(changes)
            store.save(self.job)


@contextmanager
def _heartbeat(save: Callable[..., None]) -> Iterator[None]:
    """Save the job every HEARTBEAT_SECONDS while the block runs: one statement of a large 分行 may take longer than
    STALE_SECONDS, and a job not saved for that long reads as interrupted."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                with app.app_context():
                    save()
            except Exception:  # noqa: BLE001 - the next beat tries again
                log.warning("segmentation recompute: heartbeat not saved")

    thread = threading.Thread(target=beat, name="segmentation-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _check_rights(user_id: int, branch_id: int) -> User:
    """The job's starter, as of now, if they may still manage segmentation for the 分行 (the service checks the scope
    once more)."""
    actor = db.session.get(User, user_id)
    if actor is None or not can("segmentation.manage", actor) or (
            services.NAME not in services.registry().enabled_names(branch_id)):
        raise services.SegmentationError(_("您已没有重算本分行客户分层的权限，重算未进行。"))
    return actor


def _work(job: dict[str, Any]) -> tuple[jobs.Work, jobs.Failed]:
    """The job's work and failure message, built where it runs (a worker has no request: all from the job)."""
    save = _Saves(job)

    def work() -> None:
        with _heartbeat(save):
            actor = _check_rights(job["user_id"], job["branch_id"])
            # Retried once after an unexpected error: by RQ with a worker, here in a thread (a failed attempt rolled
            # back whole, so running it again is safe). Refusals (SegmentationError) are final.
            tries = 1 if jobs.uses_queue() else 2
            for attempt in range(1, tries + 1):
                try:
                    run = services.recompute(actor, job["branch_id"], progress=lambda stage: save(stage=stage))
                    break
                except services.SegmentationError:
                    raise
                except Exception:
                    if attempt == tries:
                        raise
                    db.session.rollback()
                    log.exception("segmentation recompute job %s failed; trying once more", job["id"])
                    save(attempts=job.get("attempts", 1) + 1)
                    actor = _check_rights(job["user_id"], job["branch_id"])
        # Committed: nothing below may fail the job into a retry (a second run, a second audit row).
        try:
            save(state="done", stage="done", finished=time.time(), run_id=run.id, changed=run.changed,
                 customers=sum(run.tiers_after.values()), seconds=round(run.duration_ms / 1000, 1))
        except Exception:  # noqa: BLE001 - the run is saved; the page will say the job was interrupted
            log.exception("segmentation recompute job %s: done but not saved", job["id"])

    def failed(exc: BaseException) -> dict[str, Any]:
        if isinstance(exc, services.SegmentationError):
            return {"message": str(exc)}
        return {"message": _("重算时出错，未能完成；分层和分群仍是上次重算的结果。请稍后再试，如果仍然出错，请联系系统管理员。")}

    return work, failed


store.runs(retries=1, final=(services.SegmentationError,))(_work)


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
