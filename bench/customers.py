"""The customer list at 1,000,000 customers: keyset page 1 vs ~500,000 rows deep, a bare Flask reference running
the same SQL, OFFSET paging for contrast, search and the capped count, with the deep page's query plan."""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import flask
from sqlalchemy import event, func, select, tuple_

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages import PASSWORD, log_in  # noqa: E402 - the same login as bench/pages.py

from crm import create_app  # noqa: E402
from crm.auth.services import hash_password, set_password
from crm.customers.services import encode_cursor
from crm.demo import ensure_demo
from crm.demo_customers import seed_customers
from crm.extensions import db
from crm.masking import mask_id_card, mask_mobile
from crm.models import Branch, Customer, Outlet, User
from crm.money import round_half_up, to_decimal

EXTRA_OUTLETS = 100  # on top of the demo's 10: 70 under 郑州分行, 30 under 洛阳分行
OUTLET_STAFF = ("outlet_head", "corporate_rm", "personal_rm", "wealth_manager", "lobby_manager", "low_counter_teller")
HX_ROWS = {"HX-Request": "true", "HX-Target": "customer-rows"}
PICKER = {"HX-Request": "true", "HX-Target": "maintainer-menu"}
PICKER_TYPING = {"HX-Request": "true", "HX-Target": "maintainer-choices"}
OUTLET_PICKER = {"HX-Request": "true", "HX-Target": "outlet-menu"}
GOAL_DEEP = 1.5  # deep page ≤ 1.5 × page 1
GOAL_P95_MS = 50.0  # list requests
GOAL_BARE = 2.0  # ours ≤ 2 × bare Flask
GOAL_SEARCH_MS = 50.0  # median, SQLite

ROW_LINK = re.compile(r'<td><a href="/customers/(\d+)">')

# The reference renders the same 50 rows as the list's rows block: the same cells, classes, labels and the
# same formatting functions (registered as filters here too), so the ratio measures what the app adds around
# them: session check, scope, filters parsing, layout, menu, plugin hooks.
REFERENCE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>客户</title></head>
<body><table class="table card-table table-vcenter table-hover">
<thead><tr><th>客户</th><th>证件号</th><th>手机</th><th>网点</th><th>维护人</th><th>层级</th><th class="text-end">存款余额</th><th>最近联系</th></tr></thead>
<tbody id="customer-rows">
{% for c in rows %}
      <tr>
        <td><a href="/customers/{{ c.id }}">{{ c.name }}</a> <span class="badge {{ 'bg-blue-lt' if c.kind == 'personal' else 'bg-purple-lt' }}">{{ '个人' if c.kind == 'personal' else '对公' }}</span>{% if c.status == 'target' %} <span class="badge bg-orange-lt">目标</span>{% endif %}{% if c.vip %} <i class="bi bi-star-fill text-yellow" title="VIP"></i>{% endif %}</td>
        <td class="font-monospace text-secondary">{{ c.cert_no|mask_id }}</td>
        <td class="font-monospace text-secondary">{{ c.phone|mask_mobile }}</td>
        <td>{{ c.outlet_name }}</td>
        <td>{{ c.maintainer_name or '—' }}</td>
        <td>{{ c.tier or '' }}</td>
        <td class="text-end font-monospace">{{ c.deposit_balance|amount }}</td>
        <td class="text-secondary">{{ c.last_contact_at|localtime('%Y-%m-%d') }}</td>
      </tr>
{% endfor %}
{% if more %}<tr id="more-customers"><td colspan="8"><a href="/?after={{ more }}">加载更多</a></td></tr>{% endif %}
</tbody></table></body></html>
"""


def quiet(_line: str) -> None:
    pass


# ---------------------------------------------------------------- the database

def pg_admin(url: str, action: str) -> bool:
    """CREATE / DROP / probe the benchmark's own PostgreSQL database (autocommit, on the `postgres` database)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or name in ("test", "postgres", "template0", "template1"):
        sys.exit(f"refusing to use the database {name!r}: give a database of its own, e.g. .../crm_bench")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
        if action == "exists":
            return exists
        if action in ("drop", "create") and exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if action == "create":
            conn.execute(f'CREATE DATABASE "{name}"')
    return True


def make_app(url: str, folder: Path) -> flask.Flask:
    return create_app({"TESTING": True, "INSTANCE_PATH": str(folder), "SQLALCHEMY_DATABASE_URI": url,
                       "CRM_PASSWORD_HASH": "pbkdf2:sha256:1000"})


def is_built(app: flask.Flask, n: int) -> bool:
    with app.app_context():
        try:
            customers = db.session.execute(select(func.count()).select_from(Customer)).scalar_one()
            outlets = db.session.execute(select(func.count()).select_from(Outlet)).scalar_one()
        except Exception:  # noqa: BLE001 - no schema yet
            db.session.rollback()
            return False
        return customers == n and outlets >= 10 + EXTRA_OUTLETS


def build(app: flask.Flask, n: int) -> float:
    """Schema, demo org and staff, 100 more outlets with staff, then `n` customers. Returns the seconds taken
    by `seed_customers` (what `crm demo --customers n` spends on customers)."""
    with app.app_context():
        db.create_all()
        ensure_demo(seed=1, echo=quiet)
        subs = db.session.execute(select(Branch).where(Branch.level == "sub_branch").order_by(Branch.code)).scalars().all()
        zhengzhou = [b for b in subs if b.code.startswith("4101")]
        luoyang = [b for b in subs if b.code.startswith("4103")]
        placeholder = hash_password("not-a-login-" + str(time.time()))
        for i in range(EXTRA_OUTLETS):
            sub = zhengzhou[i % len(zhengzhou)] if i < 70 else luoyang[i % len(luoyang)]
            outlet = Outlet(code=f"{sub.code}B{i:03d}", name=f"{sub.name[:2]}第{i + 1}网点", branch_id=sub.id,
                            root_branch_id=sub.root_id, outlet_type=("urban", "urban", "township")[i % 3])
            db.session.add(outlet)
            db.session.flush()
            for j, post in enumerate(OUTLET_STAFF):
                db.session.add(User(login=f"BENCH{i:03d}{j}", name=f"员工{i:03d}{j}", post=post, outlet_id=outlet.id,
                                    branch_id=sub.id, password_hash=placeholder, must_change_password=False,
                                    active=True))
        db.session.commit()
        started = time.perf_counter()
        seed_customers(n, 1, echo=lambda line: print(line, flush=True))
        return time.perf_counter() - started


# ---------------------------------------------------------------- requests

def get(client: Any, url: str, headers: dict[str, str] | None = None) -> str:
    response = client.get(url, headers=headers)
    if response.status_code != 200:
        sys.exit(f"GET {url} answered {response.status_code}")
    return response.get_data(as_text=True)


def row_ids(html: str, url: str, expected: int = 50) -> list[int]:
    ids = [int(i) for i in ROW_LINK.findall(html)]
    if len(ids) != expected:
        sys.exit(f"{url}: expected {expected} rows, found {len(ids)}")
    return ids


def capture_sql(engine: Any, view: Callable[[], Any]) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        view()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


# ---------------------------------------------------------------- the reference and plain SQL

def scope_condition(head: User, form: str | None = None):
    """The branch head's scope, written as crm.access writes it (form B: outlets of the subtree or maintained by
    him, both kept off the indexes); form A is the earlier, indexable writing, kept for the diagnosis table."""
    subtree = select(Branch.id).where(Branch.path.like(head.branch.path + "%"))
    outlets = select(Outlet.id).where(Outlet.branch_id.in_(subtree))
    if (form or "B") == "B":
        return (Customer.outlet_id + 0).in_(outlets) | ((Customer.maintainer_id + 0) == head.id)
    return Customer.outlet_id.in_(outlets) | (Customer.maintainer_id == head.id)


def list_query(head: User, scope: Any = None):
    return (select(Customer.id, Customer.name, Customer.kind, Customer.status, Customer.vip, Customer.cert_no,
                   Customer.phone, Customer.tier, Customer.deposit_balance, Customer.last_contact_at,
                   Outlet.name.label("outlet_name"), User.name.label("maintainer_name"))
            .join(Outlet, Outlet.id == Customer.outlet_id)
            .outerjoin(User, User.id == Customer.maintainer_id)
            .where(scope_condition(head) if scope is None else scope)
            .order_by(Customer.deposit_balance.desc(), Customer.id.desc()))


def reference_app(engine: Any, head: User, zone: str) -> flask.Flask:
    """A bare Flask app (no extensions, login or layout): the same keyset SQL for the head's scope, 50 rows."""
    query = list_query(head)
    tz = ZoneInfo(zone)
    bare = flask.Flask(__name__)
    bare.jinja_env.filters.update(
        mask_id=mask_id_card, mask_mobile=mask_mobile,
        amount=lambda v: "" if v is None else f"{round_half_up(to_decimal(v)):,.2f}",
        localtime=lambda v, fmt="%Y-%m-%d %H:%M": v.replace(tzinfo=UTC).astimezone(tz).strftime(fmt) if v else "")
    compiled = bare.jinja_env.from_string(REFERENCE)

    @bare.route("/")
    def rows() -> str:
        stmt = query
        after = flask.request.args.get("after")
        if after:
            balance, last_id = after.split("_")
            stmt = stmt.where(tuple_(Customer.deposit_balance, Customer.id) < (to_decimal(balance), int(last_id)))
        with engine.connect() as conn:
            found = conn.execute(stmt.limit(51)).all()
        more = f"{found[49].deposit_balance}_{found[49].id}" if len(found) > 50 else None
        return flask.render_template(compiled, rows=found[:50], more=more)

    return bare


def timed_rounds(cases: list[tuple[str, Callable[[], Any]]], rounds: int, budget: float) -> dict[str, list[float]]:
    """Each case once per round, rounds interleaved (a busy moment hits all cases alike). Milliseconds.
    A case that has used up `budget` seconds stops after 5 samples (a slow case would otherwise take hours)."""
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(rounds):
        for name, view in cases:
            if len(times[name]) >= 5 and sum(times[name]) > budget * 1000:
                continue
            start = time.perf_counter()
            view()
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def explain(engine: Any, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return [f"{'  ' * _depth(rows, r)}{r[3]}" for r in rows]
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + statement,
                                    parameters).all()
        return [r[0] for r in rows]


def _depth(rows: list[Any], row: Any) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent:
        depth += 1
        parent = parents.get(parent, 0)
    return depth


def diagnose(engine: Any, head: User, balance: Any, last_id: int, runs: int = 3) -> list[str]:
    """The list's queries by plain SQL in three forms, to show what the plans need (same rows in each form):
    A as the app writes the scope (`outlet_id IN (…) OR maintainer_id = …`, both indexable);
    B the scope made non-indexable (`outlet_id + 0 IN (…) OR maintainer_id + 0 = …`): the sort or the search keys
      drive the query, the scope is a filter;
    C as B, and a search sorted by an expression (`name_pinyin || ''`), so no plan walks the name index in order
      hoping to meet the matches early."""
    from crm.customers.search import condition

    scopes = {"A": scope_condition(head, "A"), "B": scope_condition(head, "B")}
    by_deposit = (Customer.deposit_balance.desc(), Customer.id.desc())
    by_name = (Customer.name_pinyin, Customer.id)
    by_name_expr = (Customer.name_pinyin + "", Customer.id)
    keyset = tuple_(Customer.deposit_balance, Customer.id) < (balance, last_id)
    checks = [("deep page, sort=deposit", keyset, by_deposit, False), ("page 1, sort=deposit", None, by_deposit, False),
              ("page 1, sort=name", None, by_name, False)]
    checks += [(f"search {q}", condition(q), by_name, True) for q in ("zs", "zhangwei", "5678")]
    lines = [f"{'plain SQL, median of ' + str(runs) + ' (ms)':<30} {'A app':>9} {'B scope+0':>10} {'C +sort expr':>13}"]
    for label, where, order, is_search in checks:
        cells = []
        ids = None
        for form in ("A", "B", "C"):
            if form == "C" and not is_search:
                cells.append("")
                continue
            stmt = list_query(head, scopes["A" if form == "A" else "B"])
            stmt = stmt.where(where) if where is not None else stmt
            stmt = stmt.order_by(None).order_by(*(by_name_expr if form == "C" else order)).limit(51)
            samples = []
            for _ in range(runs):
                start = time.perf_counter()
                with engine.connect() as conn:
                    found = [r.id for r in conn.execute(stmt)]
                samples.append((time.perf_counter() - start) * 1000)
            if ids is not None and found != ids:
                sys.exit(f"diagnosis: {label} form {form} returns other rows")
            ids = found
            cells.append(f"{statistics.median(samples):.1f}")
        lines.append(f"{label:<30} {cells[0]:>9} {cells[1]:>10} {cells[2]:>13}")
    return lines


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="PostgreSQL URL of a database of its own (e.g. postgresql://postgres@127.0.0.1"
                                     ":5432/crm_bench): created, filled, and dropped at the end unless --keep")
    parser.add_argument("--keep", action="store_true", help="PostgreSQL: keep the database, and reuse it next time")
    parser.add_argument("--reuse", metavar="PATH", help="SQLite: the database file to reuse (built there if missing)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--depth", type=int, default=500_000, help="rows before the deep page (default 500,000)")
    parser.add_argument("--rounds", type=int, default=40, help="timed requests per case (default 40)")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds per case after which a slow case stops at 5 samples (default 20)")
    parser.add_argument("--plans", action="store_true", help="also print the plans of the searches and the count")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        folder = Path(tmp)
        if args.db:
            url = args.db.replace("postgresql://", "postgresql+psycopg://", 1)
            reuse = args.keep and pg_admin(args.db, "exists")
            if not reuse:
                pg_admin(args.db, "create")
        else:
            path = Path(args.reuse) if args.reuse else folder / "bench.sqlite3"
            url = f"sqlite:///{path.resolve()}"
            reuse = path.exists()
        app = make_app(url, folder)
        built_in = None
        if not (reuse and is_built(app, args.customers)):
            if args.db:
                pg_admin(args.db, "create")
                app = make_app(url, folder)
            elif path.exists():
                with app.app_context():
                    db.engine.dispose()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                app = make_app(url, folder)
            print(f"building: {args.customers:,} customers over {10 + EXTRA_OUTLETS} outlets …", flush=True)
            built_in = build(app, args.customers)
        try:
            run(app, args, built_in)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if args.db and not args.keep:
                pg_admin(args.db, "drop")


def run(app: flask.Flask, args: argparse.Namespace, built_in: float | None) -> None:
    with app.app_context():
        engine = db.engine
        dialect = engine.dialect.name
        head = db.session.execute(select(User).where(User.post == "branch_head").order_by(User.id)).scalars().first()
        set_password(head, PASSWORD, must_change=False)
        db.session.commit()
        head_login, head_branch = head.login, head.branch.name
        in_scope = db.session.execute(select(func.count()).select_from(Customer).where(scope_condition(head))
                                      ).scalar_one()
        outlets = db.session.execute(select(func.count()).select_from(Outlet)).scalar_one()
        depth = min(args.depth, in_scope - 60)
        # The cursor of the row at `depth`: one query, ordered as the list orders.
        base = list_query(head)
        balance, last_id = db.session.execute(
            base.with_only_columns(Customer.deposit_balance, Customer.id).offset(depth - 1).limit(1)).one()
        cursor = encode_cursor([str(balance), last_id])
        keyset_sql = base.where(tuple_(Customer.deposit_balance, Customer.id) < (balance, last_id)).limit(51)
        offset_sql = base.offset(depth).limit(50)
        bare = reference_app(engine, head, app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")).test_client()
        diagnosis = diagnose(engine, head, balance, last_id)

    # Requests run outside any app context: each gets its own (and its own database session), as in production.
    client = app.test_client()
    log_in(client, head_login)
    page1 = "/customers?sort=deposit"
    deep = f"/customers?sort=deposit&after={cursor}"
    searches = ["/customers?q=zs", "/customers?q=zhangwei", "/customers?q=5678"]
    # Check what is compared: the same rows everywhere.
    ids_deep = row_ids(get(client, deep, HX_ROWS), deep)
    ids_full = row_ids(get(client, deep), deep)
    ids_bare = row_ids(get(bare, f"/?after={balance}_{last_id}"), "bare deep")
    with engine.connect() as conn:
        ids_offset = [r.id for r in conn.execute(offset_sql)]
    if not (ids_deep == ids_full == ids_bare == ids_offset):
        sys.exit("the deep page, the reference and OFFSET do not show the same 50 rows")
    row_ids(get(client, page1, HX_ROWS), page1)
    search_rows = {u: len(ROW_LINK.findall(get(client, u, HX_ROWS))) for u in searches}
    count_html = get(client, "/customers/count")

    def sql_rows(stmt):
        with engine.connect() as conn:
            return conn.execute(stmt).all()

    cases: list[tuple[str, Callable[[], Any], str | None]] = [
        ("page 1, rows (HX)", lambda: get(client, page1, HX_ROWS), page1),
        ("deep, rows (HX)", lambda: get(client, deep, HX_ROWS), deep),
        ("page 1, full page", lambda: get(client, page1), page1),
        ("deep, full page", lambda: get(client, deep), deep),
        ("bare Flask, page 1", lambda: get(bare, "/"), None),
        ("bare Flask, deep", lambda: get(bare, f"/?after={balance}_{last_id}"), None),
        ("SQL keyset, deep", lambda: sql_rows(keyset_sql), None),
        (f"SQL OFFSET {depth:,}", lambda: sql_rows(offset_sql), None),
        *[(f"search {u.split('=')[1]} (HX)", lambda u=u: get(client, u, HX_ROWS), u) for u in searches],
        ("/customers/count", lambda: get(client, "/customers/count"), "/customers/count"),
        # The outlet and maintainer filters load their choices when opened, and again as the user types.
        ("maintainer picker, open", lambda: get(client, "/customers/maintainers?sort=deposit", PICKER),
         "/customers/maintainers?sort=deposit"),
        ("maintainer picker, typing", lambda: get(client, "/customers/maintainers?find=%E5%BC%A0", PICKER_TYPING),
         "/customers/maintainers?find=%E5%BC%A0"),
        ("outlet picker, open", lambda: get(client, "/customers/outlets?sort=deposit", OUTLET_PICKER),
         "/customers/outlets?sort=deposit"),
    ]
    n_sql = {name: len(capture_sql(engine, view)) if url else 0 for name, view, url in cases}
    for _name, view, _url in cases:  # warm-up: templates compiled, caches and pools filled
        view()
    times = timed_rounds([(name, view) for name, view, _ in cases], args.rounds, args.budget)
    med = {name: statistics.median(t) for name, t in times.items()}
    high = {name: p95(t) for name, t in times.items()}
    deep_sql = [s for s in capture_sql(engine, lambda: get(client, deep, HX_ROWS)) if "ORDER BY" in s[0]]

    print()
    print(f"database: {dialect}   customers: {args.customers:,}   outlets: {outlets}   "
          f"user: branch_head of {head_branch} (sees {in_scope:,})   deep page: after row {depth:,}   "
          f"rounds: {args.rounds}")
    if built_in is not None:
        print(f"built: seed_customers({args.customers:,}) took {built_in:.1f} s")
    print()
    print(f"{'case':<26} {'median ms':>10} {'p95 ms':>8} {'n':>3} {'SQL':>4}  rows")
    for name, _view, url in cases:
        rows = search_rows.get(url, "") if url in searches else (50 if name.startswith(("page", "deep", "bare", "SQL"))
                                                                 else "")
        print(f"{name:<26} {med[name]:>10.2f} {high[name]:>8.2f} {len(times[name]):>3} {n_sql[name] or '':>4}  {rows}")
    print(f"  (count fragment: {re.sub(r'<[^>]+>', '', count_html).strip()})")

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print()
    ratios = [
        ("deep / page 1, rows (HX)", med["deep, rows (HX)"] / med["page 1, rows (HX)"], GOAL_DEEP),
        ("deep / page 1, full page", med["deep, full page"] / med["page 1, full page"], GOAL_DEEP),
        ("ours / bare, page 1 rows", med["page 1, rows (HX)"] / med["bare Flask, page 1"], GOAL_BARE),
        ("ours / bare, deep rows", med["deep, rows (HX)"] / med["bare Flask, deep"], GOAL_BARE),
        ("ours / bare, deep full page", med["deep, full page"] / med["bare Flask, deep"], GOAL_BARE),
        ("OFFSET / keyset (SQL only)", med[f"SQL OFFSET {depth:,}"] / med["SQL keyset, deep"], None),
        ("OFFSET SQL / our deep rows", med[f"SQL OFFSET {depth:,}"] / med["deep, rows (HX)"], None),
    ]
    for label, ratio, goal in ratios:
        print(f"{label:<30} {ratio:>7.2f}x  " + (f"goal ≤ {goal}: {verdict(ratio <= goal)}" if goal else ""))
    lists = [n for n in med if n.startswith(("page 1", "deep"))]
    worst = max(lists, key=lambda n: high[n])
    print(f"{'p95 of list requests (max)':<30} {high[worst]:>7.2f} ms ({worst})  goal ≤ {GOAL_P95_MS:g}: "
          f"{verdict(high[worst] <= GOAL_P95_MS)}")
    slow = [n for n in med if n.startswith("search") and med[n] > GOAL_SEARCH_MS]
    print(f"{'search medians':<30} max {max(med[n] for n in med if n.startswith('search')):.2f} ms  "
          f"goal ≤ {GOAL_SEARCH_MS:g}{' (SQLite)' if dialect == 'sqlite' else ''}: "
          f"{verdict(not slow) if dialect == 'sqlite' else 'info'}")

    print()
    print("\n".join(diagnosis))
    print()
    print("deep page query (as the app sends it):")
    statement, parameters = deep_sql[0]
    print("  " + " ".join(statement.split()))
    print("  params:", parameters)
    print("plan:")
    for line in explain(engine, statement, parameters):
        print("  " + line)
    for url in searches + ["/customers/count"]:
        name = next(n for n, _v, u in cases if u == url)
        if med[name] > GOAL_SEARCH_MS or args.plans:
            captured = [s for s in capture_sql(engine, lambda url=url: get(client, url, HX_ROWS))
                        if "customer" in s[0] and "user_session" not in s[0]]
            print(f"\nplan of {url} ({med[name]:.1f} ms):")
            for line in explain(engine, *captured[-1]):
                print("  " + line)


if __name__ == "__main__":
    main()
