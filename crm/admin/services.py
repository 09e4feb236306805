"""Organisation services: branches and outlets, checked against the actor's scope before writing."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update

from crm import audit
from crm.access import can, scoped
from crm.extensions import db
from crm.models import Branch, Outlet, User
from crm.models.org import BRANCH_LEVELS, OUTLET_TYPES


class OrgError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _in_scope(model: type, actor: Any, object_id: int | None) -> Any:
    if object_id is None:
        return None
    return db.session.execute(scoped(model, actor).where(model.id == object_id)).scalar_one_or_none()


def save_branch(actor: Any, branch: Branch | None, values: dict[str, Any], version: int | None) -> Branch:
    if not can("org.manage", actor):
        raise OrgError({"_": _("您没有维护机构的权限")})
    errors: dict[str, str] = {}
    if values["level"] not in BRANCH_LEVELS:
        errors["level"] = _("层级无效")
    parent = _in_scope(Branch, actor, values.get("parent_id"))
    if values["level"] == "branch":
        if values.get("parent_id") or not actor.is_admin:
            errors["level"] = _("只有系统管理员可以新建分行；分行没有上级机构")
        parent = None
    elif parent is None:
        errors["parent_id"] = _("请选择您管辖范围内的上级机构")
    if branch is not None and parent is not None and parent.path.startswith(branch.path):
        errors["parent_id"] = _("上级机构不能是本机构或其下级机构")
    dup = select(Branch.id).where(Branch.code == values["code"])
    if branch is not None:
        dup = dup.where(Branch.id != branch.id)
        if version != branch.version:
            errors["_"] = _("该机构已被他人修改，请刷新页面后重新编辑（您的修改未保存）")
    if db.session.execute(dup).first():
        errors["code"] = _("该机构编码已存在")
    if errors:
        raise OrgError(errors)
    is_new = branch is None
    if is_new:
        branch = Branch(path="")
        db.session.add(branch)
    old_path = branch.path
    branch.code, branch.name, branch.level = values["code"], values["name"].strip(), values["level"]
    branch.president_name = (values.get("president_name") or "").strip() or None
    branch.active = bool(values.get("active", True))
    branch.parent_id = parent.id if parent else None
    db.session.flush()
    branch.path = (parent.path if parent else "/") + f"{branch.id}/"
    if not is_new and old_path != branch.path:
        _move_subtree(old_path, branch.path)
    audit.record("org.branch_saved", target=("branch", branch.id), detail={"code": branch.code, "new": is_new})
    db.session.commit()
    return branch


def _move_subtree(old: str, new: str) -> None:
    """Re-root the materialised paths below a moved node, and the denormalised 分行 of its outlets."""
    for node in db.session.execute(select(Branch).where(Branch.path.like(old + "%"), Branch.path != old)).scalars():
        node.path = new + node.path[len(old):]
    db.session.flush()
    for node in db.session.execute(select(Branch).where(Branch.path.like(new + "%"))).scalars():
        db.session.execute(update(Outlet).where(Outlet.branch_id == node.id).values(root_branch_id=node.root_id))


def save_outlet(actor: Any, outlet: Outlet | None, values: dict[str, Any], version: int | None) -> Outlet:
    if not can("org.manage", actor):
        raise OrgError({"_": _("您没有维护机构的权限")})
    errors: dict[str, str] = {}
    parent = _in_scope(Branch, actor, values.get("branch_id"))
    if parent is None:
        errors["branch_id"] = _("请选择您管辖范围内的机构")
    if values["outlet_type"] not in OUTLET_TYPES:
        errors["outlet_type"] = _("网点类型无效")
    dup = select(Outlet.id).where(Outlet.code == values["code"])
    if outlet is not None:
        dup = dup.where(Outlet.id != outlet.id)
        if version != outlet.version:
            errors["_"] = _("该网点已被他人修改，请刷新页面后重新编辑（您的修改未保存）")
    if db.session.execute(dup).first():
        errors["code"] = _("该网点编码已存在")
    if errors:
        raise OrgError(errors)
    is_new = outlet is None
    if is_new:
        outlet = Outlet()
        db.session.add(outlet)
    for key in ("code", "name", "outlet_type", "address", "phone", "area_m2", "has_reception_conditions",
                "high_counter_count", "low_counter_count", "corp_cash_tx_daily", "corp_noncash_tx_daily",
                "teller_std_volume", "active"):
        value = values.get(key)
        if isinstance(value, str):
            value = value.strip() or None
        if key.endswith(("_count", "_daily", "_volume")):
            value = value or 0
        setattr(outlet, key, value)
    outlet.branch_id, outlet.root_branch_id = parent.id, parent.root_id
    db.session.flush()
    if not is_new:
        # Staff follow their outlet to its new 支行.
        db.session.execute(update(User).where(User.outlet_id == outlet.id).values(branch_id=parent.id))
    audit.record("org.outlet_saved", target=("outlet", outlet.id), detail={"code": outlet.code, "new": is_new})
    db.session.commit()
    return outlet
