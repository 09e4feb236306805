"""Requests/second of the dashboard and the user list, against a bare Flask route showing the same 50-row table."""

from __future__ import annotations

import argparse
import contextvars
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flask
import flask.testing
from sqlalchemy import event, select

from crm import create_app
from crm.auth.services import set_password
from crm.demo import DEMO_ADMIN, ensure_demo
from crm.extensions import db
from crm.masking import mask_login
from crm.models import Branch, Outlet, User
from crm.roles import GRADE_BY_CODE, POST_BY_CODE, grade_label, post_label

PASSWORD = "Bench-pass-2026"
GOAL = 0.5  # dashboard and user list: at least half the throughput of the bare Flask route
RUNS = 3

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
USER_ROWS = re.compile(r'<tbody id="user-rows">(.*?)</tbody>', re.S)
USER_LINK = re.compile(r'href="/users/(\d+)"')
LONG_COLUMNS = re.compile(r"SELECT (?:(?!SELECT | FROM ).){60,}? FROM")  # shortened in --show-sql
WIDGET_URL = re.compile(r'data-widget="[^"]*">.*?hx-get="([^"]+)"', re.S)

# The reference renders the same 50-row table as /users: the same columns, cell markup, classes and labels
# (precomputed), so the ratio measures what the app adds around it: session check, scoped query, layout, menu,
# filters and plugin hooks. Rendering the rows themselves is not "overhead" and is in both.
REFERENCE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>员工账号</title></head>
<body><table class="table card-table table-vcenter table-hover">
<thead><tr><th>姓名</th><th>登录名</th><th>岗位</th><th>等级</th><th>所属</th><th>状态</th><th>最近登录</th></tr></thead>
<tbody id="user-rows">
{% for u in rows %}
      <tr>
        <td><a href="/users/{{ u.id }}">{{ u.name }}</a></td>
        <td class="text-secondary font-monospace">{{ u.login }}</td>
        <td>{{ u.post }}</td>
        <td>{{ u.grade }}</td>
        <td>{{ u.outlet }}</td>
        <td>{% if u.active %}<span class="badge bg-green-lt">在用</span>{% else %}<span class="badge bg-secondary-lt">已停用</span>{% endif %}{% if u.must_change %} <span class="badge bg-yellow-lt">待改密</span>{% endif %}</td>
        <td class="text-secondary">{{ u.last_login }}</td>
      </tr>
{% endfor %}</tbody></table></body></html>
"""


def build_app(db_url: str | None, folder: Path) -> flask.Flask:
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(folder),
            "SQLALCHEMY_DATABASE_URI": db_url or f"sqlite:///{folder / 'bench.db'}",
            "CRM_PASSWORD_HASH": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context():
        if db_url:
            db.drop_all()
        db.create_all()
        ensure_demo(seed=1, echo=lambda s: None)
        admin = db.session.execute(select(User).where(User.login == DEMO_ADMIN)).scalar_one()
        set_password(admin, PASSWORD, must_change=False)
        db.session.commit()
    return app


def log_in(client: Any, login: str = DEMO_ADMIN) -> None:
    page = client.get("/login")
    token = CSRF.search(page.get_data(as_text=True))
    if page.status_code != 200 or token is None:
        sys.exit(f"GET /login: status {page.status_code}, csrf token found: {token is not None}")
    answer = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token.group(1)})
    if answer.status_code != 302:
        sys.exit(f"POST /login answered {answer.status_code}, expected 302")


class FreshClient(flask.testing.FlaskClient):
    """Each request in a context of its own, as in production: the bench's own app context (where `as_user` logged
    a user in) must not leak into the pages it times."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def as_user(app: flask.Flask, user_id: int, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call a service as the user with this id (in a request context of the bench's app)."""
    from flask_login import login_user

    with app.test_request_context():
        user = db.session.get(User, user_id)
        login_user(user)
        return fn(user, *args, **kw)


def median_ms(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(int(len(ordered) * 0.95) - 1, 0)] * 1000


def user_ids_on_page_one(html: str) -> list[int]:
    """Ids of the rows of the /users table (checked: 50 <tr>, one link each)."""
    body = USER_ROWS.search(html)
    if body is None:
        sys.exit('/users: no <tbody id="user-rows"> in the page')
    rows = body.group(1).count("<tr>")
    ids = [int(i) for i in USER_LINK.findall(body.group(1))]
    if rows != 50 or len(ids) != 50:
        sys.exit(f"/users: expected 50 rows, found {rows} <tr> and {len(ids)} user links")
    return ids


def reference_app(app: flask.Flask, ids: list[int]) -> flask.Flask:
    """A bare Flask app (no extensions, no login, no layout) showing the same 50-row table.

    `/` is the reference: per request, one plain SQL query for the same 50 users (the same columns and joins as
    the app's list) and the same row markup. `/preloaded` renders rows loaded once before timing: Flask + Jinja
    alone, shown for information."""
    with app.test_request_context():
        engine = db.engine
        posts = {code: str(post_label(code)) for code in POST_BY_CODE}
        grades = {code: str(grade_label(code)) for code in GRADE_BY_CODE}
    query = (
        select(User.id, User.name, User.login, User.post, User.grade, User.active, User.must_change_password,
               User.last_login_at, Outlet.name.label("outlet_name"), Branch.name.label("branch_name"))
        .outerjoin(Outlet, Outlet.id == User.outlet_id)
        .outerjoin(Branch, Branch.id == User.branch_id)
        .order_by(User.id)
        .limit(50)
    )

    def load() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "login": mask_login(r.login),
                    "post": posts.get(r.post, r.post),
                    "grade": grades.get(r.grade, ""),
                    "outlet": r.outlet_name or r.branch_name or "全行",
                    "active": r.active,
                    "must_change": r.must_change_password,
                    "last_login": r.last_login_at.strftime("%Y-%m-%d %H:%M") if r.last_login_at else "",
                }
                for r in conn.execute(query)
            ]

    with app.app_context():
        preloaded = load()
    if [r["id"] for r in preloaded] != ids:
        sys.exit("reference rows differ from the app's page one")

    bare = flask.Flask(__name__)
    compiled = bare.jinja_env.from_string(REFERENCE)  # compiled once, as the app's templates are

    @bare.route("/")
    def table() -> str:
        return flask.render_template(compiled, rows=load())

    @bare.route("/preloaded")
    def table_preloaded() -> str:
        return flask.render_template(compiled, rows=preloaded)

    return bare


def fetch(client: Any, url: str, headers: dict[str, str] | None = None) -> int:
    """One GET; anything but 200 stops the benchmark. Returns the body size."""
    response = client.get(url, headers=headers)
    if response.status_code != 200:
        sys.exit(f"GET {url} answered {response.status_code}")
    return len(response.data)


def rate(view: Callable[[], Any], seconds: float) -> float:
    """Calls of `view` per second over `seconds`."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        view()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def count_sql(engine: Any, view: Callable[[], Any]) -> tuple[int, list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        view()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements), statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each timed run (default 3)")
    parser.add_argument("--db", help="database URL (default: a fresh temporary SQLite file); it is dropped first")
    parser.add_argument("--show-sql", action="store_true", help="print the SQL statements of each page")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        folder = Path(tmp)
        app = build_app(args.db, folder)
        with app.app_context():
            engine = db.engine
            dialect = engine.dialect.name
        # Requests run outside any app context: each gets its own, as in production.
        client = app.test_client()
        log_in(client)

        users_html = client.get("/users").get_data(as_text=True)
        ids = user_ids_on_page_one(users_html)
        home_html = client.get("/").get_data(as_text=True)
        widgets = WIDGET_URL.findall(home_html)
        bare = reference_app(app, ids).test_client()
        htmx = {"HX-Request": "true"}

        def dashboard_view() -> int:
            return fetch(client, "/") + sum(fetch(client, w, htmx) for w in widgets)

        # name, one view, the app URLs it requests (for the SQL count), is the ≥ GOAL ratio required
        cases: list[tuple[str, Callable[[], int], tuple[str, ...], bool]] = [
            ("bare Flask: query + 50 rows", lambda: fetch(bare, "/"), (), False),
            ("bare, rows preloaded (info)", lambda: fetch(bare, "/preloaded"), (), False),
            ("/  (dashboard page)", lambda: fetch(client, "/"), ("/",), True),
            (f"dashboard view (1+{len(widgets)} req)", dashboard_view, ("/", *widgets), False),
            ("/users  (50 rows)", lambda: fetch(client, "/users"), ("/users",), True),
        ]
        bare_size = fetch(bare, "/")
        if bare_size == 0 or bare.get("/").get_data(as_text=True).count("<tr>") != 51:
            sys.exit("reference page does not have 50 rows")

        print(
            f"database: {dialect}   runs: median of {RUNS} x {args.seconds:g} s   "
            f"widgets: {', '.join(widgets) or 'none'}"
        )
        sql: dict[str, tuple[int, list[str]]] = {}
        for url in ("/", *widgets, "/users"):
            sql[url] = count_sql(engine, lambda u=url: fetch(client, u, htmx if u in widgets else None))

        sizes = [view() for _, view, _, _ in cases]
        for _, view, _, _ in cases:
            rate(view, min(1.0, args.seconds))  # warm-up: templates compiled, caches and pools filled
        # Rounds interleave the cases, so a burst of load on the machine hits all of them alike.
        runs: list[list[float]] = [[] for _ in cases]
        for _ in range(RUNS):
            for i, (_, view, _, _) in enumerate(cases):
                runs[i].append(rate(view, args.seconds))
        results = [(name, statistics.median(r), size) for (name, *_), r, size in zip(cases, runs, sizes, strict=True)]

        base = results[0][1]
        print()
        print(f"{'page':<28} {'req/s':>8} {'ms/req':>8} {'vs bare':>8} {'SQL':>4} {'bytes':>7}  goal")
        for (name, per_sec, size), (_, _view, urls, goal) in zip(results, cases, strict=True):
            ratio = per_sec / base
            n_sql = sum(sql[u][0] for u in urls)
            verdict = (f"≥ {GOAL}: {'ok' if ratio >= GOAL else 'MISSED'}") if goal else ""
            print(f"{name:<28} {per_sec:>8.1f} {1000 / per_sec:>8.2f} {ratio:>8.2f} {n_sql:>4} {size:>7}  {verdict}")
        print()
        print("SQL statements per request: " + ", ".join(f"{u} {n}" for u, (n, _) in sql.items()))
        if args.show_sql:
            for url, (_, statements) in sql.items():
                print(f"\n-- {url}")
                for statement in statements:
                    print("   " + LONG_COLUMNS.sub("SELECT … FROM", statement))
        if dialect != "sqlite":
            with app.app_context():
                db.drop_all()
        engine.dispose()


if __name__ == "__main__":
    main()
