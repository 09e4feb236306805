"""Login, logout, password change, language choice."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from crm import audit
from crm.access import policy
from crm.auth import services
from crm.auth.forms import ChangePasswordForm, LoginForm
from crm.extensions import db, limiter
from crm.i18n import LOCALES, normalise
from crm.net import client_ip
from crm.timeutil import utcnow
from crm.web import toast

bp = Blueprint("auth", __name__)


def _account_key() -> str:
    return "login:" + services.normalise_login(request.form.get("login", ""))


def _failed(response) -> bool:
    # Only failed attempts count towards the limits; a successful login redirects.
    return response.status_code != 302


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CRM_LOGIN_LIMIT_IP"], methods=["POST"], deduct_when=_failed)
@limiter.limit(lambda: current_app.config["CRM_LOGIN_LIMIT_ACCOUNT"], key_func=_account_key,
               methods=["POST"], deduct_when=_failed)
@policy("public")
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = services.find_user(form.login.data)
        ok = services.verify_password(user, form.password.data)
        if ok and user is not None and user.active:
            if user.totp_secret:
                # Second factor: nothing is logged in until the code is right (crm/auth/views_totp.py).
                session["totp_pending"] = {"uid": user.id, "at": int(utcnow().timestamp()), "failures": 0,
                                           "next": _safe_next(request.args.get("next"))}
                return redirect(url_for("auth.login_totp"))
            return complete_login(user, _safe_next(request.args.get("next")))
        # One message for unknown login, wrong password and disabled account: nothing to enumerate.
        error = _("登录名或密码错误")
        audit.record("auth.login_failed", result="fail", login=form.login.data,
                     actor=user if user is not None else None, commit=True)
        return render_template("auth/login.html", form=form, error=error), 401
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, error=error), status


def complete_login(user, target: str, **detail):
    """The password (and, when enrolled, the one-time code) was right: a new server-side session, audited."""
    services.start_session(user, client_ip(), request.user_agent.string)
    login_user(user)
    user.last_login_at = utcnow()
    audit.record("auth.login", actor=user, target=("user", user.id), detail=detail or None)
    db.session.commit()
    if user.must_change_password:
        return redirect(url_for("auth.change_password"))
    return redirect(target)


def login_rate_limited():
    """The 429 answer of the login form (also when the password is right: the limit is checked first)."""
    audit.record("auth.login_limited", result="denied", login=request.form.get("login", ""), commit=True)
    form = LoginForm()
    error = _("登录失败次数过多，账号或本机已被暂时锁定，请 15 分钟后再试。")
    return render_template("auth/login.html", form=form, error=error), 429


@bp.route("/logout", methods=["POST"])
@policy("login", before_password_change=True)
def logout():
    token = session.get("sid")
    services.end_sessions(current_user.id, "logout", only_token=token)
    audit.record("auth.logout", target=("user", current_user.id))
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@policy("login", before_password_change=True)
def change_password():
    form = ChangePasswordForm()
    problems: list[str] = []
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not services.verify_password(user, form.current.data):
            form.current.errors.append(_("当前密码不正确"))
        else:
            problems = services.password_problems(form.new.data, user.login, user.name)
            if form.new.data == form.current.data:
                problems.append(_("新密码不能与当前密码相同"))
            if not problems:
                services.set_password(user, form.new.data, must_change=False)
                # Every other session of this user ends; this one continues under a fresh token.
                services.end_sessions(user.id, "password_changed")
                services.start_session(user, client_ip(), request.user_agent.string)
                login_user(user)
                audit.record("auth.password_changed", target=("user", user.id))
                db.session.commit()
                toast(_("密码已修改"))
                return redirect(url_for("dashboard.index"))
            form.new.errors.extend(problems)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/password.html", form=form, forced=current_user.must_change_password), status


@bp.route("/lang", methods=["POST"])
@policy("public")
def set_language():
    lang = normalise(request.form.get("lang", ""))
    if lang in LOCALES:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))


from crm.auth import views_totp  # noqa: E402, F401 - the second-factor routes live on this blueprint
