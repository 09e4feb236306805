"""Write audit rows: who did what to which object, from where, with masked values."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.extensions import db
from crm.models import AuditLog

# Every action the core records, with its label for the audit page filter. Plugins add their own actions
# freely (named '<plugin>.<verb>'); unknown actions are shown by code.
ACTIONS = {
    "auth.login": _l("登录"),
    "auth.login_failed": _l("登录失败"),
    "auth.login_limited": _l("登录被限流"),
    "auth.logout": _l("退出"),
    "auth.password_changed": _l("修改密码"),
    "auth.session_expired": _l("会话超时"),
    "auth.totp_failed": _l("动态验证码错误"),
    "auth.totp_enabled": _l("启用动态验证码"),
    "auth.totp_disabled": _l("停用动态验证码"),
    "auth.totp_reset": _l("管理员停用员工的动态验证码"),
    "user.created": _l("创建账号"),
    "user.updated": _l("修改账号"),
    "user.post_changed": _l("岗位变更"),
    "user.disabled": _l("停用账号"),
    "user.enabled": _l("启用账号"),
    "user.password_reset": _l("重置密码"),
    "org.branch_saved": _l("保存机构"),
    "org.outlet_saved": _l("保存网点"),
    "plugin.toggled": _l("插件开关"),
    "plugin.settings": _l("插件设置"),
    "job.retried": _l("重试后台任务"),
    "job.deleted": _l("删除后台任务"),
    "access.denied": _l("越权访问"),
    "customer.created": _l("新建客户"),
    "customer.updated": _l("修改客户"),
    "customer.revealed": _l("查看完整客户信息"),
    "customer.claimed": _l("认领客户"),
    "customer.claim_contested": _l("重复认领"),
    "customer.claim_resolved": _l("裁定重复认领"),
    "customer.allocated": _l("分配客户"),
    "customer.handover": _l("离岗移交客户"),
    "customer.exported": _l("导出客户清单"),
    "customer.ledger_printed": _l("打印台账"),
    "customer.imported": _l("导入客户"),
    "customer.import_batch": _l("导入客户：一批已保存"),
    "customer.product.added": _l("登记持有产品"),
    "customer.product.updated": _l("修改持有产品"),
    "customer.product.removed": _l("删除持有产品"),
    "customer.product.revealed": _l("查看完整账号"),
    "customer.family.added": _l("登记家庭成员"),
    "customer.family.updated": _l("修改家庭成员"),
    "customer.family.removed": _l("删除家庭成员"),
    "customer.family.revealed": _l("查看家庭成员手机号"),
    "workdays.changed": _l("修改工作日历"),
    "workdays.seeded": _l("导入节假日数据"),
}

RESULTS = {"ok": _l("成功"), "fail": _l("失败"), "denied": _l("拒绝")}

TARGETS = {
    "user": _l("员工"), "user_account": _l("员工"), "outlet": _l("网点"), "branch": _l("机构"),
    "plugin": _l("插件"), "route": _l("功能"), "customer": _l("客户"), "workday": _l("工作日历"),
}


def _mask_detail(value: Any) -> Any:
    from crm.masking import mask_text

    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_detail(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_detail(v) for v in value]
    return value


def record(action: str, *, target: tuple[str, Any] | None = None, result: str = "ok",
           detail: dict[str, Any] | None = None, actor: Any = None, login: str | None = None,
           commit: bool = False) -> AuditLog:
    """Append one audit row. `commit=True` writes it at once (for denials, failures and logins, which
    must be kept even when the surrounding request rolls back)."""
    if action == "access.denied" and has_request_context():
        g.denial_audited = True  # the error page's backstop (web._audit_refused_write) adds no second row
    row = build(action, target=target, result=result, detail=detail, actor=actor, login=login)
    if commit:
        # A separate transaction, so the row survives whatever the request does next.
        with db.engine.begin() as conn:
            conn.execute(AuditLog.__table__.insert().values(**row_values(row)))
        return row
    db.session.add(row)
    return row


def build(action: str, *, target: tuple[str, Any] | None = None, result: str = "ok",
          detail: dict[str, Any] | None = None, actor: Any = None, login: str | None = None) -> AuditLog:
    """An audit row as `record` writes it, in no session: `record` adds it, or `row_values` gives it to a Core
    INSERT in a transaction of the caller's choosing."""
    from crm.masking import mask_login
    from crm.net import client_ip

    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user
    row = AuditLog(
        action=action,
        result=result,
        target_type=target[0] if target else None,
        target_id=str(target[1]) if target else None,
        detail=_mask_detail(detail or {}),
        ip=client_ip() if has_request_context() else None,
    )
    if actor is not None:
        row.actor_id = actor.id
        row.actor_login = mask_login(actor.login)
        row.outlet_id = actor.outlet_id
        row.branch_id = actor.outlet.branch_id if actor.outlet is not None else actor.branch_id
    elif login is not None:
        row.actor_login = mask_login(login)[:40]
    return row


def row_values(row: AuditLog) -> dict[str, Any]:
    """An unsaved audit row as column values for a Core INSERT, stamped now."""
    values = {c.name: getattr(row, c.key) for c in AuditLog.__table__.columns if c.name != "id"}
    values["created_at"] = values["created_at"] or _now()
    values["detail"] = values["detail"] or {}
    return values


def restamped(values: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
    """`row_values` of a row built once, for another event of the same actor: new detail, stamped now."""
    return {**values, "detail": _mask_detail(detail), "created_at": _now()}


def _now():
    from crm.timeutil import utcnow

    return utcnow()


def _plugin_label(code: str) -> Any:
    """A plugin's label for an action or target type (crm_register_audit_labels), or None."""
    from flask import current_app, has_app_context

    registry = current_app.extensions.get("crm") if has_app_context() else None
    return getattr(registry, "audit_labels", {}).get(code) if registry is not None else None


def action_label(code: str) -> str:
    return str(ACTIONS.get(code) or _plugin_label(code) or code)


def target_label(target_type: str | None, target_id: str | None) -> str:
    """'员工 #12', '插件 example', '功能 admin.audit_log' — how the audit page names an action's object."""
    if not target_type:
        return ""
    name = str(TARGETS.get(target_type) or _plugin_label(target_type) or target_type)
    if target_id is None:
        return name
    return f"{name} #{target_id}" if target_id.isdigit() else f"{name} {target_id}"
