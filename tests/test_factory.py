"""create_app, configuration from CRM_* variables, database settings, security headers, the HTMX shell, CLI."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from crm import create_app
from crm.config import ConfigError
from crm.extensions import db
from tests.conftest import PG_URL


def test_production_without_secret_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    monkeypatch.delenv("CRM_ENV", raising=False)
    with pytest.raises(ConfigError, match="CRM_SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_production_refuses_a_short_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="too short"):
        create_app({"INSTANCE_PATH": str(tmp_path), "CRM_PLUGINS": ""})


def test_production_with_secret_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("CRM_DATABASE_URL", "postgresql://crm@db.internal/crm")
    monkeypatch.setenv("CRM_IDLE_TIMEOUT_MINUTES", "15")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "CRM_PLUGINS": ""})
    assert app.config["SECRET_KEY"] == "x" * 40
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://crm@db.internal/crm"
    assert app.config["CRM_IDLE_TIMEOUT_MINUTES"] == 15
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_bad_number_in_environment_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_IDLE_TIMEOUT_MINUTES", "半小时")
    with pytest.raises(ConfigError, match="CRM_IDLE_TIMEOUT_MINUTES"):
        create_app({"INSTANCE_PATH": str(tmp_path), "CRM_ENV": "development"})


def test_unknown_environment_name_refused(tmp_path):
    with pytest.raises(ConfigError, match="CRM_ENV"):
        create_app({"INSTANCE_PATH": str(tmp_path), "CRM_ENV": "staging"})


def test_development_keeps_a_generated_secret_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    first = create_app({"INSTANCE_PATH": str(tmp_path), "CRM_ENV": "demo", "CRM_PLUGINS": ""})
    second = create_app({"INSTANCE_PATH": str(tmp_path), "CRM_ENV": "demo", "CRM_PLUGINS": ""})
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/crm.sqlite3"
    assert first.config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.skipif(bool(PG_URL), reason="SQLite connection settings")
def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(app):
    conn = db.session.connection()
    assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 15000


def test_foreign_keys_are_enforced(app):
    from sqlalchemy.exc import IntegrityError

    from crm.models import Outlet

    db.session.add(Outlet(code="X1", name="孤儿网点", branch_id=999, root_branch_id=999, outlet_type="urban"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_security_headers_on_every_page(client, org):
    for path in ("/login", "/static/css/app.css"):
        resp = client.get(path)
        resp.close()
        csp = resp.headers["Content-Security-Policy"]
        assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp and "object-src 'none'" in csp
        assert re.search(r"script-src 'self' 'nonce-[\w-]{24}' 'strict-dynamic'", csp)
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "same-origin"
    client.login("HA0001")
    page = client.get("/users")
    assert page.headers["Cache-Control"] == "no-store"
    with client.get("/static/css/app.css") as static:
        assert "no-store" not in static.headers.get("Cache-Control", "")


def test_htmx_shell_configuration(client, org):
    client.login("HA0001")
    page = client.get("/").get_data(as_text=True)
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', page).group(1)
    import json

    cfg = json.loads(config)
    assert cfg["allowEval"] is False and cfg["includeIndicatorStyles"] is False and cfg["selfRequestsOnly"] is True
    assert {"code": "422", "swap": True} in cfg["responseHandling"]
    assert 'hx-boost="true"' in page and "hx-headers='{&#34;X-CSRFToken&#34;: &#34;" in page
    assert "vendor/htmx/htmx.min.js" in page and "vendor/tabler/tabler.min.css" in page


def test_pages_load_nothing_from_outside(client, org):
    client.login("ADM001")
    for path in ("/login", "/", "/users", "/admin/org", "/admin/plugins", "/admin/audit", "/users/new"):
        body = client.get(path, follow_redirects=True).get_data(as_text=True)
        external = re.findall(r'(?:src|href)="(https?:)?//', body)
        assert external == [], path


def test_vendored_assets_are_served(client):
    for path in ("/static/vendor/htmx/htmx.min.js", "/static/vendor/tabler/tabler.min.css",
                 "/static/vendor/echarts/echarts.min.js", "/static/vendor/frappe-gantt/frappe-gantt.umd.js",
                 "/static/vendor/bootstrap-icons/fonts/bootstrap-icons.woff2", "/static/js/app.js"):
        with client.get(path) as resp:
            assert resp.status_code == 200, path


def test_ui_is_chinese_by_default_even_for_english_browsers(client):
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "员工登录" in page


def test_error_pages_are_chinese(client, org):
    client.login("RA0001")
    assert "页面不存在" in client.get("/no/such/page").get_data(as_text=True)
    assert "无权访问" in client.get("/admin/audit").get_data(as_text=True)


def test_check_command_reports_each_item(runner):
    result = runner.invoke(args=["check"])
    for label in ("数据库", "数据库结构", "PDF 中文字体", "密钥"):
        assert f"] {label}:" in result.output


def test_create_admin_command_issues_a_one_time_password(runner, app):
    from crm.models import User

    result = runner.invoke(args=["create-admin", "--login", "ROOT01", "--name", "总管理员"])
    assert result.exit_code == 0, result.output
    otp = result.output.strip().rsplit("：", 1)[1]
    user = db.session.execute(db.select(User).where(User.login == "ROOT01")).scalar_one()
    assert user.post == "admin" and user.must_change_password and len(otp) == 12
    again = runner.invoke(args=["create-admin", "--login", "ROOT01", "--name", "x"])
    assert again.exit_code != 0 and "已存在" in again.output


def test_every_script_carries_this_responses_nonce_and_nonces_differ(client, org):
    """Issue 8, promise 11: a nonce-based CSP — every <script> of the page has the nonce of its own response's header,
    a new one each time (an injected <script> without it does not run)."""
    client.login("HA0001")
    nonces = []
    for path in ("/", "/customers"):
        resp = client.get(path)
        header = re.search(r"'nonce-([\w-]+)'", resp.headers["Content-Security-Policy"]).group(1)
        html = resp.get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(f'nonce="{header}"' in tag for tag in scripts), scripts
        nonces.append(header)
    assert nonces[0] != nonces[1]
    error = client.get("/no-such-page")
    assert error.status_code == 404 and "'nonce-" in error.headers["Content-Security-Policy"]
