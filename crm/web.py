"""Request pipeline: database pragmas, the policy gate, security headers, errors, template helpers."""

from __future__ import annotations

import json
import secrets
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, abort, current_app, g, redirect, render_template, request, session, url_for
from flask.ctx import has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf
from jinja2 import pass_context
from markupsafe import Markup
from sqlalchemy import event
from werkzeug.routing import IntegerConverter
from werkzeug.utils import cached_property

from crm import audit, i18n
from crm.access import can, current_scope_label, policy_of
from crm.extensions import db, login_manager
from crm.i18n import LOCALES

# CSP (issue 8, promise 11): nonce-based scripts — a fresh nonce per response on every <script> the page loads,
# 'strict-dynamic' so the scripts htmx re-creates from swapped content run because htmx (trusted) creates them;
# 'self' stays as the fallback for browsers without strict-dynamic. No inline script or style, no eval; vendored
# Tabler uses data: SVG images.
CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'strict-dynamic'; style-src 'self'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def csp_nonce() -> str:
    """This response's script nonce (made on first use; templates put it on every <script>)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def configure_database(app: Flask) -> None:
    """SQLite gets WAL, foreign keys and a busy timeout on every connection (design §4)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # A writer waits this long for the one SQLite write lock before "database is locked" reaches the user.
        # 5 s ran out once in 1,600 mixed writes (8 threads, a loaded 2-core machine, tests/security/
        # test_concurrency.py); 15 s leaves room and still answers before gunicorn's 30 s worker timeout.
        cur.execute("PRAGMA busy_timeout=15000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def _without_nul(values: Any, storage: type) -> Any:
    if not any("\x00" in k or "\x00" in v for k, v in values.items(multi=True) if isinstance(v, str)):
        return values
    return storage([(k.replace("\x00", ""), v.replace("\x00", "") if isinstance(v, str) else v)
                    for k, v in values.items(multi=True)])


class Request(Flask.request_class):
    """NUL characters are dropped from query and form values (issue 8, promise 3): no person types one, and
    PostgreSQL text cannot hold one — a NUL in any field or search used to end in a 500 there."""

    @cached_property
    def args(self) -> Any:
        return _without_nul(super().args, self.parameter_storage_class)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        if "form" in self.__dict__:
            self.__dict__["form"] = _without_nul(self.__dict__["form"], self.parameter_storage_class)


def register_core(app: Flask) -> None:
    app.request_class = Request
    from crm.activity.views import bp as activity_bp
    from crm.admin.views import bp as admin_bp
    from crm.auth.views import bp as auth_bp
    from crm.customers import (
        claim_views,  # noqa: F401 - adds the 包户包效 routes to the customers blueprint
        export_views,  # noqa: F401 - adds the export route
        import_views,  # noqa: F401 - adds the import routes
        ledger_views,  # noqa: F401 - adds the ledger routes
        profile_views,  # noqa: F401 - adds the products-held and family-member panels
    )
    from crm.customers.views import bp as customers_bp
    from crm.dashboard.views import bp as dashboard_bp
    from crm.users.views import bp as users_bp

    for bp in (auth_bp, dashboard_bp, admin_bp, users_bp, customers_bp, activity_bp):
        app.register_blueprint(bp)

    from crm.auth.services import load_session_user

    login_manager.user_loader(load_session_user)
    login_manager.session_protection = None  # sessions are server-side; the token is checked on every request

    @login_manager.unauthorized_handler
    def _unauthorized():
        return _to_login()

    app.before_request(enforce_policy)
    app.after_request(security_headers)
    _register_errors(app)

    from crm.cli import register_commands

    register_commands(app)


def _to_login():
    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if request.headers.get("HX-Request"):
        # An htmx request of an expired session: send the whole page to the login form.
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def enforce_policy():
    """Every route has a declared policy; none → 404 (default deny). Runs before every view."""
    if request.routing_exception is not None:
        return None  # 404/405 from routing: Flask raises it next
    pol = policy_of(request.endpoint)
    if pol is None:
        if request.endpoint is not None:
            current_app.logger.error("route %s has no access policy; refusing it", request.endpoint)
        abort(404)
    if pol.kind == "public":
        return None
    if not current_user.is_authenticated:
        return _to_login()
    registry = current_app.extensions["crm"]
    plugin = registry.blueprint_plugin.get(request.blueprint or "")
    if plugin is not None and plugin not in registry.enabled_for(current_user):
        abort(404)  # a plugin switched off for the user's 分行 leaves no trace, not even a 403
    if current_user.must_change_password and not pol.before_password_change:
        return redirect(url_for("auth.change_password"))
    if pol.kind == "permission" and not can(pol.permission):
        audit.record("access.denied", target=("route", request.endpoint), result="denied", commit=True)
        abort(403)
    return None


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` in routes: an id fits the databases' 32-bit integer keys. A larger number is no id — 404 like any
    id that does not exist, instead of a PostgreSQL overflow error (500)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,  # noqa: A002 — werkzeug's names
                 max: int | None = 2**31 - 1, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def security_headers(response):
    h = response.headers
    # A view may set its own value of any of these (setdefault), so only the missing ones are added; one pass
    # over the headers instead of one per header.
    present = {key.lower() for key in h.keys()}
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            h.add(name, value)
    if "content-security-policy" not in present:
        h.add("Content-Security-Policy", CSP.format(nonce=csp_nonce()))
    if current_app.config.get("SESSION_COOKIE_SECURE") and "strict-transport-security" not in present:
        h.add("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static" and not (request.endpoint or "").endswith(".static"):
        # Pages can show personal data: never cached by the browser or a proxy.
        h["Cache-Control"] = "no-store"
        if "vary" not in present:
            h.add("Vary", "Cookie, HX-Request")
    toasts = g.get("toasts")
    if toasts:
        existing = json.loads(h.get("HX-Trigger", "{}") or "{}")
        existing["crm:toast"] = toasts
        h["HX-Trigger"] = json.dumps(existing)  # ensure_ascii: header values must be latin-1
    return response


def toast(message: str, level: str = "success") -> None:
    """Show a toast after an htmx request (HX-Trigger), or a flash message on a full page load."""
    from flask import flash

    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        g.setdefault("toasts", []).append({"message": message, "level": level})
    else:
        flash(message, level)


def _register_errors(app: Flask) -> None:
    def page(status: int, title: str, message: str):
        if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
            g.setdefault("toasts", []).append({"message": message, "level": "danger"})
            return render_template("errors/fragment.html", title=title, message=message), status
        return render_template("errors/error.html", status=status, title=title, message=message), status

    @app.errorhandler(400)
    def _bad_request(e):
        return page(400, _("请求无效"), _("请求的参数不正确，请返回后重试。"))

    @app.errorhandler(CSRFError)
    def _csrf(e):
        return page(400, _("页面已过期"), _("安全校验未通过（页面可能已过期），请刷新页面后重试。"))

    @app.errorhandler(403)
    def _forbidden(e):
        _audit_refused_write()
        return page(403, _("无权访问"), _("您的岗位没有访问此功能的权限。如需开通，请联系系统管理员。"))

    @app.errorhandler(404)
    def _not_found(e):
        _audit_refused_write()
        return page(404, _("页面不存在"), _("您要找的页面不存在，或不在您的权限范围内。"))

    @app.errorhandler(405)
    def _method(e):
        return page(405, _("请求方式不正确"), _("请通过页面上的按钮操作。"))

    @app.errorhandler(413)
    def _too_large(e):
        return page(413, _("文件过大"), _("上传的文件超过大小限制。"))

    @app.errorhandler(429)
    def _too_many(e):
        if request.endpoint == "auth.login":
            from crm.auth.views import login_rate_limited

            return login_rate_limited()
        return page(429, _("操作过于频繁"), _("操作过于频繁，请稍后再试。"))

    @app.errorhandler(500)
    def _server_error(e):
        db.session.rollback()
        return page(500, _("系统错误"), _("系统处理请求时出错，已记录。请稍后重试，或联系系统管理员。"))


def _audit_refused_write() -> None:
    """A refused state change that no check has audited yet (a view's own lookup ended in 404 or 403): one denial
    row, so every refused write is on record (SECURITY.md). Refused reads are audited where the object exists
    (`access.get_or_404`); a GET of a missing id is not an attempt on anyone's data."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.endpoint is None or g.get("denial_audited"):
        return
    if not current_user.is_authenticated:
        return
    audit.record("access.denied", target=("route", request.endpoint), result="denied",
                 detail={"args": {k: str(v) for k, v in (request.view_args or {}).items()}}, commit=True)


def configure_templates(app: Flask) -> None:
    from crm import masking, money
    from crm.roles import GRADES, POSTS, grade_label, post_label

    registry = app.extensions["crm"]

    def nav_items():
        if not current_user.is_authenticated:
            return []
        cache = g.setdefault("crm_nav", None)
        if cache is None:
            user = current_user._get_current_object()  # once, not through the proxy for every item
            items = registry.gather("crm_nav_items", user=user, branch=current_branch())
            cache = g.crm_nav = [i for i in items if not i.permission or can(i.permission, user)]
        return cache

    zone = ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])

    def local_time(value, fmt: str = "%Y-%m-%d %H:%M"):
        # Numeric formats read the same in Chinese and English; strftime is far cheaper than Babel per row.
        return value.replace(tzinfo=UTC).astimezone(zone).strftime(fmt) if value else ""

    app.jinja_env.globals.update(
        url_for=_template_url_for(app),
        can=can,
        csp_nonce=csp_nonce,
        nav_items=nav_items,
        csrf_token=generate_csrf,
        scope_label=current_scope_label,
        locales=LOCALES,
        current_locale=lambda: str(get_locale()),
        post_label=post_label,
        post_labels=lambda: {p.code: i18n.label(p.label) for p in POSTS},
        grade_labels=lambda: {g.code: i18n.label(g.label) for g in GRADES},
        action_label=audit.action_label,
        target_label=audit.target_label,
        grade_label=grade_label,
        csrf_header=lambda: json.dumps({"X-CSRFToken": generate_csrf()}),
    )
    app.jinja_env.filters.update(
        localtime=local_time,
        mask_id=masking.mask_id_card,
        mask_mobile=masking.mask_mobile,
        mask_account=masking.mask_account,
        mask_login=masking.mask_login,
        yuan=money.format_yuan,
        # Balances in lists: exact, with thousands separators (a rounded "5.00 万" would hide 49,999.99).
        amount=lambda v: "" if v is None else f"{money.round_half_up(money.to_decimal(v)):,.2f}",
        cn_amount=money.format_cn_amount,
    )
    app.jinja_env.add_extension("jinja2.ext.do")
    # Flask-Babel's own callables look the translations up again for every string; these use a per-request cache.
    app.jinja_env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)

    @app.context_processor
    def _bound_gettext():
        # `_()` in a page resolves `gettext` from the context: bind the request's translations once per render.
        found = i18n.translations()

        @pass_context
        def gettext(__context, __string, **variables):
            rv = found.ugettext(__string)
            if __context.eval_ctx.autoescape:
                rv = Markup(rv)  # nosec B704  # msgid/translation from our own catalogs; %-variables are escaped
            # Most strings have no placeholder: skip the (escaping) format, dozens of times per page.
            return rv % variables if variables or "%" in rv else rv

        # `_` directly, not through the i18n extension's alias (one call less, ~50 strings per page).
        return {"gettext": gettext, "_": gettext}

    @app.context_processor
    def _session_notice():
        return {"session_expired": session.pop("expired", False) if request.endpoint == "auth.login" else False}


def _template_url_for(app: Flask):
    """`url_for` for templates. Links without arguments (the menu, the header) and static files are the same on
    every page: each is built once per host and script root instead of ~25 times per page. Anything else, and
    any app with URL-default callbacks, builds as usual."""
    built: dict[tuple, str] = {}
    static_only = frozenset({"filename"})

    def url_for(endpoint: str, **values: Any) -> str:
        if (endpoint.startswith(".") or (values and values.keys() != static_only) or app.url_default_functions
                or not has_request_context()):  # PDFs and mails render outside requests
            return app.url_for(endpoint, **values)
        environ = request.environ
        key = (endpoint, values.get("filename"), environ.get("HTTP_HOST"), environ.get("SCRIPT_NAME"))
        url = built.get(key)
        if url is None:
            url = app.url_for(endpoint, **values)
            if len(built) > 1000:  # Host headers are the client's to choose: stay bounded
                built.clear()
            built[key] = url
        return url

    return url_for


def current_branch():
    """The 分行 (root Branch) of the current user, or None for the system administrator."""
    from crm.models import Branch

    if not current_user.is_authenticated or current_user.root_branch_id is None:
        return None
    return db.session.get(Branch, current_user.root_branch_id)
