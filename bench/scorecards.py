"""绩效考核: computing a month for 10,000 staff across 1,000 outlets with the full scheme set (goal < 10 s on
SQLite) and the leaderboard page (goal < 100 ms server time). References measured in the same run: reading the
month's figures once (the floor any computation pays) and the core customer list of the same user."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402 - bench/pages.py: build_app (schema + demo org), log_in, timing helpers
from pages import FreshClient, as_user, median_ms  # noqa: E402

from crm.extensions import db  # noqa: E402
from crm.models import Branch, Outlet, User  # noqa: E402

COMPUTE_GOAL_S = 10.0
PAGE_GOAL_MS = 100.0
# Ten people per outlet: the posts the default schemes assess (and two they do not).
OUTLET_POSTS = [("outlet_head", None), ("corporate_rm", "a_senior"), ("corporate_rm", "a_middle"),
                ("corporate_rm", "a_junior"), ("personal_rm", "p_rm"), ("lobby_manager", None),
                ("low_counter_teller", None), ("high_counter_teller", None), ("wealth_manager", "b_1"),
                ("back_office", None)]





def add_org(branch: Branch, sub: Branch, outlets: int) -> int:
    """`outlets` outlets of ten people each in 分行 `branch` (bulk INSERTs)."""
    start = db.session.execute(select(func.max(Outlet.id))).scalar_one() or 0
    db.session.execute(insert(Outlet), [
        {"id": start + i + 1, "code": f"BX{i:05d}", "name": f"压测网点{i:04d}", "branch_id": sub.id,
         "root_branch_id": branch.id, "outlet_type": "urban_park", "active": True} for i in range(outlets)])
    hashed = db.session.execute(select(User.password_hash).limit(1)).scalar_one()
    people = []
    for i in range(outlets):
        for j, (post, grade) in enumerate(OUTLET_POSTS):
            people.append({"login": f"BX{i:05d}{j}", "name": f"员工{i:04d}{j}", "post": post, "grade": grade,
                           "outlet_id": start + i + 1, "branch_id": sub.id, "password_hash": hashed,
                           "must_change_password": False, "active": True, "version": 1})
    db.session.execute(insert(User), people)
    db.session.commit()
    return len(people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outlets", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--samples", action="store_true", help="also print every page time, in order")
    parser.add_argument("--freeze", action=argparse.BooleanOptionalAction, default=True,
                        help="gc.freeze() after the setup (default): the setup's million leftover objects are not what "
                             "a web worker carries, and without it every ninth page pays a full collection of them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-sc-") as tmp:
        app = pages.build_app(None, Path(tmp))
        with app.app_context():
            run(app, args)
            db.session.remove()
            db.engine.dispose()


def run(app, args) -> None:
    from crm.auth.services import set_password
    from crm.demo_customers import seed_customers
    from plugins.scorecards import demo, services
    from plugins.scorecards.models import ScorecardActual, ScorecardResult

    seed_customers(3_000, seed=7, echo=lambda s: None)
    registry = app.extensions["crm"]
    registry.set_enabled("scorecards", None, True, None)
    db.session.commit()
    branch = db.session.execute(select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars().first()
    sub = db.session.execute(select(Branch).where(Branch.parent_id == branch.id).order_by(Branch.code)).scalars().first()
    added = add_org(branch, sub, args.outlets)
    staff = db.session.execute(select(func.count()).select_from(User).join(Outlet, Outlet.id == User.outlet_id)
                               .where(Outlet.root_branch_id == branch.id)).scalar_one()
    maker = db.session.execute(select(User).where(User.post == "marketing", User.branch_id == branch.id)).scalars().first()
    head = db.session.execute(select(User).where(User.post == "branch_head", User.branch_id == branch.id)
                              ).scalars().first()
    period = as_user(app, maker.id, services.open_period, "month", date(2026, 11, 15))
    started = time.perf_counter()
    figures = demo.fill(period, random.Random(7), maker.id)
    fill_s = time.perf_counter() - started

    reads = []
    for _ in range(3):
        started = time.perf_counter()
        services.actuals_of(period.id)
        reads.append(time.perf_counter() - started)
    read_s = statistics.median(reads)

    computes = []
    for _ in range(3):
        db.session.expire_all()
        period = db.session.get(type(period), period.id)
        started = time.perf_counter()
        report = as_user(app, maker.id, services.compute_period, period)
        computes.append(time.perf_counter() - started)
    compute_s = statistics.median(computes)
    results = db.session.execute(select(func.count()).select_from(ScorecardResult).where(
        ScorecardResult.period_id == period.id)).scalar_one()
    actuals = db.session.execute(select(func.count()).select_from(ScorecardActual).where(
        ScorecardActual.period_id == period.id)).scalar_one()

    set_password(head, pages.PASSWORD, must_change=False)
    db.session.commit()
    head_login = head.login
    if args.freeze:  # what the setup left in memory is not the pages' garbage: keep the collector off it
        import gc

        gc.collect()
        gc.freeze()
    app.test_client_class = FreshClient
    client = app.test_client()
    pages.log_in(client, head_login)
    scheme = next(s for s in services.current_schemes(branch.id, period="month") if s.code == "003e-comprehensive")
    urls = {f"leaderboard ({staff:,} staff, outlet PK)": f"/p/scorecards/leaderboard?period={period.id}&scheme={scheme.id}",
            "period page, results page 1": f"/p/scorecards/periods/{period.id}?scheme={scheme.id}",
            "core customer list (reference)": "/customers"}
    for url in urls.values():
        assert client.get(url).status_code == 200, url
    times: dict[str, list[float]] = {k: [] for k in urls}
    for _ in range(args.rounds):
        for key, url in urls.items():
            started = time.perf_counter()
            resp = client.get(url)
            times[key].append(time.perf_counter() - started)
            assert resp.status_code == 200, (url, resp.status_code)
    ref = statistics.median(times["core customer list (reference)"])

    print(f"绩效考核 bench (SQLite; 分行 {branch.name}: {staff:,} staff in {args.outlets + 5:,}+ outlets, "
          f"{added:,} added)")
    print(f"figures of the month: {figures:,} written in {fill_s:.1f} s (bulk, not timed below); {actuals:,} in the "
          f"period after the CRM's own (missed visits)")
    print(f"computing the month ({len(report.by_scheme)} schemes, {results:,} results, {report.scored:,} scored, "
          f"{report.missing:,} missing, {report.warnings:,} warnings): median {compute_s:.2f} s of 3 "
          f"(goal < {COMPUTE_GOAL_S:.0f} s: {compute_s / COMPUTE_GOAL_S:.2f}× the goal); "
          f"{compute_s / read_s:.1f}× reading the figures once ({read_s:.2f} s)")
    print(f"pages through the test client, {args.rounds} rounds interleaved (median / p95), user 分行负责人:")
    for key, samples in times.items():
        med, p95 = median_ms(samples)
        goal = f"; goal < {PAGE_GOAL_MS:.0f} ms" if not key.startswith("core") else ""
        print(f"  {key:<40} {med:7.1f} ms / {p95:7.1f} ms  {med / (ref * 1000):5.2f}× the customer list{goal}")
        if args.samples:
            print("    " + " ".join(f"{x * 1000:.0f}" for x in samples))


if __name__ == "__main__":
    main()
