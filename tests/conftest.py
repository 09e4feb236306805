"""Fixtures: an app per test on SQLite (default) or PostgreSQL (CRM_TEST_DATABASE_URL), clients, factories."""

from __future__ import annotations

import contextvars
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import text

from crm import create_app
from crm.extensions import db


def _reuse_url_builders() -> None:
    """Test speed only: each test builds an app, and werkzeug compiles two URL-builder functions per route (ast +
    compile(), ~70% of create_app with every plugin: 0.13 of 0.19 s). The function depends only on the rule's parsed
    parts, defaults and converters (it reads the rule through its `self` argument), so one compiled per distinct rule
    serves every app of the run. Production builds one app per process and is left alone."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    cache: dict[tuple, Any] = {}

    def cached(self, append_unknown: bool = True):
        key = (self.rule, tuple(self._trace), append_unknown, repr(sorted((self.defaults or {}).items())),
               tuple(sorted((k, type(c)) for k, c in self._converters.items())))
        found = cache.get(key)
        if found is None:
            found = cache[key] = compile_builder(self, append_unknown)
        return found

    Rule._compile_builder = cached


_reuse_url_builders()


def _worker_database(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets a database of its own beside the configured one (test → test_gw0, …),
    created on first use: workers truncate their tables between tests and must not see each other's rows."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False)


PG_URL = _worker_database(os.environ.get("CRM_TEST_DATABASE_URL") or None)
PASSWORD = "Kaihu-2026x"  # strong enough for the password policy; used by every factory user
TEST_PLUGINS = "tests.plugin_example"
# Every built-in plugin (plugins/<name>/): the schema template holds their tables too, so a test that installs one
# finds its tables, and truncating every declared table works in any test order.
BUILTIN_PLUGINS = [f"plugins.{p.name}" for p in sorted((Path(__file__).resolve().parents[1] / "plugins").iterdir())
                   if (p / "__init__.py").exists()]
ALL_PLUGINS = ",".join([TEST_PLUGINS, *BUILTIN_PLUGINS])
CSRF_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"|&#34;X-CSRFToken&#34;: &#34;([^&]+)&#34;')


def base_config(tmp_path: Path, url: str, **extra: Any) -> dict[str, Any]:
    cfg = {
        "TESTING": True,
        "CRM_ENV": "development",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "CRM_PASSWORD_HASH": "pbkdf2:sha256:1000",  # fast in tests; production uses scrypt
        "CRM_PLUGINS": TEST_PLUGINS,
        "CRM_LOGIN_LIMIT_ACCOUNT": "1000 per minute",
        "CRM_LOGIN_LIMIT_IP": "1000 per minute",
    }
    cfg.update(extra)
    return cfg


class SharedBytecodeCache(BytecodeCache):
    """Compiled templates shared by every app of the run: each test builds its own app, whose Jinja environment
    would otherwise lex, parse and compile every template it renders again. Keyed by name and source checksum."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = SharedBytecodeCache()


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as in production: its own app context, `g` and database session,
    even though the test itself holds an app context. Afterwards the test's own session ends its transaction,
    so the test reads what the request wrote."""

    def open(self, *args, **kwargs):
        if not has_app_context():  # a redirect followed inside the isolated request
            return super().open(*args, **kwargs)
        response = contextvars.Context().run(super().open, *args, **kwargs)
        db.session.commit()
        return response


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory) -> str | None:
    """Build the schema once per run: a SQLite file copied per test, or tables in the PostgreSQL test database."""
    if PG_URL:
        url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        app = create_app(base_config(tmp_path_factory.mktemp("pg"), url, CRM_PLUGINS=ALL_PLUGINS))
        with app.app_context():
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
            db.create_all()
            db.engine.dispose()
        return None
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.sqlite3"
    app = create_app(base_config(folder, f"sqlite:///{path}", CRM_PLUGINS=ALL_PLUGINS))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return str(path)


APPEND_ONLY = ("audit_log", "audit_seal")


def _one_database(item) -> bool:
    return bool(item.get_closest_marker("one_database") or item.get_closest_marker("browser")
                or "browser" in getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config, items):
    """Tests marked `one_database` check what does not depend on the database (a browser tour of the pages, hostile
    files refused before anything is stored, static analysis), and `browser` tests check what the browser does with
    the pages (scripts, htmx swaps, CSP) — the requests behind each step run on both databases in the web tests:
    bin/test runs both kinds in the SQLite pass only."""
    if not PG_URL:
        return
    dropped = [item for item in items if _one_database(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not _one_database(item)]


def _truncate_pg() -> None:
    """Empty every table and restart its ids. DELETE children-first instead of TRUNCATE: a test leaves a few rows in
    a few tables, and DELETE on an (almost) empty table costs microseconds where TRUNCATE replaces every table's
    files (0.12 s per test for ~90 tables). One round trip for the deletes, one for the sequences."""
    conn = db.session.connection()
    # audit_log and audit_seal are append-only (triggers refuse DELETE, design §7); TRUNCATE empties them.
    conn.exec_driver_sql("; ".join(f'DELETE FROM "{t.name}"' if t.name not in APPEND_ONLY else f'TRUNCATE "{t.name}"'
                                   for t in reversed(db.metadata.sorted_tables)))
    conn.exec_driver_sql("SELECT setval(quote_ident(schemaname) || '.' || quote_ident(sequencename), 1, false) "
                         "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL")
    db.session.commit()


@pytest.fixture
def make_app(tmp_path, schema_template):
    """Factory: an app on a fresh copy of the schema, with config overrides."""
    made = []

    def factory(**overrides: Any):
        if PG_URL:
            url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        else:
            path = tmp_path / f"db{len(made)}.sqlite3"
            shutil.copy(schema_template, path)
            url = f"sqlite:///{path}"
        app = create_app(base_config(tmp_path, url, **overrides))
        app.test_client_class = IsolatedClient
        app.jinja_env.bytecode_cache = TEMPLATES
        if PG_URL and not made:
            with app.app_context():
                _truncate_pg()
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Client:
    """The test client plus the CSRF token a browser would carry (from the page's hx-headers / hidden input)."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.token: str | None = None

    def refresh_token(self, path: str = "/login") -> str:
        body = self.http.get(path, follow_redirects=True).get_data(as_text=True)
        match = CSRF_RE.search(body)
        assert match, f"no CSRF token on {path}"
        self.token = match.group(1) or match.group(2)
        return self.token

    def get(self, path: str, **kw):
        return self.http.get(path, **kw)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token or self.refresh_token())
        return self.http.post(path, data=data, **kw)

    def login(self, login: str, password: str = PASSWORD, **kw):
        self.refresh_token("/login")
        resp = self.post("/login", {"login": login, "password": password}, **kw)
        if resp.status_code == 302:
            self.token = None  # the session was renewed at login: a new CSRF token comes with it
        return resp

    def logout(self):
        return self.post("/logout")

    def cookie(self) -> str | None:
        c = self.http.get_cookie(self.app.config["SESSION_COOKIE_NAME"])
        return c.value if c else None


@pytest.fixture
def client(app):
    return Client(app)


@pytest.fixture
def new_client(app):
    return lambda: Client(app)


# ---------------------------------------------------------------- factories

def make_branch(code: str, name: str, parent=None, level: str | None = None):
    from crm.models import Branch

    node = Branch(code=code, name=name, level=level or ("branch" if parent is None else "sub_branch"),
                  parent_id=parent.id if parent else None, path="")
    db.session.add(node)
    db.session.flush()
    node.path = (parent.path if parent else "/") + f"{node.id}/"
    db.session.commit()
    return node


def make_outlet(branch, code: str, name: str, outlet_type: str = "urban"):
    from crm.models import Outlet

    outlet = Outlet(code=code, name=name, branch_id=branch.id, root_branch_id=branch.root_id, outlet_type=outlet_type)
    db.session.add(outlet)
    db.session.commit()
    return outlet


def make_user(login: str, post: str, *, outlet=None, branch=None, name: str | None = None,
              password: str = PASSWORD, must_change: bool = False, active: bool = True, phone: str | None = None):
    from crm.auth.services import set_password
    from crm.models import User

    user = User(login=login, name=name or f"用户{login[-4:]}", post=post, outlet_id=outlet.id if outlet else None,
                branch_id=outlet.branch_id if outlet else (branch.id if branch else None), active=active, phone=phone)
    set_password(user, password, must_change=must_change)
    db.session.add(user)
    db.session.commit()
    return user


@dataclass
class Org:
    """Two 分行 (B1, B2); B1 has 支行 S1 with outlets A and A2; B2 has 支行 S2 with outlet B.
    Names of B-side people and places carry canary strings that must never appear on A-side pages."""

    b1: Any
    b2: Any
    s1: Any
    s2: Any
    a: Any
    a2: Any
    b: Any
    admin: Any
    branch_admin1: Any
    branch_admin2: Any
    head_a: Any
    rm_a: Any
    teller_a: Any
    lobby_a: Any
    head_a2: Any
    rm_a2: Any
    head_b: Any
    rm_b: Any
    marketing1: Any
    president1: Any


CANARY_B = "CANARYB"


@pytest.fixture
def org(app) -> Org:
    b1 = make_branch("B1", "甲分行")
    b2 = make_branch("B2", f"乙分行{CANARY_B}")
    s1 = make_branch("S1", "甲一支行", b1)
    s2 = make_branch("S2", f"乙一支行{CANARY_B}", b2)
    a = make_outlet(s1, "OA", "甲网点", "sub_branch_business_dept")
    a2 = make_outlet(s1, "OA2", "甲二网点", "township")
    b = make_outlet(s2, "OB", f"乙网点{CANARY_B}")
    return Org(
        b1=b1, b2=b2, s1=s1, s2=s2, a=a, a2=a2, b=b,
        admin=make_user("ADM001", "admin", name="管理员甲"),
        branch_admin1=make_user("BA0001", "branch_admin", branch=b1, name="分管一"),
        branch_admin2=make_user("BA0002", "branch_admin", branch=b2, name=f"分管二{CANARY_B}"),
        head_a=make_user("HA0001", "outlet_head", outlet=a, name="网点甲负责人"),
        rm_a=make_user("RA0001", "personal_rm", outlet=a, name="甲客户经理", phone="13812345678"),
        teller_a=make_user("TA0001", "low_counter_teller", outlet=a, name="甲柜员"),
        lobby_a=make_user("LA0001", "lobby_manager", outlet=a, name="甲大堂"),
        head_a2=make_user("HA0002", "outlet_head", outlet=a2, name="网点甲二负责人"),
        rm_a2=make_user("RA0002", "corporate_rm", outlet=a2, name="甲二客户经理"),
        head_b=make_user("HB0001", "outlet_head", outlet=b, name=f"乙负责人{CANARY_B}"),
        rm_b=make_user("RB0001", "personal_rm", outlet=b, name=f"乙客户经理{CANARY_B}", phone="13900001111"),
        marketing1=make_user("MK0001", "marketing", branch=b1, name="营销一"),
        president1=make_user("PR0001", "sub_branch_president", branch=s1, name="支行行长一"),
    )


@pytest.fixture
def enable_plugin(app):
    """enable_plugin(branch_or_None, name, on=True): switch a plugin for a 分行 (None = global row)."""

    def switch(branch, name: str, on: bool = True) -> None:
        registry = app.extensions["crm"]
        registry.set_enabled(name, branch.id if branch is not None else None, on, None)
        db.session.commit()

    return switch


def table_snapshot() -> dict[str, list]:
    """Every row of every table, for 'nothing changed' assertions."""
    snap = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(table.select().order_by(*table.primary_key.columns)).all()
        snap[table.name] = [tuple(r) for r in rows]
    return snap


# ---------------------------------------------------------------- browser tests (tests/browser/support.py)

@pytest.fixture
def live_url(app):
    """The test's app served on a free port of 127.0.0.1 for Chromium; skipped without Chromium, except in CI."""
    import threading

    from werkzeug.serving import make_server

    from tests.browser.support import CHROMIUM

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (bin/test installs Debian's chromium)")
        pytest.skip("Debian chromium not installed")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    from tests.browser.support import ARGS, CHROMIUM

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
