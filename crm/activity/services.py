"""Contacts with customers, follow-up reminders, birthdays, and the daily 2511 / 511 logs with their compliance."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from crm import timeutil
from crm.access import scope_filter, scoped
from crm.extensions import db
from crm.models import Activity, Customer, CustomerProduct, DailyLog, DailyLogEntry, User
from crm.models.activity import ACTIVITY_KINDS, LOG_MODELS, SALES_STAGES
from crm.timeutil import local_to_utc, to_local, utcnow

MAX_TEXT = 2000
MAX_511_ENTRIES = 10


class ActivityError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def today_local() -> date:
    return timeutil.today_local()


# ---------------------------------------------------------------- contacts

def record(actor: Any, customer: Customer, raw: dict[str, Any]) -> Activity:
    """Log a visit, call or meeting. The customer's last contact moves forward (never back), and the
    actor's open follow-ups of this customer count as done: this contact is the follow-up."""
    errors: dict[str, str] = {}
    kind = raw.get("kind") or ""
    if kind not in ACTIVITY_KINDS:
        errors["kind"] = _("请选择联系方式")
    stage = raw.get("stage") or None
    if stage is not None and stage not in SALES_STAGES:
        errors["stage"] = _("选项无效")
    summary = (raw.get("summary") or "").strip()
    if not summary:
        errors["summary"] = _("请填写联系内容")
    elif len(summary) > MAX_TEXT:
        errors["summary"] = _("联系内容不能超过 %(n)d 字", n=MAX_TEXT)
    occurred = _parse_local_datetime(raw.get("occurred_at"))
    if occurred is None:
        errors["occurred_at"] = _("请填写联系时间，例如 2026-11-23 10:30")
    elif occurred > utcnow() + timedelta(minutes=5):
        errors["occurred_at"] = _("联系时间不能晚于现在")
    next_follow_up = None
    if raw.get("next_follow_up"):
        try:
            next_follow_up = date.fromisoformat(str(raw["next_follow_up"]))
        except ValueError:
            errors["next_follow_up"] = _("日期格式应为 年-月-日，例如 2026-11-23")
        else:
            if occurred is not None and next_follow_up < to_local(occurred).date():
                errors["next_follow_up"] = _("下次跟进日期不能早于本次联系")
    if errors:
        raise ActivityError(errors)
    db.session.execute(update(Activity).where(
        Activity.customer_id == customer.id, Activity.user_id == actor.id, Activity.follow_up_done.is_(False),
        Activity.next_follow_up.is_not(None)).values(follow_up_done=True).execution_options(synchronize_session=False))
    activity = Activity(customer_id=customer.id, user_id=actor.id, kind=kind, stage=stage, occurred_at=occurred,
                        summary=summary, next_follow_up=next_follow_up, follow_up_done=False)
    db.session.add(activity)
    db.session.execute(update(Customer).where(
        Customer.id == customer.id,
        or_(Customer.last_contact_at.is_(None), Customer.last_contact_at < occurred))
        .values(last_contact_at=occurred).execution_options(synchronize_session=False))
    db.session.commit()
    return activity


def _parse_local_datetime(value: Any) -> datetime | None:
    text = str(value or "").strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return local_to_utc(datetime.strptime(text, fmt))
        except ValueError:
            continue
    return None


def timeline(customer: Customer, limit: int = 30) -> list[Activity]:
    return list(db.session.execute(select(Activity).where(Activity.customer_id == customer.id)
                                   .order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(limit)).scalars())


def finish_follow_up(actor: Any, activity: Activity) -> None:
    if activity.user_id != actor.id:
        raise ActivityError({"_": _("只能完成自己的跟进事项")})
    activity.follow_up_done = True
    db.session.commit()


def due_follow_ups(actor: Any, *, within_days: int = 0, limit: int = 20) -> list[Activity]:
    """The actor's open follow-ups due today or earlier (or within the next days), oldest first."""
    until = today_local() + timedelta(days=within_days)
    visible = scoped(Customer, actor).with_only_columns(Customer.id)
    return list(db.session.execute(
        select(Activity).where(Activity.user_id == actor.id, Activity.follow_up_done.is_(False),
                               Activity.next_follow_up.is_not(None), Activity.next_follow_up <= until,
                               Activity.customer_id.in_(visible))
        .order_by(Activity.next_follow_up, Activity.id).limit(limit)).scalars())


def upcoming_birthdays(actor: Any, *, days: int = 7, limit: int = 20) -> list[tuple[Customer, date]]:
    """Customers in the actor's scope whose birthday falls in the next `days` days, soonest first. One small
    indexed query per day (birth_md), so a branch with a million customers costs what an outlet does."""
    found: list[tuple[Customer, date]] = []
    start = today_local()
    for i in range(days):
        day = start + timedelta(days=i)
        keys = [day.month * 100 + day.day]
        if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
            keys.append(229)  # born on 29 February: greeted on the 28th in other years
        rows = db.session.execute(scoped(Customer, actor).where(Customer.birth_md.in_(keys))
                                  .order_by(Customer.id).limit(limit - len(found))).scalars().all()
        found += [(c, day) for c in rows]
        if len(found) >= limit:
            break
    return found


def maturing_products(actor: Any, *, days: int = 14, limit: int = 20) -> list[tuple[CustomerProduct, str]]:
    """Time deposits, wealth products and policies of the customers the actor maintains that mature from today
    to `days` ahead, soonest first: the moment to call about renewing (定期到期续存)."""
    start = today_local()
    rows = db.session.execute(
        select(CustomerProduct, Customer.name).join(Customer, Customer.id == CustomerProduct.customer_id)
        .where(Customer.maintainer_id == actor.id, scope_filter(Customer, actor),
               CustomerProduct.matures_on.between(start, start + timedelta(days=days)),
               CustomerProduct.category.in_(("deposit_time", "wealth", "insurance", "fund")))
        .order_by(CustomerProduct.matures_on, CustomerProduct.id).limit(limit)).all()
    return [(p, name) for p, name in rows]


# ---------------------------------------------------------------- daily logs

@dataclass
class Compliance:
    ok: bool
    reasons: list[str]


def compliance(log: DailyLog) -> Compliance:
    """R-35 (2511) and R-36 (511), as the spec's worked examples T-13 and T-14 read them."""
    reasons: list[str] = []
    problems = [p for p in (log.problems or "").splitlines() if p.strip()]
    if log.model == "2511":
        if log.contacts < 20:
            reasons.append(_("接触客户不足20人（%(n)d）", n=log.contacts))
        if log.effective < 5:
            reasons.append(_("有效拓展不足5人（%(n)d）", n=log.effective))
        if not (log.log_text or "").strip():
            reasons.append(_("未填写活动日志"))
        if log.policies < 1 and not problems:
            reasons.append(_("未提交保单，也未提交问题"))
    else:
        effective = sum(1 for e in log.entries if e.complete)
        if effective < 5:
            reasons.append(_("有效客户不足5人（%(n)d，须含家庭资料、工作情况和产品需求）", n=effective))
        if log.on_site and log.policies < 1 and not problems:
            reasons.append(_("驻点日未出单，也未说明问题"))
        if not (log.peers_results or "").strip():
            reasons.append(_("未记录同业当天业绩"))
    return Compliance(not reasons, reasons)


def _count(value: Any, label: str, errors: dict[str, str], key: str) -> int:
    text = str(value or "0").strip()
    if not text.isdigit() or int(text) > 10_000:
        errors[key] = _("%(label)s应为0到10000之间的整数", label=label)
        return 0
    return int(text)


def save_log(actor: Any, day: date, model: str, raw: dict[str, Any]) -> DailyLog:
    """Create or replace the actor's log of a day. Future days are refused; the log is the actor's own."""
    if model not in LOG_MODELS:
        raise ActivityError({"model": _("请选择 2511 或 511 日志")})
    if day > today_local():
        raise ActivityError({"day": _("不能填写未来日期的日志")})
    errors: dict[str, str] = {}
    values = {
        "contacts": _count(raw.get("contacts"), _("接触客户数"), errors, "contacts"),
        "effective": _count(raw.get("effective"), _("有效拓展数"), errors, "effective"),
        "policies": _count(raw.get("policies"), _("保单数"), errors, "policies"),
        "problems": (raw.get("problems") or "").strip()[:MAX_TEXT] or None,
        "log_text": (raw.get("log_text") or "").strip()[:MAX_TEXT] or None,
        "peers_results": (raw.get("peers_results") or "").strip()[:MAX_TEXT] or None,
        "on_site": str(raw.get("on_site", "")) in ("1", "on", "true"),  # an unticked box is not sent
    }
    entries = []
    for i in range(MAX_511_ENTRIES):
        name = (raw.get(f"entry_{i}_name") or "").strip()[:100]
        if not name:
            continue
        entries.append(DailyLogEntry(customer_name=name, family=(raw.get(f"entry_{i}_family") or "").strip()[:300],
                                     work=(raw.get(f"entry_{i}_work") or "").strip()[:300],
                                     needs=(raw.get(f"entry_{i}_needs") or "").strip()[:300]))
    if errors:
        raise ActivityError(errors)
    log = db.session.execute(select(DailyLog).where(DailyLog.user_id == actor.id, DailyLog.day == day,
                                                    DailyLog.model == model)).scalar_one_or_none()
    if log is None:
        log = DailyLog(user_id=actor.id, outlet_id=actor.outlet_id, day=day, model=model)
        db.session.add(log)
    for key, value in values.items():
        setattr(log, key, value)
    log.entries = entries if model == "511" else []
    db.session.commit()
    return log


def my_logs(actor: Any, days: int = 14) -> list[DailyLog]:
    since = today_local() - timedelta(days=days - 1)
    return list(db.session.execute(select(DailyLog).where(DailyLog.user_id == actor.id, DailyLog.day >= since)
                                   .order_by(DailyLog.day.desc(), DailyLog.model)).scalars())


def compliance_grid(actor: Any, start: date, days: int = 7) -> tuple[list[User], list[date], dict]:
    """Per person and day in the actor's scope: the day's log compliance (None = no log that day)."""
    dates = [start + timedelta(days=i) for i in range(days)]
    people = list(db.session.execute(scoped(User, actor).where(User.active, User.outlet_id.is_not(None))
                                     .order_by(User.outlet_id, User.name).limit(300)).scalars())
    ids = [p.id for p in people]
    logs = db.session.execute(select(DailyLog).where(DailyLog.user_id.in_(ids), DailyLog.day >= dates[0],
                                                     DailyLog.day <= dates[-1])).scalars().all() if ids else []
    grid: dict[tuple[int, date], list[tuple[DailyLog, Compliance]]] = {}
    for log in logs:
        grid.setdefault((log.user_id, log.day), []).append((log, compliance(log)))
    return people, dates, grid
