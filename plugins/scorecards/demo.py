"""Demo (and benchmark) figures for scorecards: plausible values for every input of every scheme, a locked last
month and a computed current month per 分行, so the leaderboard and the explanations have something to show."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from crm.demo import as_user
from crm.extensions import db
from crm.models import Branch, Outlet, User
from crm.roles import OUTLET_POSTS
from crm.timeutil import today_local, utcnow
from plugins.scorecards import services, services_rewards
from plugins.scorecards.models import ScorecardActual, ScorecardPeriod, ScorecardScheme


def _d(text: Any) -> Decimal:
    return Decimal(str(text))


def _item_value(rng: random.Random, item: dict[str, Any]) -> Decimal:
    kind = item["type"]
    if kind == "step":
        target, step = _d(item.get("target") or "100"), _d(item.get("step") or "1")
        return target + step * rng.randint(-9, 11) + step * Decimal(rng.randint(0, 9)) / 10
    if kind == "bands":
        return rng.choice((Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0.6"), Decimal("1.8")))
    if kind == "pro_rata":
        target = _d(item.get("target") or "10")
        return Decimal(max(0, int(target) + rng.randint(-4, 3)))
    if kind == "value":
        top = _d(item.get("max") or "100")
        return (top * Decimal(rng.randint(62, 100)) / 100).quantize(Decimal("1"))
    return Decimal(rng.randint(0, 100))


def figures_for(rng: random.Random, scheme: ScorecardScheme) -> dict[str, Decimal]:
    """One person's figures for a scheme (every input, so the person is scored)."""
    out: dict[str, Decimal] = {}
    items = {i["code"]: i for i in scheme.definition.get("items", [])}
    for f in services.scheme_inputs(scheme):
        item = items.get(f.item_code)
        if f.crm:
            continue
        if f.key.endswith(".target"):
            out[f.key] = Decimal(rng.randint(20, 200) * 10000) if f.unit == "元" else Decimal(rng.randint(5, 40))
        elif item is not None and item["type"] == "weighted":
            out[f.key] = None  # filled from its target below
        elif item is not None and item["type"] == "deductions":
            if f.kind == "bool":
                out[f.key] = Decimal(1 if rng.randrange(100) < 3 else 0)
            elif f.key.endswith(".submitted"):
                out[f.key] = Decimal(rng.randint(2, 8))
            elif f.key.endswith((".done", ".tasks")):
                out[f.key] = Decimal(rng.randint(0, 4))
            elif f.key.endswith(".bonus"):
                out[f.key] = Decimal(rng.choice((0, 0, 0, 2, 5)))
            else:
                out[f.key] = Decimal(rng.choice((0, 0, 0, 0, 1, 1, 2)))
        elif item is not None:
            out[f.key] = _item_value(rng, item)
        elif f.kind == "bool":
            out[f.key] = Decimal(0)
        elif f.key.endswith(".base"):
            out[f.key] = Decimal(rng.randint(300, 900) * 10000)
        elif ".m" in f.key:
            out[f.key] = None  # monthly series: from the base below
        else:
            out[f.key] = Decimal(rng.randint(0, 6))  # e.g. behaviour-code deductions
    for key in [k for k, v in out.items() if v is None]:
        if ".m" in key and key.rsplit(".", 1)[0] + ".base" in out:
            base = out[key.rsplit(".", 1)[0] + ".base"]
            out[key] = (base * Decimal(rng.randint(86, 125)) / 100).quantize(Decimal("1"))
        else:
            target = out.get(f"{key}.target") or Decimal(100)
            out[key] = (target * Decimal(rng.randint(55, 130)) / 100).quantize(Decimal("1"))
    return out


def fill(period: ScorecardPeriod, rng: random.Random, actor_id: int | None = None) -> int:
    """Insert figures for everyone the period's schemes assess (one bulk INSERT); returns rows written."""
    people, outlets = services.branch_subjects(period.branch_id)
    existing = {(a, b, c) for a, b, c in db.session.execute(
        select(ScorecardActual.subject, ScorecardActual.subject_id, ScorecardActual.code)
        .where(ScorecardActual.period_id == period.id))}
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for scheme in services.current_schemes(period.branch_id, period=period.kind, scored=True):
        for s in services.assessed_by(scheme, people, outlets):
            for key, value in figures_for(rng, scheme).items():
                if (s.kind, s.id, key) in existing:
                    continue
                existing.add((s.kind, s.id, key))
                rows.append({"period_id": period.id, "subject": s.kind, "subject_id": s.id, "user_id": s.user_id,
                             "outlet_id": s.outlet_id, "branch_id": s.branch_id, "code": key, "value": value,
                             "source": "import", "updated_by_id": actor_id, "updated_at": now})
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(ScorecardActual), rows[start:start + 5000])
    db.session.commit()
    return len(rows)


def _one(post: str, branch_id: int) -> User | None:
    return db.session.execute(select(User).where(User.post == post, User.branch_id == branch_id, User.active)
                              .order_by(User.id).limit(1)).scalar_one_or_none()


LOG_POSTS = OUTLET_POSTS  # everyone at an outlet keeps the daily log (日跟踪, R-39)
SELLER_POSTS = ("low_counter_teller", "high_counter_teller", "wealth_manager", "personal_rm")
INSURERS = ("中国人寿", "平安人寿", "太平洋人寿", "新华保险", "泰康人寿")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ("建国", "秀英", "桂兰", "志强", "海燕", "丽娟", "国庆", "红梅", "明", "静", "伟", "芳")


def seed_logs(rng: random.Random, today: date, days: int = 45) -> int:
    """2511 daily logs of the outlet staff over the last `days` days' working days: most compliant, some
    short of contacts (R-35), a few days without a log."""
    from crm.models import DailyLog
    from crm.workdays import WorkdayCalendar

    calendar = WorkdayCalendar()
    staff = db.session.execute(select(User.id, User.outlet_id).where(
        User.active, User.post.in_(LOG_POSTS), User.outlet_id.is_not(None)).order_by(User.id)).all()
    now = utcnow()
    rows = []
    for n in range(days, 0, -1):
        day = today - timedelta(days=n)
        if not calendar.is_workday(day):
            continue
        for user_id, outlet_id in staff:
            roll = rng.randrange(100)  # percent
            if roll < 5:
                continue  # no log that day
            short = roll < 15
            policies = 1 if rng.randrange(100) < 30 else 0
            rows.append({"user_id": user_id, "outlet_id": outlet_id, "day": day, "model": "2511",
                         "contacts": rng.randint(12, 19) if short else rng.randint(20, 32),
                         "effective": rng.randint(5, 8), "policies": policies,
                         "problems": None if policies else rng.choice(("客户认为收益偏低", "客户已在他行配置",
                                                                        "需与家人商量后再定")),
                         "log_text": "上午厅堂识别客户，下午电话回访存量客户。", "on_site": True, "updated_at": now})
    if rows:
        db.session.execute(insert(DailyLog), rows)
        db.session.commit()
    return len(rows)


def seed_policies(rng: random.Random, today: date) -> int:
    """Bancassurance policies sold this year at every outlet, a few withdrawn in the cooling-off period (契撤)."""
    from crm.models import Outlet
    from plugins.scorecards.models import ScorecardPolicy

    sellers: dict[int, list[int]] = {}
    for user_id, outlet_id in db.session.execute(select(User.id, User.outlet_id).where(
            User.active, User.post.in_(SELLER_POSTS), User.outlet_id.is_not(None)).order_by(User.id)):
        sellers.setdefault(outlet_id, []).append(user_id)
    start = date(today.year, 1, 1)
    span = (today - start).days
    now = utcnow()
    rows = []
    for outlet_id, root_id in db.session.execute(select(Outlet.id, Outlet.root_branch_id).where(Outlet.active)
                                                 .order_by(Outlet.id)):
        if outlet_id not in sellers:
            continue
        for n in range(rng.randint(25, 45)):
            signed = start + timedelta(days=rng.randint(0, max(span, 0)))
            single = rng.randrange(100) < 75
            premium = Decimal(rng.randint(5, 50) * 10000 if single else rng.randint(6, 60) * 1000)
            cancelled = rng.randrange(100) < 4 and signed + timedelta(days=7) <= today
            rows.append({"branch_id": root_id, "outlet_id": outlet_id, "policy_no": f"BX{today.year}{outlet_id:03d}{n:04d}",
                         "seller_id": rng.choice(sellers[outlet_id]), "insurer_name": rng.choice(INSURERS),
                         "insurer_rm": rng.choice(SURNAMES) + rng.choice(GIVEN),
                         "customer_name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                         "payment_mode": "single" if single else "regular", "premium": premium,
                         "fyc": (premium * Decimal(rng.randint(2, 8)) / 100).quantize(Decimal("0.01")),
                         "signed_on": signed, "counter_type": rng.choice(("high", "low", "wealth")),
                         "status": "cancelled_cooling" if cancelled else "active",
                         "status_changed_on": signed + timedelta(days=7) if cancelled else None,
                         "updated_at": now, "version": 1})
    if rows:
        db.session.execute(insert(ScorecardPolicy), rows)
        db.session.commit()
    return len(rows)


def seed_demo(seed: int) -> int:
    """Per 分行: last month computed, reviewed and locked; this month computed; last year computed. Returns the
    number of periods made (0 when periods exist already)."""
    if db.session.execute(select(ScorecardPeriod.id).limit(1)).first() is not None:
        return 0
    services.ensure_default_schemes()
    rng = random.Random(seed)
    today = today_local()
    seed_logs(rng, today)
    seed_policies(rng, today)
    last_month = today.replace(day=1) - timedelta(days=1)
    made = 0
    for root in db.session.execute(select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars():
        maker, checker = _one("marketing", root.id), _one("branch_head", root.id)
        if maker is None or checker is None:
            continue
        for kind, day, finish in (("month", last_month, True), ("month", today, False),
                                  ("year", today.replace(year=today.year - 1), False)):
            period = as_user(maker, services.open_period, kind, day)
            fill(period, rng, maker.id)
            as_user(maker, services.compute_period, period)
            if finish:
                for outlet_id in db.session.execute(select(Outlet.id).where(
                        Outlet.root_branch_id == root.id, Outlet.active).order_by(Outlet.id)).scalars():
                    as_user(maker, services_rewards.set_pool, period, outlet_id, "bsc",
                            str(rng.randint(30, 60) * 1000))
                    as_user(maker, services_rewards.set_pool, period, outlet_id, "outlet_average_bonus",
                            str(rng.randint(6, 10) * 1000))
                as_user(checker, services.review_period, period)
                as_user(maker, services.lock_period, period)
            made += 1
    return made
