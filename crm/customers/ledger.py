"""包户包效客户台账 (R-09): the data of one printable ledger, for a staff member or for an outlet, and its PDF.

Set-based: the customers come from one scoped query, their contacts from a few queries over chunks of ids
(never one query per customer). Everything printed is masked here, before it reaches a template: a printed
ledger leaves the building, so nobody's ledger shows a full phone or certificate number.

Rendering needs no request (it runs in a job's thread too) and reports its stages and the pages laid out so far.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import func, select
from weasyprint import HTML

from crm import pdf
from crm.access import scoped
from crm.extensions import db
from crm.masking import mask_id_card, mask_mobile, mask_text
from crm.models import Activity, Branch, Customer, Outlet, User
from crm.models.activity import ACTIVITY_KINDS
from crm.models.customers import KINDS, STATUSES
from crm.money import round_half_up, to_decimal
from crm.roles import POSTS, post_label
from crm.timeutil import local_to_utc, to_local, utcnow

MAX_CUSTOMERS = 1000  # per PDF (≈310 pages, ≈30 s, ≈1 GB peak: bench/ledger.py); above it: one staff member at a time
CHUNK = 900  # ids per IN (...): SQLite's default limit on bound parameters is 999
RECENT_CONTACTS = 5  # contacts printed per customer in the follow-up record table
BLANK_ROWS = 3  # ruled rows per customer for hand-written entries
SUMMARY_CHARS = 120
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
NO_MAINTAINER = "未分配维护人"  # group heading
UNASSIGNED = "未分配"  # table cell
MAX_DUE_ITEMS = 100  # the weekly report lists this week's follow-ups first, then the latest overdue ones
_POST_ORDER = {p.code: i for i, p in enumerate(POSTS)}


class LedgerTooLarge(ValueError):
    def __init__(self, count: int):
        self.count = count
        self.message = (f"该台账共有 {count:,} 位客户，超过单份台账 {MAX_CUSTOMERS:,} 位的上限。"
                        f"请缩小范围，例如按员工分别打印台账。")
        super().__init__(self.message)


@dataclass
class Contact:
    day: str
    kind: str
    summary: str
    next_follow_up: str
    by: str


@dataclass
class LedgerCustomer:
    no: int
    id: int
    name: str
    kind: str
    status: str
    phone: str  # masked
    cert: str  # masked
    tier: str
    balance: str  # exact, thousands separators
    maintainer: str
    last_contact: str
    contacts: list[Contact] = field(default_factory=list)


@dataclass
class Group:
    """The customers of one maintainer (an outlet ledger has one group per maintainer)."""

    key: str
    name: str
    post: str
    customers: list[LedgerCustomer] = field(default_factory=list)
    balance: str = ""


@dataclass
class WeekRow:
    name: str
    per_day: list[int]
    total: int
    new_follow_ups: int
    due: int
    overdue: int
    contacted_30: int
    not_contacted_30: int
    customers: int


@dataclass
class DueItem:
    due: date
    overdue: bool
    customer: str
    phone: str
    maintainer: str
    summary: str


@dataclass
class Ledger:
    kind: str  # user | outlet
    target_id: int
    subject: str  # the staff member's or the outlet's name
    bank: str
    sub_branch: str
    outlet: str
    staff: str
    staff_post: str
    period: str  # "2026年5月"
    period_key: str  # "2026-05"
    generated_on: str
    week_label: str
    days: list[tuple[str, str]]  # (周一, 5/11)
    groups: list[Group]
    week_rows: list[WeekRow]
    week_total: WeekRow
    due_items: list[DueItem]
    due_omitted: int
    count: int
    total_balance: str
    recent_contacts: int = RECENT_CONTACTS
    blank_rows: int = BLANK_ROWS

    @property
    def title(self) -> str:
        return "包户包效客户台账"

    @property
    def contact_count(self) -> int:
        """Contact records printed in the follow-up record table."""
        return sum(len(c.contacts) for g in self.groups for c in g.customers)


def chunks(ids: list[int], size: int = CHUNK):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def today_local() -> date:
    return to_local(utcnow()).date()


def _amount(value: Any) -> str:
    return f"{round_half_up(to_decimal(value if value is not None else Decimal('0'))):,.2f}"


def _summary(text: str | None) -> str:
    text = " ".join(mask_text(text or "").split())
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1] + "…"


def customers_query(actor: Any, *, user: User | None = None, outlet: Outlet | None = None):
    """The ledger's customers, always through the actor's scope."""
    query = scoped(Customer, actor)
    if outlet is not None:
        return query.where(Customer.outlet_id == outlet.id)
    return query.where(Customer.maintainer_id == (user or actor).id)


def count_customers(actor: Any, *, user: User | None = None, outlet: Outlet | None = None) -> int:
    query = customers_query(actor, user=user, outlet=outlet).with_only_columns(Customer.id)
    return db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def gather(actor: Any, *, user: User | None = None, outlet: Outlet | None = None,
           today: date | None = None) -> Ledger:
    """Everything one ledger prints. Raises LedgerTooLarge above MAX_CUSTOMERS customers."""
    today = today or today_local()
    n = count_customers(actor, user=user, outlet=outlet)
    if n > MAX_CUSTOMERS:
        raise LedgerTooLarge(n)
    query = customers_query(actor, user=user, outlet=outlet).with_only_columns(
        Customer.id, Customer.name, Customer.kind, Customer.status, Customer.phone, Customer.cert_no, Customer.tier,
        Customer.deposit_balance, Customer.maintainer_id, Customer.last_contact_at,
    ).order_by(Customer.name_pinyin, Customer.id)
    rows = db.session.execute(query).all()
    ids = [r.id for r in rows]

    # Maintainers: one query for the handful of staff involved.
    maintainer_ids = sorted({r.maintainer_id for r in rows if r.maintainer_id is not None})
    staff: dict[int, Any] = {}
    for part in chunks(maintainer_ids):
        staff.update({u.id: u for u in db.session.execute(
            select(User.id, User.name, User.post).where(User.id.in_(part))).all()})

    # Week: Monday to Sunday of the local week containing `today`.
    week_start = today - timedelta(days=today.weekday())
    week_end = week_start + timedelta(days=6)
    since_30 = local_to_utc(datetime.combine(today - timedelta(days=29), time()))
    recent, week_acts, open_follow_ups = _activities(ids, week_start, week_end)
    author_ids = {a.user_id for acts in recent.values() for a in acts} - set(staff)
    for part in chunks(sorted(author_ids)):
        staff.update({u.id: u for u in db.session.execute(
            select(User.id, User.name, User.post).where(User.id.in_(part))).all()})

    def staff_name(uid: int | None) -> str:
        return staff[uid].name if uid in staff else ""

    # Groups by maintainer: the outlet's posts in their order, then names; unassigned customers last.
    groups: dict[int | None, Group] = {}
    order = sorted(maintainer_ids, key=lambda uid: (_POST_ORDER.get(staff[uid].post, 99), staff[uid].name, uid))
    for uid in order:
        groups[uid] = Group(key=str(uid), name=staff[uid].name, post=post_label(staff[uid].post))
    if any(r.maintainer_id is None for r in rows):
        groups[None] = Group(key="none", name=NO_MAINTAINER, post="")
    by_customer: dict[int, Any] = {}
    for r in rows:
        c = LedgerCustomer(
            no=0, id=r.id, name=r.name, kind=str(KINDS.get(r.kind, r.kind)), status=str(STATUSES.get(r.status, r.status)),
            phone=mask_mobile(r.phone), cert=mask_id_card(r.cert_no), tier=r.tier or "", balance=_amount(r.deposit_balance),
            maintainer=staff_name(r.maintainer_id) or UNASSIGNED,
            last_contact=to_local(r.last_contact_at).strftime("%Y-%m-%d") if r.last_contact_at else "",
            contacts=[Contact(day=to_local(a.occurred_at).strftime("%Y-%m-%d"), kind=str(ACTIVITY_KINDS.get(a.kind, a.kind)),
                              summary=_summary(a.summary),
                              next_follow_up=a.next_follow_up.strftime("%Y-%m-%d") if a.next_follow_up else "",
                              by=staff_name(a.user_id)) for a in recent.get(r.id, [])],
        )
        groups[r.maintainer_id].customers.append(c)
        by_customer[r.id] = r
    no = 0
    for g in groups.values():
        for c in g.customers:
            no += 1
            c.no = no
        g.balance = _amount(sum((to_decimal(by_customer[c.id].deposit_balance or 0) for c in g.customers), Decimal(0)))

    # Weekly report, by maintainer (of the customer contacted).
    stats: dict[int | None, dict[str, Any]] = defaultdict(
        lambda: {"per_day": [0] * 7, "new": 0, "due": 0, "overdue": 0, "c30": 0, "n": 0})
    for r in rows:
        s = stats[r.maintainer_id]
        s["n"] += 1
        if r.last_contact_at is not None and r.last_contact_at >= since_30:
            s["c30"] += 1
    for a in week_acts:
        s = stats[by_customer[a.customer_id].maintainer_id]
        day = (to_local(a.occurred_at).date() - week_start).days
        if 0 <= day < 7:
            s["per_day"][day] += 1
        if a.next_follow_up is not None:
            s["new"] += 1
    due_items = []
    for a in open_follow_ups:
        r = by_customer[a.customer_id]
        overdue = a.next_follow_up < today
        stats[r.maintainer_id]["overdue" if overdue else "due"] += 1
        due_items.append(DueItem(due=a.next_follow_up, overdue=overdue, customer=r.name, phone=mask_mobile(r.phone),
                                 maintainer=staff_name(r.maintainer_id) or UNASSIGNED, summary=_summary(a.summary)))
    due_items.sort(key=lambda d: (d.overdue, d.due.toordinal() * (-1 if d.overdue else 1), d.customer))
    due_omitted = max(len(due_items) - MAX_DUE_ITEMS, 0)
    due_items = due_items[:MAX_DUE_ITEMS]

    def week_row(name: str, s: dict[str, Any]) -> WeekRow:
        return WeekRow(name=name, per_day=s["per_day"], total=sum(s["per_day"]), new_follow_ups=s["new"], due=s["due"],
                       overdue=s["overdue"], contacted_30=s["c30"], not_contacted_30=s["n"] - s["c30"], customers=s["n"])

    week_rows = [week_row(g.name, stats[uid]) for uid, g in groups.items()]
    total = {"per_day": [sum(stats[uid]["per_day"][d] for uid in groups) for d in range(7)],
             **{k: sum(stats[uid][k] for uid in groups) for k in ("new", "due", "overdue", "c30", "n")}}

    # Cover: bank (分行), sub-branch (支行), outlet, staff.
    place = outlet or (user or actor).outlet
    bank, sub_branch = _bank_names(place, user or actor)
    subject_user = None if outlet is not None else (user or actor)
    return Ledger(
        kind="outlet" if outlet is not None else "user",
        target_id=outlet.id if outlet is not None else subject_user.id,
        subject=outlet.name if outlet is not None else subject_user.name,
        bank=bank, sub_branch=sub_branch, outlet=place.name if place is not None else "",
        staff=subject_user.name if subject_user else "", staff_post=post_label(subject_user.post) if subject_user else "",
        period=f"{today.year}年{today.month}月", period_key=f"{today:%Y-%m}",
        generated_on=f"{today.year}年{today.month}月{today.day}日",
        week_label=f"{week_start.year}年{week_start.month}月{week_start.day}日至{week_end.month}月{week_end.day}日",
        days=[(WEEKDAYS[i], f"{(week_start + timedelta(days=i)).month}/{(week_start + timedelta(days=i)).day}")
              for i in range(7)],
        groups=list(groups.values()), week_rows=week_rows, week_total=week_row("合计", total), due_items=due_items,
        due_omitted=due_omitted,
        count=len(rows), total_balance=_amount(sum((to_decimal(r.deposit_balance or 0) for r in rows), Decimal(0))),
    )


def _activities(ids: list[int], week_start: date, week_end: date):
    """Three set-based reads per chunk of ≤ CHUNK customer ids: each customer's latest contacts (a window
    function), this week's contacts, and the open follow-ups due by the end of the week."""
    recent: dict[int, list[Any]] = defaultdict(list)
    week_acts: list[Any] = []
    open_follow_ups: list[Any] = []
    start_utc = local_to_utc(datetime.combine(week_start, time()))
    end_utc = local_to_utc(datetime.combine(week_end + timedelta(days=1), time()))
    for part in chunks(ids):
        rank = func.row_number().over(partition_by=Activity.customer_id,
                                      order_by=(Activity.occurred_at.desc(), Activity.id.desc())).label("rank")
        inner = select(Activity.customer_id, Activity.user_id, Activity.kind, Activity.occurred_at, Activity.summary,
                       Activity.next_follow_up, rank).where(Activity.customer_id.in_(part)).subquery()
        for a in db.session.execute(select(inner).where(inner.c.rank <= RECENT_CONTACTS)
                                    .order_by(inner.c.customer_id, inner.c.rank)).all():
            recent[a.customer_id].append(a)
        week_acts += db.session.execute(select(Activity.customer_id, Activity.occurred_at, Activity.next_follow_up).where(
            Activity.customer_id.in_(part), Activity.occurred_at >= start_utc, Activity.occurred_at < end_utc)).all()
        open_follow_ups += db.session.execute(select(
            Activity.customer_id, Activity.next_follow_up, Activity.summary).where(
            Activity.customer_id.in_(part), Activity.follow_up_done.is_(False), Activity.next_follow_up.is_not(None),
            Activity.next_follow_up <= week_end)).all()
    # Contacts print oldest first, as a paper ledger is written.
    for acts in recent.values():
        acts.reverse()
    return recent, week_acts, open_follow_ups


def _bank_names(outlet: Outlet | None, user: Any) -> tuple[str, str]:
    """(分行 name, 支行 name) of the ledger's outlet, or of a branch-level user's node."""
    if outlet is not None:
        sub = outlet.branch
        root = db.session.get(Branch, outlet.root_branch_id)
        return (root.name if root else ""), (sub.name if sub is not None and sub.id != outlet.root_branch_id else "")
    node = user.branch
    if node is None:
        return "", ""
    root = db.session.get(Branch, node.root_id)
    return (root.name if root else node.name), (node.name if root is not None and node.id != root.id else "")


# ---------------------------------------------------------------- the PDF

TEMPLATE = "ledger/ledger.html"
Progress = Callable[[str, int], None]  # (stage, pages laid out so far): prepare | layout | writing


def render_html(data: Ledger) -> str:
    """The ledger's HTML, from the Jinja environment directly: no request context is needed (nor used: the
    printed ledger is always in Chinese), so a job's thread renders it as the request would."""
    return current_app.jinja_env.get_template(TEMPLATE).render(ledger=data, pdf_base_css=pdf.BASE_CSS)


def render_to_file(data: Ledger, target: Path, progress: Progress | None = None) -> int:
    """Write the PDF to `target` and return its page count. The bytes go to a temporary file in the same folder,
    renamed to `target` only when complete: a failed render leaves no file behind, half-written or not."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".ledger-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            pages = _render(data, fh, progress)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return pages


def render_bytes(data: Ledger) -> pdf.Rendered:
    out = io.BytesIO()
    pages = _render(data, out, None)
    return pdf.Rendered(out.getvalue(), pages)


def _render(data: Ledger, out: IO[bytes], progress: Progress | None) -> int:
    report: Progress = progress or (lambda stage, pages: None)
    report("prepare", 0)
    root = pdf.static_root()
    html = HTML(string=render_html(data), base_url=root.as_uri() + "/", url_fetcher=pdf.SafeFetcher(root))
    try:
        with pdf.pages_laid_out(report), pdf.gc_paused():
            document = html.render()
        del html
        pages = len(document.pages)
        # The layout leaves its working boxes behind as reference cycles (500 customers: ≈120 MB). Collecting them
        # before the PDF is written, which needs memory of its own (fonts, streams), lowers the peak by as much.
        gc.collect()
        report("writing", pages)
        document.write_pdf(target=out)
        return pages
    finally:
        document = html = None  # noqa: F841 - the pages go as soon as they are written
