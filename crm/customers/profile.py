"""A customer's products held and family members (spec §2.3): checks, saves, removals and reveals, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from crm import audit
from crm.access import can
from crm.extensions import db
from crm.models import Customer
from crm.models.customers import (
    ASSET_CATEGORIES,
    PRODUCT_CATEGORIES,
    RELATIONS,
    RISK_PREFERENCES,
    SCHOOL_GRADES,
    CustomerProduct,
    FamilyMember,
)
from crm.timeutil import today_local
from crm.validators import ValidationError, parse_amount, validate_cn_mobile

MONEY_MAX = Decimal("9999999999999999.99")  # Numeric(18, 2)
CHILD_RELATIONS = ("child", "grandchild")  # school grade applies to these (S-15: kids campaign, study tours)
ACCOUNT_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-")


class ProfileError(ValueError):
    """`conflict`: the row was changed or deleted by someone else since the form was read (409, not 422)."""

    def __init__(self, errors: dict[str, str], conflict: bool = False) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
        self.conflict = conflict


def _stale() -> str:
    return _("该记录已被他人修改或删除，请刷新后重试（您的修改未保存）")


def _text(raw: dict[str, Any], name: str, limit: int, errors: dict[str, str]) -> str | None:
    value = (raw.get(name) or "").strip()
    if len(value) > limit:
        errors[name] = _("不能超过%(n)d个字", n=limit)
    return value or None


def _date(raw: dict[str, Any], name: str, errors: dict[str, str]) -> date | None:
    value = (raw.get(name) or "").strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        errors[name] = _("日期格式应为 年-月-日，例如 2026-11-23")
        return None


def _require_edit(actor: Any, customer: Customer) -> None:
    if not can("customers.edit", actor):
        raise ProfileError({"_": _("您没有编辑客户的权限")})


# ---------------------------------------------------------------- products held

def check_product(raw: dict[str, Any], existing: CustomerProduct | None = None) -> tuple[dict[str, Any], dict]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    category = (raw.get("category") or "").strip()
    if category not in PRODUCT_CATEGORIES:
        errors["category"] = _("请选择产品类别")
    values["category"] = category
    values["name"] = _text(raw, "name", 100, errors)
    if not values["name"] and "name" not in errors:
        errors["name"] = _("请输入产品名称")
    account = (raw.get("account_no") or "").strip().replace(" ", "").upper()
    if account:
        if not 6 <= len(account) <= 32 or not set(account) <= ACCOUNT_CHARS:
            errors["account_no"] = _("账号/卡号应为6至32位数字或字母")
        values["account_no"] = account
    else:  # the form never carries the full number: blank keeps the stored one
        values["account_no"] = existing.account_no if existing is not None else None
    amount = str(raw.get("amount") or "").strip()
    values["amount"] = None
    if amount:
        try:
            values["amount"] = parse_amount(amount, min_value=Decimal("0"), max_value=MONEY_MAX)
        except ValidationError as exc:
            errors["amount"] = exc.message
    values["opened_on"] = _date(raw, "opened_on", errors)
    values["matures_on"] = _date(raw, "matures_on", errors)
    if values["opened_on"] and values["matures_on"] and values["matures_on"] < values["opened_on"]:
        errors["matures_on"] = _("到期日不能早于开立日")
    values["notes"] = _text(raw, "notes", 200, errors)
    return values, errors


def products(customer: Customer) -> list[CustomerProduct]:
    """In the order of PRODUCT_CATEGORIES (deposits first, loans and services last), then as entered."""
    order = {k: i for i, k in enumerate(PRODUCT_CATEGORIES)}
    rows = db.session.execute(select(CustomerProduct).where(CustomerProduct.customer_id == customer.id)
                              .order_by(CustomerProduct.id)).scalars().all()
    return sorted(rows, key=lambda p: order.get(p.category, len(order)))


@dataclass(frozen=True)
class Holdings:
    """What the products panel sums up: assets by category (AUM composition) and loans."""

    by_category: list[tuple[str, Decimal, int]]  # (category, total amount, number of products)
    assets: Decimal
    loans: Decimal


def holdings(customer: Customer, rows: list[CustomerProduct] | None = None) -> Holdings:
    """Summed from the customer's products (`rows` when the caller already loaded them: a customer holds a few)."""
    totals: dict[str, list] = {}
    for p in products(customer) if rows is None else rows:  # already in category order
        entry = totals.setdefault(p.category, [Decimal("0"), 0])
        entry[0] += p.amount or 0
        entry[1] += 1
    by_category = [(c, t, n) for c, (t, n) in totals.items()]
    assets = sum((t for c, t, _n in by_category if c in ASSET_CATEGORIES), Decimal("0"))
    loans = sum((t for c, t, _n in by_category if c == "loan"), Decimal("0"))
    return Holdings(by_category, assets, loans)


def save_product(actor: Any, customer: Customer, raw: dict[str, Any],
                 product: CustomerProduct | None = None, version: int | None = None) -> CustomerProduct:
    _require_edit(actor, customer)
    _check_version(product, version)
    values, errors = check_product(raw, product)
    return _store(actor, customer, CustomerProduct, product, values, errors)


def remove_product(actor: Any, customer: Customer, product: CustomerProduct, version: int | None) -> None:
    _remove(actor, customer, product, version)


# ---------------------------------------------------------------- family members

def check_member(raw: dict[str, Any], existing: FamilyMember | None = None, *,
                 today: date | None = None) -> tuple[dict[str, Any], dict]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    relation = (raw.get("relation") or "").strip()
    if relation not in RELATIONS:
        errors["relation"] = _("请选择与客户的关系")
    values["relation"] = relation
    values["name"] = _text(raw, "name", 50, errors)
    if not values["name"] and "name" not in errors:
        errors["name"] = _("请输入姓名")
    gender = (raw.get("gender") or "").strip()
    values["gender"] = gender if gender in ("男", "女") else None
    values["birthday"] = _date(raw, "birthday", errors)
    today = today or today_local()
    if values["birthday"] and not date(1900, 1, 1) <= values["birthday"] <= today:
        errors["birthday"] = _("出生日期不能晚于今天，也不能早于1900年")
    grade = (raw.get("school_grade") or "").strip()
    if grade and grade not in SCHOOL_GRADES:
        errors["school_grade"] = _("选项无效")
    elif grade and relation and relation not in CHILD_RELATIONS:
        errors["school_grade"] = _("只有子女或孙辈可以填写年级")
    values["school_grade"] = grade or None
    values["school"] = _text(raw, "school", 100, errors)
    values["occupation"] = _text(raw, "occupation", 100, errors)
    risk = (raw.get("risk_preference") or "").strip()
    if risk and risk not in RISK_PREFERENCES:
        errors["risk_preference"] = _("选项无效")
    values["risk_preference"] = risk or None
    values["preferences"] = _text(raw, "preferences", 200, errors)
    phone = (raw.get("phone") or "").strip()
    values["phone"] = existing.phone if existing is not None else None  # blank keeps the stored number
    if phone:
        try:
            values["phone"] = validate_cn_mobile(phone)
        except ValidationError as exc:
            errors["phone"] = exc.message
    return values, errors


def members(customer: Customer) -> list[FamilyMember]:
    order = {k: i for i, k in enumerate(RELATIONS)}
    rows = db.session.execute(select(FamilyMember).where(FamilyMember.customer_id == customer.id)
                              .order_by(FamilyMember.id)).scalars().all()
    return sorted(rows, key=lambda m: (order.get(m.relation, 99), m.birthday or date.max, m.id))


def save_member(actor: Any, customer: Customer, raw: dict[str, Any], member: FamilyMember | None = None,
                version: int | None = None, *, today: date | None = None) -> FamilyMember:
    _require_edit(actor, customer)
    if customer.kind != "personal":
        raise ProfileError({"_": _("对公客户不登记家庭成员")})
    _check_version(member, version)
    values, errors = check_member(raw, member, today=today)
    return _store(actor, customer, FamilyMember, member, values, errors)


def remove_member(actor: Any, customer: Customer, member: FamilyMember, version: int | None) -> None:
    _remove(actor, customer, member, version)


# ---------------------------------------------------------------- shared

# model → (audit action prefix, id key in the audit detail, the column that says what the row is)
_AUDIT = {CustomerProduct: ("customer.product", "product_id", "category"),
          FamilyMember: ("customer.family", "member_id", "relation")}


def _check_version(row: Any, version: int | None) -> None:
    if row is not None and version != row.version:
        raise ProfileError({"_": _stale()}, conflict=True)


def _store(actor: Any, customer: Customer, model: type, row: Any, values: dict[str, Any], errors: dict) -> Any:
    """Add or change one row of the customer's, with one audit row naming the fields that changed."""
    if errors:
        raise ProfileError(errors)
    action, id_key, what = _AUDIT[model]
    is_new = row is None
    if is_new:
        row = model(customer_id=customer.id, created_by_id=actor.id, **values)
        db.session.add(row)
        db.session.flush()
        changed = sorted(k for k, v in values.items() if v is not None)
    else:
        changed = sorted(k for k, v in values.items() if getattr(row, k) != v)
        for key, value in values.items():
            setattr(row, key, value)
    audit.record(f"{action}.{'added' if is_new else 'updated'}", target=("customer", customer.id),
                 detail={id_key: row.id, what: getattr(row, what), "fields": changed})
    _commit()
    return row


def _remove(actor: Any, customer: Customer, row: Any, version: int | None) -> None:
    _require_edit(actor, customer)
    _check_version(row, version)
    action, id_key, what = _AUDIT[type(row)]
    audit.record(f"{action}.removed", target=("customer", customer.id),
                 detail={id_key: row.id, what: getattr(row, what), "name": row.name})
    db.session.delete(row)
    _commit()


def reveal(actor: Any, customer: Customer, row: CustomerProduct | FamilyMember) -> str:
    """A family member's full mobile or a product's full account number, for posts allowed to see full PII;
    audited like the customer's own reveal."""
    if not can("customers.reveal", actor):
        raise ProfileError({"_": _("您的岗位不能查看完整信息")})
    if isinstance(row, FamilyMember):
        audit.record("customer.family.revealed", target=("customer", customer.id),
                     detail={"member_id": row.id, "field": "phone"})
        value = row.phone
    else:
        audit.record("customer.product.revealed", target=("customer", customer.id),
                     detail={"product_id": row.id, "field": "account_no"})
        value = row.account_no
    db.session.commit()
    return value or ""


def _commit() -> None:
    try:
        db.session.commit()
    except StaleDataError as exc:  # changed or deleted by someone else between our read and our write
        db.session.rollback()
        raise ProfileError({"_": _stale()}, conflict=True) from exc
