"""The optional second factor (TOTP) of administrators and branch heads: enrolment on the account page, the code
step of the login, switching it off (issue 8, promise 4)."""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import audit, qr
from crm.access import policy
from crm.auth import services, totp
from crm.auth.views import bp, complete_login
from crm.extensions import db, limiter
from crm.models import User
from crm.timeutil import utcnow
from crm.web import toast

# Who may turn the second factor on: the posts that administer users, plugins and whole 分行.
TOTP_POSTS = ("admin", "branch_admin", "branch_head")
PENDING_SECONDS = 300  # the code must follow the password within five minutes
MAX_FAILURES = 5  # then the password again


def qr_data_uri(text: str) -> str:
    """The enrolment QR code, four pixels per module with its quiet zone (allowed by the CSP's img-src data:)."""
    return qr.qr_data_uri(text, scale=4, quiet_zone=True)


def _pending() -> tuple[dict, User] | None:
    pending = session.get("totp_pending")
    if not isinstance(pending, dict):
        return None
    if int(utcnow().timestamp()) - int(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop("totp_pending", None)
        return None
    user = db.session.get(User, pending.get("uid"))
    if user is None or not user.active or not user.totp_secret:
        session.pop("totp_pending", None)
        return None
    return pending, user


def _pending_key() -> str:
    pending = session.get("totp_pending") or {}
    return f"totp:{pending.get('uid', '-')}"


@bp.route("/login/totp", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CRM_LOGIN_LIMIT_IP"], methods=["POST"],
               deduct_when=lambda response: response.status_code != 302)
@limiter.limit(lambda: current_app.config["CRM_LOGIN_LIMIT_ACCOUNT"], key_func=_pending_key, methods=["POST"],
               deduct_when=lambda response: response.status_code != 302)
@policy("public")
def login_totp():
    found = _pending()
    if found is None:
        return redirect(url_for("auth.login"))
    pending, user = found
    error = None
    if request.method == "POST":
        step = totp.verify(user.totp_secret, request.form.get("code", ""), last_step=user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            return complete_login(user, pending.get("next") or url_for("dashboard.index"), second_factor="totp")
        pending["failures"] = int(pending.get("failures", 0)) + 1
        audit.record("auth.totp_failed", result="fail", actor=user, target=("user", user.id), commit=True)
        if pending["failures"] >= MAX_FAILURES:
            session.pop("totp_pending", None)
            toast(_("动态验证码错误次数过多，请重新输入密码登录。"), "danger")
            return redirect(url_for("auth.login"))
        session["totp_pending"] = pending
        error = _("动态验证码不正确或已使用过，请输入验证器上当前显示的6位数字")
        return render_template("auth/totp_login.html", error=error), 401
    return render_template("auth/totp_login.html", error=error)


def _may_enrol() -> None:
    if current_user.post not in TOTP_POSTS:
        abort(404)


@bp.route("/account/totp", methods=["GET"])
@policy("login")
def totp_page():
    _may_enrol()
    user = current_user._get_current_object()
    context = {"enabled": bool(user.totp_secret), "error": None}
    if not user.totp_secret:
        secret = session.get("totp_enrol") or totp.new_secret()
        session["totp_enrol"] = secret
        uri = totp.provisioning_uri(secret, user.login)
        context.update(secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)), qr=qr_data_uri(uri))
    return render_template("auth/totp.html", **context)


@bp.route("/account/totp/enable", methods=["POST"])
@policy("login")
def totp_enable():
    _may_enrol()
    user = current_user._get_current_object()
    secret = session.get("totp_enrol")
    if user.totp_secret or not secret:
        return redirect(url_for("auth.totp_page"))
    step = totp.verify(secret, request.form.get("code", ""))
    if step is None:
        uri = totp.provisioning_uri(secret, user.login)
        return render_template("auth/totp.html", enabled=False, qr=qr_data_uri(uri),
                               secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                               error=_("验证码不正确：请用验证器扫描二维码后，输入它当前显示的6位数字")), 422
    user.totp_secret, user.totp_last_step = secret, step
    session.pop("totp_enrol", None)
    audit.record("auth.totp_enabled", target=("user", user.id))
    db.session.commit()
    toast(_("已启用动态验证码：以后登录需在密码之后输入验证器上的6位数字"))
    return redirect(url_for("auth.totp_page"))


@bp.route("/account/totp/disable", methods=["POST"])
@policy("login")
def totp_disable():
    _may_enrol()
    user = current_user._get_current_object()
    if not user.totp_secret:
        return redirect(url_for("auth.totp_page"))
    step = totp.verify(user.totp_secret, request.form.get("code", ""), last_step=user.totp_last_step)
    if not services.verify_password(user, request.form.get("password", "")) or step is None:
        return render_template("auth/totp.html", enabled=True,
                               error=_("密码或动态验证码不正确，动态验证码未停用")), 422
    user.totp_secret = user.totp_last_step = None
    audit.record("auth.totp_disabled", target=("user", user.id))
    db.session.commit()
    toast(_("已停用动态验证码"))
    return redirect(url_for("auth.totp_page"))


@bp.route("/users/<int:user_id>/totp/reset", methods=["POST"])
@policy(permission="users.manage")
def totp_reset(user_id: int):
    """A lost phone: the system administrator switches someone's second factor off (they enrol again)."""
    from crm.access import get_or_404
    from crm.roles import SCOPE_ALL

    if current_user.scope != SCOPE_ALL:
        audit.record("access.denied", target=("route", "auth.totp_reset"), result="denied", commit=True)
        abort(403)
    user = get_or_404(User, user_id)
    if user.totp_secret:
        user.totp_secret = user.totp_last_step = None
        services.end_sessions(user.id, "totp_reset")
        audit.record("auth.totp_reset", target=("user", user.id))
        db.session.commit()
        toast(_("已停用该员工的动态验证码，其登录会话已全部结束；请其重新启用"))
    return redirect(url_for("users.detail", user_id=user.id))
