"""Segmentation recompute at 1,000,000 customers vs a hand-written single UPDATE … CASE and vs an ORM loop."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import event, inspect, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from customers import EXTRA_OUTLETS, build, is_built, make_app, pg_admin  # noqa: E402 - bench/customers.py builds

from crm.extensions import db  # noqa: E402
from crm.models import Branch, Customer, Outlet, User  # noqa: E402

GOAL = 1.5  # recompute ≤ 1.5 × the hand-written UPDATE … CASE
LINES = ("50000", "100000")  # alternate the T1 line so every timed run really moves customers


def reference_sql(line: str) -> str:
    return ("UPDATE customer SET tier = CASE WHEN deposit_balance >= " + line + " THEN 'T1' ELSE 'T0' END "
            "WHERE outlet_id IN (SELECT id FROM outlet WHERE root_branch_id = :b)")


def part_of(statement: str) -> str:
    """Which part of the recompute a statement belongs to, for the per-part figures."""
    sql = " ".join(statement.split())
    if sql.startswith("INSERT INTO segmentation_tier_change"):
        return "tiering: history INSERT … SELECT (changed rows)"
    if sql.startswith("UPDATE customer"):
        return "tiering: UPDATE customer from the history"
    if "FROM segmentation_tier_change" in sql:
        return "tiering: moves per (old, new) tier from the history"
    if sql.startswith("INSERT INTO segmentation_tag"):
        return "segments: one INSERT … SELECT of every customer's bits and primary"
    if sql.startswith("DELETE FROM segmentation_tag"):
        return "segments: drop tags of customers who left"
    if sql.startswith("SELECT count(*)") and "FROM (SELECT customer.id" in sql:
        return "segments: count the customers (did any leave?)"
    if "FROM segmentation_tag" in sql:
        return "counts: per tier and segment, before and after"
    return "other: settings, slots, run row, audit"


def set_tiers(branch_id: int, line: str) -> None:
    # End the session's transaction first: on PostgreSQL an idle open transaction (e.g. one that reloaded the last
    # run's attributes) holds back the cleanup of dead row versions, and every full-table UPDATE after it slows down.
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(text(reference_sql(line)), {"b": branch_id})


def timed(fn) -> float:
    started, cpu = time.perf_counter(), time.process_time()
    fn()
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - started


# CPU seconds of this process for each timed call, in order. On SQLite the database works inside this process, so
# CPU time compares the two fairly on a machine busy with other work, where wall-clock times swing by 2× and more.
CPU: list[float] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="PostgreSQL URL of a database of its own (not test or postgres), "
                                     "created and filled; dropped at the end unless --keep")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", metavar="PATH", help="SQLite database file to reuse (built there if missing)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--orm", action="store_true", help="also time the ORM loop (slow: tens of seconds)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-bench-seg-") as tmp:
        folder = Path(tmp)
        if args.db:
            url = args.db.replace("postgresql://", "postgresql+psycopg://", 1)
            if not (args.keep and pg_admin(args.db, "exists")):
                pg_admin(args.db, "create")
        else:
            path = Path(args.reuse) if args.reuse else folder / "bench-seg.sqlite3"
            url = f"sqlite:///{path.resolve()}"
        app = make_app(url, folder)
        if not is_built(app, args.customers):
            if args.db:
                pg_admin(args.db, "create")
            elif path.exists():
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            app = make_app(url, folder)
            print(f"building: {args.customers:,} customers over {10 + EXTRA_OUTLETS} outlets …", flush=True)
            build(app, args.customers)
        try:
            with app.app_context():
                run(app, args)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if args.db and not args.keep:
                pg_admin(args.db, "drop")


def run(app, args) -> None:
    from plugins.segmentation import services

    with db.engine.begin() as conn:  # a database built with the plugin's first schema (one row per membership)
        conn.execute(text("DROP TABLE IF EXISTS segmentation_member"))
    db.create_all()  # the plugin's tables, if the database was built before the plugin (or this schema) existed
    tag_columns = {c["name"] for c in inspect(db.engine).get_columns("segmentation_tag")}
    if "primary_segment" not in tag_columns:  # built before 0002_segmentation_more: the column it adds
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE segmentation_tag ADD COLUMN primary_segment VARCHAR(40)"))
    registry = app.extensions["crm"]
    branch = db.session.execute(
        select(Branch).where(Branch.parent_id.is_(None)).join(Outlet, Outlet.root_branch_id == Branch.id)
        .group_by(Branch.id).order_by(db.func.count(Outlet.id).desc())).scalars().first()
    admin = db.session.execute(select(User).where(User.post == "branch_admin", User.branch_id == branch.id)).scalars().first()
    registry.set_enabled("segmentation", branch.id, True, None)
    db.session.commit()
    n = db.session.execute(text("SELECT count(*) FROM customer WHERE outlet_id IN "
                                "(SELECT id FROM outlet WHERE root_branch_id = :b)"), {"b": branch.id}).scalar_one()
    dialect = db.engine.dialect.name
    print(f"{dialect}: 分行 {branch.name} with {n:,} customers (of {args.customers:,}); {args.rounds} rounds")

    rated = db.session.execute(text("SELECT count(*) FROM segmentation_rating")).scalar_one()
    if rated == 0:  # 5C1S ratings (S-13) for 1 in 50 customers, two per customer (history): the latest counts
        for offset in (0, 1):
            db.session.execute(text(
                "INSERT INTO segmentation_rating (customer_id, branch_id, scores, total, grade, rated_at) "
                "SELECT id, :b, '[]', 6 + (id + :o * 7) % 25, 'prospect', CURRENT_TIMESTAMP FROM customer "
                "WHERE id % 50 = 0 AND outlet_id IN (SELECT id FROM outlet WHERE root_branch_id = :b) ORDER BY id"),
                {"b": branch.id, "o": offset})
        db.session.commit()
    rated = db.session.execute(text("SELECT count(*) FROM segmentation_rating")).scalar_one()
    print(f"  5C1S ratings in the database: {rated:,}")

    def ours(line: str) -> None:
        services.save_ladder(admin, branch.id, [("T1", "", line), ("T0", "", "")], "deposit")
        set_tiers(branch.id, LINES[1] if line == LINES[0] else LINES[0])  # start from the other line
        db.session.execute(text("DELETE FROM segmentation_tier_change"))
        db.session.commit()

    per_part: dict[str, float] = defaultdict(float)
    starts: dict[int, float] = {}

    def before(conn, cursor, statement, params, context, executemany):
        starts[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, params, context, executemany):
        per_part[part_of(statement)] += time.perf_counter() - starts.pop(id(cursor), time.perf_counter())

    def recompute_timed() -> tuple[float, int]:
        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
        try:
            with app.test_request_context():
                started, cpu = time.perf_counter(), time.process_time()
                run = services.recompute(admin, branch.id)
                CPU.append(time.process_time() - cpu)
                return time.perf_counter() - started, run.changed
        finally:
            event.remove(db.engine, "before_cursor_execute", before)
            event.remove(db.engine, "after_cursor_execute", after)

    tagged = db.session.execute(text("SELECT count(*) FROM segmentation_tag WHERE branch_id = :b"),
                                {"b": branch.id}).scalar_one()
    # The first recompute writes a tag for every customer (and, after 0002_segmentation_more, a primary segment for
    # every tag): shown, not mixed into the median.
    ours(LINES[1])
    t, moved = recompute_timed()
    print(f"  first recompute ({'no tags yet' if tagged == 0 else 'warm-up'}, {moved:,} tiers changed): {t:.2f} s",
          flush=True)
    per_part.clear()
    CPU.clear()

    ref_times, our_times, changed, ref_cpu, our_cpu = [], [], [], [], []
    for r in range(args.rounds):
        line = LINES[r % 2]
        set_tiers(branch.id, LINES[(r + 1) % 2])
        CPU.clear()
        ref_times.append(timed(lambda line=line: set_tiers(branch.id, line)))
        ours(line)
        t, moved = recompute_timed()
        ref_cpu.append(CPU[0])
        our_cpu.append(CPU[-1])
        our_times.append(t)
        changed.append(moved)
        print(f"  round {r + 1}: reference {ref_times[-1]:.2f} s (CPU {ref_cpu[-1]:.2f} s), recompute {t:.2f} s "
              f"(CPU {our_cpu[-1]:.2f} s) ({changed[-1]:,} tiers changed)", flush=True)
    ref, our = statistics.median(ref_times), statistics.median(our_times)
    if dialect == "sqlite":
        rc, oc = statistics.median(ref_cpu), statistics.median(our_cpu)
        print(f"CPU time of this process (SQLite works in it): reference median {rc:.2f} s, recompute median "
              f"{oc:.2f} s → {oc / rc:.2f}× (goal ≤ {GOAL}×)")
    print(f"hand-written UPDATE … CASE (tiers only, every row of the 分行): median {ref:.2f} s")
    segments = len(services.slots(branch.id))
    print(f"recompute (tiers + history + {segments} segments + primary segment + counts before/after + audit): "
          f"median {our:.2f} s "
          f"→ {our / ref:.2f}× the reference (goal ≤ {GOAL}×)")
    print("  parts (mean per round; ratio to the reference's median):")
    parts = {k: v / args.rounds for k, v in per_part.items()}
    tiering = sum(v for k, v in parts.items() if k.startswith("tiering"))
    for key, secs in sorted(parts.items()):
        print(f"    {key:<52} {secs:6.2f} s  {secs / ref:5.2f}×")
    print(f"    {'tiering total (history + UPDATE + moves)':<52} {tiering:6.2f} s  {tiering / ref:5.2f}×")
    if args.orm:
        set_tiers(branch.id, LINES[1])
        db.session.expire_all()

        def orm_loop() -> None:
            rows = db.session.execute(select(Customer).where(Customer.outlet_id.in_(  # the baseline, on purpose
                select(Outlet.id).where(Outlet.root_branch_id == branch.id)))).scalars()
            for c in rows:
                c.tier = "T1" if c.deposit_balance >= 50000 else "T0"
            db.session.commit()

        orm = timed(orm_loop)
        db.session.expunge_all()
        print(f"ORM loop (tiers only, same rows): {orm:.2f} s → recompute = {our / orm:.2f}× the ORM loop "
              f"({orm / our:.1f}× faster); the reference {orm / ref:.1f}× faster")


if __name__ == "__main__":
    main()
