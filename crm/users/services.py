"""Account services: validate, create, update, disable. Permission is checked before any write."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm import audit
from crm.access import assignable_posts, may_manage, scoped
from crm.auth import services as auth
from crm.extensions import db
from crm.models import Branch, Outlet, User
from crm.roles import AT_BRANCH, AT_NONE, AT_OUTLET, POST_BY_CODE, grade_allowed
from crm.validators import ValidationError, validate_cn_mobile, validate_id_card

STAFF_NO = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,19}$|^[0-9]{4,12}$")


class AccountError(ValueError):
    """Field → message errors for the form."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class AccountData:
    login: str
    name: str
    phone: str | None
    staff_no: str | None
    post: str
    outlet_id: int | None
    branch_id: int | None
    grade: str | None
    grade_effective_from: date | None


def check_login(login: str) -> str:
    """R-01: a 身份证号码 (fully validated) or a staff number."""
    login = auth.normalise_login(login)
    if len(login) >= 15 and login[:6].isdigit():
        try:
            return validate_id_card(login).number
        except ValidationError as exc:
            raise AccountError({"login": exc.message}) from exc
    if not STAFF_NO.match(login):
        raise AccountError({"login": _("登录名应为18位身份证号码，或字母开头的员工号（3-20位字母数字）")})
    return login


def validate(actor: Any, data: AccountData, *, existing: User | None = None) -> AccountData:
    """Check a submitted account against the actor's rights; forged ids and posts are refused here."""
    errors: dict[str, str] = {}
    if data.post not in assignable_posts(actor):
        errors["post"] = _("您不能设置该岗位")
    post = POST_BY_CODE.get(data.post)
    if data.phone:
        try:
            data.phone = validate_cn_mobile(data.phone)
        except ValidationError as exc:
            errors["phone"] = exc.message
    if post is not None:
        if post.at == AT_OUTLET:
            outlet = _scoped_outlet(actor, data.outlet_id)
            if outlet is None:
                errors["outlet_id"] = _("请选择您管辖范围内的网点")
            else:
                data.branch_id = outlet.branch_id
        elif post.at == AT_BRANCH:
            data.outlet_id = None
            if _scoped_branch(actor, data.branch_id) is None:
                errors["branch_id"] = _("请选择您管辖范围内的机构")
        elif post.at == AT_NONE:
            data.outlet_id = data.branch_id = None
        if not grade_allowed(data.post, data.grade):
            errors["grade"] = _("该岗位不能设置此客户经理等级")
    if not data.grade:
        data.grade, data.grade_effective_from = None, None
    if existing is None:
        try:
            data.login = check_login(data.login)
        except AccountError as exc:
            errors.update(exc.errors)
        else:
            if db.session.execute(select(User.id).where(User.login == data.login)).first():
                errors["login"] = _("该登录名已存在")
    if errors:
        raise AccountError(errors)
    return data


def _scoped_outlet(actor: Any, outlet_id: int | None) -> Outlet | None:
    if outlet_id is None:
        return None
    return db.session.execute(scoped(Outlet, actor).where(Outlet.id == outlet_id, Outlet.active)).scalar_one_or_none()


def _scoped_branch(actor: Any, branch_id: int | None) -> Branch | None:
    if branch_id is None:
        return None
    return db.session.execute(scoped(Branch, actor).where(Branch.id == branch_id)).scalar_one_or_none()


def create(actor: Any, data: AccountData) -> tuple[User, str]:
    """R-01: create the account with a random one-time password, returned once and never stored in clear."""
    data = validate(actor, data)
    password = auth.one_time_password()
    user = User(
        login=data.login, name=data.name.strip(), phone=data.phone, staff_no=data.staff_no or None,
        post=data.post, outlet_id=data.outlet_id, branch_id=data.branch_id, grade=data.grade,
        grade_effective_from=data.grade_effective_from, created_by_id=actor.id, active=True,
    )
    auth.set_password(user, password, must_change=True)
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", target=("user", user.id), detail={"post": data.post, "login": data.login})
    db.session.commit()
    return user, password


def update(actor: Any, user: User, data: AccountData, version: int) -> User:
    if not may_manage(actor, user):
        raise AccountError({"_": _("您不能修改该账号")})
    if version != user.version:
        raise AccountError({"_": _("该账号已被他人修改，请刷新页面后重新编辑（您的修改未保存）")})
    data = validate(actor, data, existing=user)
    old_post, old_outlet = user.post, user.outlet_id
    user.name, user.phone, user.staff_no = data.name.strip(), data.phone, data.staff_no or None
    user.post, user.outlet_id, user.branch_id = data.post, data.outlet_id, data.branch_id
    user.grade, user.grade_effective_from = data.grade, data.grade_effective_from
    audit.record("user.updated", target=("user", user.id))
    if old_post != user.post or old_outlet != user.outlet_id:
        audit.record("user.post_changed", target=("user", user.id),
                     detail={"from": [old_post, old_outlet], "to": [user.post, user.outlet_id]})
        # A new post means new rights: sessions opened under the old post end now.
        auth.end_sessions(user.id, "post_changed")
    db.session.commit()
    return user


def set_active(actor: Any, user: User, active: bool) -> None:
    if not may_manage(actor, user):
        raise AccountError({"_": _("您不能修改该账号")})
    user.active = active
    if not active:
        auth.end_sessions(user.id, "disabled")  # an old cookie of a disabled account stops working at once
    audit.record("user.enabled" if active else "user.disabled", target=("user", user.id))
    db.session.commit()


def reset_password(actor: Any, user: User) -> str:
    if not may_manage(actor, user):
        raise AccountError({"_": _("您不能修改该账号")})
    password = auth.one_time_password()
    auth.set_password(user, password, must_change=True)
    auth.end_sessions(user.id, "password_reset")
    audit.record("user.password_reset", target=("user", user.id))
    db.session.commit()
    return password
