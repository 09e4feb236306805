"""Customer services: validate, create, update, list with keyset paging, reveal. Used by views, CLI and tests."""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from crm import audit
from crm.access import SCOPE_OWN, can, scope_filter, scoped
from crm.customers import search
from crm.extensions import db
from crm.models import Branch, Customer, Outlet, User
from crm.models.customers import ECO_MODULES, EMPLOYER_TYPES, KINDS, RISK_PREFERENCES, STATUSES
from crm.validators import ValidationError, parse_amount, validate_cn_mobile, validate_id_card, validate_uscc

PAGE_SIZE = 50
COUNT_CAP = 10_000
MAX_ID = 2**31 - 1  # ids are INTEGER: a larger cursor id would crash the query (PostgreSQL: out of range)


class CustomerError(ValueError):
    """field → message errors; `existing` is the in-scope duplicate to link to, if any."""

    def __init__(self, errors: dict[str, str], existing: Customer | None = None):
        super().__init__("; ".join(errors.values()))
        self.errors = errors
        self.existing = existing


# ---------------------------------------------------------------- create and edit

TEXT_FIELDS = ("name", "maintenance_target", "notes", "employer", "occupation", "product_needs", "family_info",
               "preferences", "legal_rep", "industry", "near_term_target", "tier")
CHOICE_FIELDS = {"kind": KINDS, "status": STATUSES, "risk_preference": RISK_PREFERENCES,
                 "family_risk_preference": RISK_PREFERENCES, "employer_type": EMPLOYER_TYPES, "eco_module": ECO_MODULES}
MONEY_FIELDS = ("deposit_balance", "deposit_daily_avg", "loan_balance", "aum", "annual_revenue")
BOOL_FIELDS = ("vip", "has_loan", "retired", "basic_account", "ebanking")
DATE_FIELDS = ("birthday", "registered_on")
MONEY_MAX = Decimal("9999999999999999.99")
# Each text column's length, from the model: checked before saving, so an over-long value gets a message.
TEXT_LIMITS = {name: Customer.__table__.c[name].type.length for name in TEXT_FIELDS
               if getattr(Customer.__table__.c[name].type, "length", None)}
PERSONAL_ONLY = ("birthday", "gender", "employer", "employer_type", "occupation", "retired", "risk_preference",
                 "family_risk_preference", "product_needs", "family_info", "preferences")
CORPORATE_ONLY = ("legal_rep", "registered_on", "industry", "annual_revenue", "eco_module", "basic_account",
                  "ebanking", "near_term_target")


def check_fields(raw: dict[str, Any], existing: Any = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The checks of one customer's fields that need no query — shared by the form (`clean`) and the import, so
    the two can never disagree. `existing` is anything with kind, cert_no and phone (a Customer, or the import's
    lightweight record): a blank ID or mobile keeps the stored one (the edit form never carries the full numbers).
    Text lengths are checked here too, so one over-long value never reaches the database."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    kind = existing.kind if existing is not None else (raw.get("kind") or "")
    if kind not in KINDS:
        errors["kind"] = _("请选择客户类型（个人或对公）")
    values["kind"] = kind
    for name in TEXT_FIELDS:
        text = (raw.get(name) or "").strip()
        values[name] = text or None
    if not values["name"]:
        errors["name"] = _("请输入客户名称")
    elif len(values["name"]) > 100:
        errors["name"] = _("客户名称不能超过100个字")
    for name, limit in TEXT_LIMITS.items():
        if name != "name" and values[name] and len(values[name]) > limit:
            errors[name] = _("不能超过%(n)d个字", n=limit)
    for name, choices in CHOICE_FIELDS.items():
        if name == "kind":
            continue
        choice = (raw.get(name) or "").strip()
        if choice and choice not in choices:
            errors[name] = _("选项无效")
        values[name] = choice or None
    values["status"] = values["status"] or "stock"
    for name in MONEY_FIELDS:
        text = str(raw.get(name) or "").strip()
        if not text:
            values[name] = None if name in ("aum", "annual_revenue") else Decimal("0")
            continue
        try:
            values[name] = parse_amount(text, min_value=Decimal("0"), max_value=MONEY_MAX)
        except ValidationError as exc:
            errors[name] = exc.message
    for name in BOOL_FIELDS:
        value = raw.get(name)
        values[name] = value if isinstance(value, bool) else str(value or "").strip().lower() in (
            "1", "y", "on", "true", "是")
    for name in DATE_FIELDS:
        value = raw.get(name)
        if isinstance(value, date) or not value:
            values[name] = value or None
            continue
        try:
            values[name] = datetime.strptime(str(value).strip(), "%Y-%m-%d").date()
        except ValueError:
            errors[name] = _("日期格式应为 年-月-日，例如 2026-11-23")
    gender = (raw.get("gender") or "").strip()
    values["gender"] = gender if gender in ("男", "女") else None

    cert = (raw.get("cert_no") or "").strip().upper()
    values["cert_no"] = None
    if not cert and existing is not None:
        values["cert_no"] = existing.cert_no  # blank keeps it, as in the edit form
    elif cert:
        try:
            if kind == "personal":
                card = validate_id_card(cert)
                values["cert_no"] = card.number
                values["birthday"] = values.get("birthday") or card.birth_date
                values["gender"] = values.get("gender") or card.gender
            elif kind == "corporate":
                values["cert_no"] = validate_uscc(cert)
        except ValidationError as exc:
            errors["cert_no"] = exc.message
    phone = (raw.get("phone") or "").strip()
    values["phone"] = existing.phone if existing is not None else None
    if phone:
        try:
            values["phone"] = validate_cn_mobile(phone)
        except ValidationError as exc:
            errors["phone"] = exc.message

    if kind == "personal":
        for name in CORPORATE_ONLY:
            values[name] = False if name in BOOL_FIELDS else None
    elif kind == "corporate":
        for name in PERSONAL_ONLY:
            values[name] = False if name in BOOL_FIELDS else None
    return values, errors


def clean(actor: Any, raw: dict[str, Any], *, existing: Customer | None = None) -> dict[str, Any]:
    """Validate submitted values (strings from a form or an import row) into typed column values."""
    values, errors = check_fields(raw, existing)

    # Where the customer belongs, and who maintains it: only inside the actor's scope.
    outlet_id = _int(raw.get("outlet_id"))
    outlet = None
    if outlet_id is not None and outlet_id == actor.outlet_id:
        outlet = actor.outlet  # one's own outlet, even for posts that see only their own customers
    elif outlet_id is not None:
        outlet = db.session.execute(scoped(Outlet, actor).where(Outlet.id == outlet_id)).scalar_one_or_none()
    elif existing is not None:
        outlet = existing.outlet
    elif actor.outlet_id:
        outlet = actor.outlet  # outlet staff create customers of their own outlet
    if outlet is None:
        errors["outlet_id"] = _("请选择您管辖范围内的网点")
    values["outlet_id"] = outlet.id if outlet else None
    maintainer_id = _int(raw.get("maintainer_id"))
    if actor.scope == SCOPE_OWN:
        maintainer_id = actor.id  # staff who see only their own customers maintain what they create
    if maintainer_id is not None and outlet is not None:
        ok = db.session.execute(select(User.id).where(
            User.id == maintainer_id, User.outlet_id == outlet.id, User.active)).first()
        if not ok:
            errors["maintainer_id"] = _("维护人必须是该网点的在岗员工")
    values["maintainer_id"] = maintainer_id

    if values.get("cert_no"):
        clash = db.session.execute(select(Customer).where(Customer.cert_no == values["cert_no"])).scalar_one_or_none()
        if clash is not None and (existing is None or clash.id != existing.id):
            visible = db.session.execute(scoped(Customer, actor).where(Customer.id == clash.id)).scalar_one_or_none()
            errors["cert_no"] = _("该证件号码的客户已存在") if visible else \
                _("该证件号码的客户已在本行登记，不在您的管辖范围内；如需办理请联系其所属网点")
            if visible:
                raise CustomerError(errors, existing=visible)
    if errors:
        raise CustomerError(errors)
    return values


def birth_md(birthday: date | None) -> int | None:
    """1990-03-15 → 315: the indexed key of "whose birthday falls in these days"."""
    return birthday.month * 100 + birthday.day if birthday else None


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


def _id(value: Any) -> int | None:
    """An id from the URL, or None: a number no INTEGER id can hold is dropped (PostgreSQL refuses it)."""
    number = _int(value)
    return number if number is not None and number <= MAX_ID else None


def create(actor: Any, raw: dict[str, Any]) -> Customer:
    if not can("customers.edit", actor):
        raise CustomerError({"_": _("您没有新建客户的权限")})
    values = clean(actor, raw)
    customer = Customer(**values, **search.keys(values["name"], values["phone"], values["cert_no"]),
                        birth_md=birth_md(values.get("birthday")), created_by_id=actor.id)
    db.session.add(customer)
    try:
        db.session.flush()
    except IntegrityError as exc:  # the same certificate saved a moment ago by someone else
        db.session.rollback()
        raise CustomerError({"cert_no": _("该证件号码的客户已在本行登记")}) from exc
    audit.record("customer.created", target=("customer", customer.id), detail={"outlet_id": customer.outlet_id})
    db.session.commit()
    _saved(customer, True)
    return customer


def update(actor: Any, customer: Customer, raw: dict[str, Any], version: int | None) -> Customer:
    """Optimistic locking: the form carries the version it was read at; a later save by someone else wins
    only once, and this one is refused with a clear message instead of silently overwriting it."""
    if not can("customers.edit", actor):
        raise CustomerError({"_": _("您没有编辑客户的权限")})
    if version != customer.version:
        raise CustomerError({"_": _("该客户已被他人修改，请刷新页面后重新编辑（您的修改未保存）")})
    values = clean(actor, raw, existing=customer)
    changed = sorted(k for k, v in values.items() if getattr(customer, k) != v)
    for key, value in values.items():
        setattr(customer, key, value)
    for key, value in search.keys(customer.name, customer.phone, customer.cert_no).items():
        setattr(customer, key, value)
    customer.birth_md = birth_md(customer.birthday)
    audit.record("customer.updated", target=("customer", customer.id), detail={"fields": changed})
    try:
        db.session.commit()
    except StaleDataError as exc:  # saved by someone else between our read and our write
        db.session.rollback()
        raise CustomerError({"_": _("该客户已被他人修改，请刷新页面后重新编辑（您的修改未保存）")}) from exc
    except IntegrityError as exc:
        db.session.rollback()
        raise CustomerError({"cert_no": _("该证件号码的客户已在本行登记")}) from exc
    _saved(customer, False)
    return customer


def _saved(customer: Customer, is_new: bool) -> None:
    """Tell the plugins enabled for the customer's 分行 (crm_customer_saved)."""
    from flask import current_app

    registry = current_app.extensions["crm"]
    enabled = registry.enabled_names(customer.outlet.root_branch_id)
    registry.hook_for_names("crm_customer_saved", enabled)(customer=customer, is_new=is_new)


def reveal(actor: Any, customer: Customer, field_name: str) -> str:
    """The full ID or phone number, for posts allowed to see it; every reveal is audited."""
    if field_name not in ("cert_no", "phone") or not can("customers.reveal", actor):
        raise CustomerError({"_": _("您的岗位不能查看完整信息")})
    audit.record("customer.revealed", target=("customer", customer.id), detail={"field": field_name})
    db.session.commit()
    return getattr(customer, field_name) or ""


# ---------------------------------------------------------------- the list

@dataclass
class Filters:
    q: str = ""
    outlet_id: int | None = None
    kind: str = ""
    status: str = ""
    tier: str = ""
    maintainer_id: int | None = None
    has_loan: str = ""  # "" | "yes" | "no" (no = 无贷户)
    deposit_min: Decimal | None = None
    deposit_max: Decimal | None = None
    sort: str = "name"
    errors: list[str] = field(default_factory=list)

    def args(self) -> dict[str, Any]:
        """The query string that reproduces this list (for links, the pager and the address bar)."""
        out = {"q": self.q, "outlet": self.outlet_id, "kind": self.kind, "status": self.status, "tier": self.tier,
               "maintainer": self.maintainer_id, "loan": self.has_loan,
               "min": self.deposit_min, "max": self.deposit_max, "sort": None if self.sort == "name" else self.sort}
        return {k: v for k, v in out.items() if v not in (None, "")}


SORTS = ("name", "deposit", "contact", "newest")


def parse_filters(args: Any) -> Filters:
    """URL parameters → filters; anything invalid is dropped with a message the page shows."""
    f = Filters()
    f.q = (args.get("q") or "").strip()[:40]
    f.outlet_id = _id(args.get("outlet"))
    f.kind = args.get("kind") if args.get("kind") in KINDS else ""
    f.status = args.get("status") if args.get("status") in STATUSES else ""
    f.tier = (args.get("tier") or "").strip()[:20]
    f.maintainer_id = _id(args.get("maintainer"))
    f.has_loan = args.get("loan") if args.get("loan") in ("yes", "no") else ""
    f.sort = args.get("sort") if args.get("sort") in SORTS else "name"
    for key, attr in (("min", "deposit_min"), ("max", "deposit_max")):
        text = (args.get(key) or "").strip()
        if text:
            try:
                setattr(f, attr, parse_amount(text, min_value=Decimal("0")))
            except ValidationError as exc:
                # The label is translated only when shown: a lookup on every keystroke's request costs more.
                label = _("存款下限") if key == "min" else _("存款上限")
                f.errors.append(f"{label}：{exc.message}")
    if f.q and search.condition(f.q) is None:
        f.errors.append(_("按号码查找请至少输入4位数字"))
    return f


def filtered(actor: Any, f: Filters):
    stmt = scoped(Customer, actor)
    cond = search.condition(f.q)
    if cond is not None:
        stmt = stmt.where(cond)
    if f.outlet_id:
        stmt = stmt.where(Customer.outlet_id == f.outlet_id)
    if f.kind:
        stmt = stmt.where(Customer.kind == f.kind)
    if f.status:
        stmt = stmt.where(Customer.status == f.status)
    if f.tier:
        stmt = stmt.where(Customer.tier == f.tier)
    if f.maintainer_id:
        stmt = stmt.where(Customer.maintainer_id == f.maintainer_id)
    if f.has_loan:
        stmt = stmt.where(Customer.has_loan.is_(f.has_loan == "yes"))
    if f.deposit_min is not None:
        stmt = stmt.where(Customer.deposit_balance >= f.deposit_min)
    if f.deposit_max is not None:
        stmt = stmt.where(Customer.deposit_balance <= f.deposit_max)
    return stmt


# How many names a filter picker lists before it asks the user to type: a 分行 has hundreds of staff and dozens
# of outlets (an administrator sees every one), too many to render as <option>s on every load of the list.
PICKER_LIMIT = 30


def _search(column: Any, find: str):
    # autoescape: a typed % or _ is matched literally, not as a LIKE wildcard that lists everyone.
    return column.contains(find, autoescape=True)


def maintainer_choices(actor: Any, find: str = "", limit: int | None = None) -> tuple[list[Any], bool]:
    """The maintainer filter's choices: active outlet staff in the actor's scope whose name contains `find`, as
    rows (id, label, hint) with their outlet as the hint (two 张伟 in two outlets must be told apart). At most
    `limit` (default PICKER_LIMIT), and whether there are more."""
    limit = limit or PICKER_LIMIT
    outlet = aliased(Outlet, name="staff_outlet")
    stmt = (scoped(User, actor)
            .with_only_columns(User.id, User.name.label("label"), outlet.name.label("hint"))
            .join_from(User, outlet, outlet.id == User.outlet_id)
            .where(User.active))
    if find:
        stmt = stmt.where(_search(User.name, find))
    found = db.session.execute(stmt.order_by(outlet.code, User.name, User.id).limit(limit + 1)).all()
    return found[:limit], len(found) > limit


def outlet_choices(actor: Any, find: str = "", limit: int | None = None) -> tuple[list[Any], bool]:
    """The outlet filter's choices: outlets in the actor's scope whose name contains `find` (or whose code starts
    with it), as rows (id, label, hint) with the 支行 as the hint."""
    limit = limit or PICKER_LIMIT
    branch = aliased(Branch, name="outlet_branch")
    # One's own outlet is always offered (posts that see only their own customers have no outlet scope).
    stmt = (select(Outlet.id, Outlet.name.label("label"), branch.name.label("hint"))
            .join_from(Outlet, branch, branch.id == Outlet.branch_id)
            .where(or_(scope_filter(Outlet, actor), Outlet.id == actor.outlet_id)))
    if find:
        stmt = stmt.where(_search(Outlet.name, find) | Outlet.code.startswith(find.upper(), autoescape=True))
    found = db.session.execute(stmt.order_by(Outlet.code, Outlet.id).limit(limit + 1)).all()
    return found[:limit], len(found) > limit


def chosen_name(actor: Any, model: type, object_id: int | None) -> str | None:
    """The name of the outlet or maintainer a list is filtered by, if the actor may see it."""
    if not object_id:
        return None
    if model is Outlet and object_id == actor.outlet_id:
        return actor.outlet.name  # one's own outlet (always offered) came with the session: no query
    return db.session.execute(scoped(model, actor).with_only_columns(model.name)
                              .where(model.id == object_id)).scalar_one_or_none()


@dataclass
class Page:
    rows: list[Any]  # Row objects with the LIST_COLUMNS attributes (not full Customer objects)
    next_cursor: str | None


# What a list row shows, and no more: 50 full Customer objects with their outlet and maintainer cost more to load
# than the query that finds them. Aliases keep the joins clear of the scope's `outlet` and `user_account`
# subqueries, which would otherwise be correlated with them.
_ListOutlet = aliased(Outlet, name="list_outlet")
_ListMaintainer = aliased(User, name="list_maintainer")
LIST_COLUMNS = (Customer.id, Customer.name, Customer.kind, Customer.status, Customer.vip, Customer.cert_no,
                Customer.phone, Customer.tier, Customer.deposit_balance, Customer.last_contact_at,
                Customer.name_pinyin, _ListOutlet.name.label("outlet_name"),
                _ListMaintainer.name.label("maintainer_name"))


def list_rows(stmt):
    """A filtered customer SELECT narrowed to the columns a list row shows, outlet and maintainer names joined."""
    return (stmt.with_only_columns(*LIST_COLUMNS)
            .join_from(Customer, _ListOutlet, _ListOutlet.id == Customer.outlet_id)
            .outerjoin_from(Customer, _ListMaintainer, _ListMaintainer.id == Customer.maintainer_id))


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> list[Any] | None:
    if not raw or len(raw) > 200:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, list) or not data or not _is_id(data[-1]):
        return None
    return data


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def _sort_value(column: Any, value: Any) -> Any:
    """A cursor's sort value checked against its column (a tampered cursor gives the first page, not a 500);
    None when it does not fit."""
    if column is Customer.id:
        return value if _is_id(value) else None
    if column is Customer.deposit_balance:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
        return amount if amount.is_finite() and abs(amount) < Decimal("1e18") else None
    return value if isinstance(value, str) else None


# Finished list statements, reused for the next page of the same list: building a statement and its cache key
# cost more than running it (≈0.5 ms of a 3 ms request). The cursor values are bound parameters; the scope and the
# filters are part of the key, so a statement is only ever reused for the same user, scope and filters.
_STATEMENTS: OrderedDict[tuple, Any] = OrderedDict()
_STATEMENTS_MAX = 256
_statements_lock = threading.Lock()


def _actor_key(actor: Any) -> tuple:
    """Everything `scope_filter(Customer, actor)` reads: the same key gives the same scope."""
    branch = actor.branch
    return actor.id, actor.scope, actor.active, actor.outlet_id, branch.path if branch is not None else None


def _after(column: Any, name: str) -> Any:
    return bindparam(name, type_=column.type)


def _list_statement(actor: Any, f: Filters, phase: str, size: int, build: Any) -> Any:
    key = (_actor_key(actor), f.q, f.outlet_id, f.kind, f.status, f.tier, f.maintainer_id, f.has_loan,
           f.deposit_min, f.deposit_max, f.sort, phase, size)
    with _statements_lock:
        stmt = _STATEMENTS.get(key)
        if stmt is not None:
            _STATEMENTS.move_to_end(key)
            return stmt
    # Outlet and maintainer names come in the same query (no query per row).
    stmt = build(list_rows(filtered(actor, f)))
    with _statements_lock:
        _STATEMENTS[key] = stmt
        while len(_STATEMENTS) > _STATEMENTS_MAX:
            _STATEMENTS.popitem(last=False)
    return stmt


def page(actor: Any, f: Filters, cursor: str | None, size: int = PAGE_SIZE) -> Page:
    """One page of the list, keyset-paginated on (sort value, id): a row-value comparison an index serves,
    so page 20,000 costs what page 1 costs. No COUNT here (see `count`)."""
    after = decode_cursor(cursor)
    if f.sort == "contact":
        return _page_by_contact(actor, f, after, size)
    if f.sort == "deposit":
        cols, desc = (Customer.deposit_balance, Customer.id), True
    elif f.sort == "newest":
        cols, desc = (Customer.id,), True
    else:
        cols, desc = (Customer.name_pinyin, Customer.id), False
    values = [_sort_value(c, v) for c, v in zip(cols, after, strict=True)] \
        if after is not None and len(after) == len(cols) else []
    ordered = list(cols)
    if f.q and cols[0] is Customer.name_pinyin:
        # With a search, the search-key index should find the few matches and a small sort order them. Left
        # indexable, PostgreSQL walked the whole name index hoping to meet "zs…" early (2 s at a million rows).
        ordered[0] = Customer.name_pinyin + ""
    paging = bool(values) and None not in values

    def build(stmt):
        if paging:
            bound = [_after(c, f"k{i}") for i, c in enumerate(cols)]
            key = tuple_(*ordered) if len(ordered) > 1 else ordered[0]
            bound_key = tuple_(*bound) if len(ordered) > 1 else bound[0]
            stmt = stmt.where(key < bound_key if desc else key > bound_key)
        return stmt.order_by(*[c.desc() if desc else c for c in ordered]).limit(size + 1)

    stmt = _list_statement(actor, f, "after" if paging else "first", size, build)
    rows = db.session.execute(stmt, {f"k{i}": v for i, v in enumerate(values)} if paging else None).all()
    more = len(rows) > size
    rows = rows[:size]
    nxt = encode_cursor([getattr(rows[-1], c.key) for c in cols]) if more and rows else None
    return Page(rows, nxt)


def _page_by_contact(actor: Any, f: Filters, after: list[Any] | None, size: int) -> Page:
    """Most recently contacted first; never-contacted customers follow, newest first. Two keyset phases,
    because NULLs have no place in a row-value comparison."""
    rows: list[Any] = []
    phase_nulls = after is not None and len(after) == 2 and after[0] is None
    if not phase_nulls:
        when = None
        if after is not None and len(after) == 2:
            try:
                when = datetime.fromisoformat(str(after[0]))
            except ValueError:
                when = None
        paging = when is not None

        def contacted(stmt):
            stmt = stmt.where(Customer.last_contact_at.is_not(None))
            if paging:
                stmt = stmt.where(tuple_(Customer.last_contact_at, Customer.id) < tuple_(
                    _after(Customer.last_contact_at, "k0"), _after(Customer.id, "k1")))
            return stmt.order_by(Customer.last_contact_at.desc(), Customer.id.desc()).limit(size + 1)

        stmt = _list_statement(actor, f, "contacted-after" if paging else "contacted", size, contacted)
        rows = db.session.execute(stmt, {"k0": when, "k1": after[1]} if paging else None).all()
        if len(rows) > size:
            rows = rows[:size]
            return Page(rows, encode_cursor([rows[-1].last_contact_at.isoformat(), rows[-1].id]))
    left = size - len(rows)

    def never(stmt):
        stmt = stmt.where(Customer.last_contact_at.is_(None))
        if phase_nulls:
            stmt = stmt.where(Customer.id < _after(Customer.id, "k0"))
        return stmt.order_by(Customer.id.desc()).limit(left + 1)

    stmt = _list_statement(actor, f, "never-after" if phase_nulls else "never", left, never)
    rest = db.session.execute(stmt, {"k0": after[1]} if phase_nulls else None).all()
    more = len(rest) > left
    rows += rest[:left]
    if not (more and rows):
        return Page(rows, None)
    # A page filled by contacted customers alone continues with the first never-contacted one.
    last = rows[-1]
    return Page(rows, encode_cursor([None, last.id if last.last_contact_at is None else MAX_ID]))


def count(actor: Any, f: Filters, cap: int = COUNT_CAP, extra: Any = None) -> tuple[int, bool]:
    """How many customers match, counted up to `cap` (then shown as "10,000+"): an exact COUNT of a
    million rows is not worth a wait on every keystroke. `extra`: one more condition (e.g. a saved list's)."""
    stmt = filtered(actor, f)
    if extra is not None:
        stmt = stmt.where(extra)
    inner = stmt.with_only_columns(Customer.id).limit(cap + 1).subquery()
    n = db.session.execute(select(func.count()).select_from(inner)).scalar_one()
    return min(n, cap), n > cap
