"""金融生态图 services: what an outlet's map shows (R-03/R-04), the sortable table and its Excel export, entry edits,
adding and removing customers, assignment by enterprise size (R-05/A-02) and claims (熟客认领).

Plain functions over the session (no request object), shared by the views, the tests and the benchmark. Every read
goes through `crm.access.scope_filter(Customer, user)`; outlet staff additionally see the unclaimed targets of their
own outlet (the map's claim pool, like `crm.customers.claims.claim_pool`)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from io import BytesIO
from types import SimpleNamespace
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from crm import audit
from crm.access import can, scope_filter, scoped
from crm.customers import search
from crm.customers.services import decode_cursor, encode_cursor
from crm.excel import Column, write_sheet
from crm.extensions import db
from crm.i18n import label
from crm.masking import mask_id_card, mask_mobile
from crm.models import Customer, CustomerClaim, Outlet, User
from crm.models.customers import ECO_MODULES, MONEY, STATUSES
from crm.timeutil import utcnow
from crm.validators import ValidationError, parse_amount
from plugins.target_map.models import TAG_LABELS, TAGS, TargetMapEntry

PLUGIN = "target_map"
MODULES: tuple[str, ...] = tuple(ECO_MODULES)  # R-03, in the order the map draws them
PERSPECTIVES = ("stock", "target")
PAGE_SIZE = 50
MAX_EXPORT = 50_000  # an outlet's map holds thousands of entries, not more
MAX_ASSIGN = 10_000  # targets one 按规模分配 may hand out (a bound on the work of one request)
WRITE_BATCH = 500  # ids per UPDATE … WHERE id IN (…)
CANDIDATES = 20
MONEY_MAX = Decimal("9999999999999999.99")
INT_MAX = 2**31 - 1

Owner = aliased(User, name="tm_owner")


class MapError(ValueError):
    """A refused change; `message` is shown to the user. `conflict` marks an optimistic-lock failure (409)."""

    def __init__(self, message: str, *, field: str = "_", conflict: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.conflict = conflict


# ---------------------------------------------------------------- who sees which outlet and which entries

def outlet_choices(user: Any) -> list[Outlet]:
    """The outlets whose map the user may open: the outlets of their scope, and always their own outlet."""
    own = Outlet.id == user.outlet_id if user.outlet_id else false()
    return list(db.session.execute(select(Outlet).where(or_(scope_filter(Outlet, user), own))
                                   .order_by(Outlet.code, Outlet.id).limit(2000)).scalars())


def visible_outlet(user: Any, outlet_id: Any) -> Outlet | None:
    """The outlet if the user may open its map (scope, or their own outlet); None otherwise."""
    try:
        key = int(outlet_id)
    except (TypeError, ValueError):
        return None
    if key < 1 or key > INT_MAX:
        return None
    own = Outlet.id == user.outlet_id if user.outlet_id else false()
    return db.session.execute(select(Outlet).where(Outlet.id == key, or_(scope_filter(Outlet, user), own))
                              ).scalar_one_or_none()


def default_outlet(user: Any) -> Outlet | None:
    """Where the map opens: one's own outlet; for branch staff the first outlet of their scope that has a map."""
    if user.outlet_id:
        return db.session.get(Outlet, user.outlet_id)
    with_map = db.session.execute(
        select(TargetMapEntry.outlet_id).join(Outlet, Outlet.id == TargetMapEntry.outlet_id)
        .where(scope_filter(Outlet, user)).order_by(TargetMapEntry.outlet_id).limit(1)).scalar()
    if with_map is not None:
        return db.session.get(Outlet, with_map)
    choices = outlet_choices(user)
    return choices[0] if choices else None


def pool_condition(user: Any):
    """The map's claim pool: unclaimed targets of the user's own outlet (熟客认领, R-05). Outlet staff see these
    beside their own scope so that they can claim them."""
    if not user.outlet_id:
        return false()
    return and_(Customer.outlet_id == user.outlet_id, Customer.maintainer_id.is_(None), Customer.status == "target")


def visible_condition(user: Any):
    return or_(scope_filter(Customer, user), pool_condition(user))


def _entries(user: Any, outlet_id: int, *columns: Any):
    """SELECT `columns` of the outlet's map entries the user may see (the customer joined)."""
    # The customer's own outlet is checked too (an entry follows its customer), written `+ 0`: the scope repeats
    # `outlet_id = …`, and PostgreSQL, seeing the same condition twice, guessed a few hundred rows and scanned the
    # outlet's whole customer list instead of looking up the map's customers by id.
    return (select(*columns).select_from(TargetMapEntry)
            .join(Customer, Customer.id == TargetMapEntry.customer_id)
            .where(TargetMapEntry.outlet_id == outlet_id, (Customer.outlet_id + 0) == outlet_id,
                   visible_condition(user)))


def entry_for(user: Any, entry_id: Any, *, pool: bool = True) -> TargetMapEntry | None:
    """One entry, if its customer is in the user's scope (or, with `pool`, in the user's claim pool)."""
    try:
        key = int(entry_id)
    except (TypeError, ValueError):
        return None
    if key < 1 or key > INT_MAX:
        return None
    cond = visible_condition(user) if pool else scope_filter(Customer, user)
    return db.session.execute(select(TargetMapEntry).join(Customer, Customer.id == TargetMapEntry.customer_id)
                              .where(TargetMapEntry.id == key, cond)).scalar_one_or_none()


def in_scope(user: Any, customer_id: int) -> bool:
    return db.session.execute(scoped(Customer, user).with_only_columns(Customer.id).where(Customer.id == customer_id)
                              ).first() is not None


def entry_of_customer(customer_id: int) -> TargetMapEntry | None:
    return db.session.execute(select(TargetMapEntry).where(TargetMapEntry.customer_id == customer_id)
                              ).scalar_one_or_none()


# ---------------------------------------------------------------- the map's data

def node_value():
    """Node size (R-04): deposits of a stock customer, the expected scale of a target."""
    return case((Customer.status == "stock", Customer.deposit_balance),
                else_=func.coalesce(TargetMapEntry.expected_scale, 0))


def node_yuan():
    """The node value in whole yuan, rounded in the database (ROUND is half away from zero on both SQLite and
    PostgreSQL: 四舍五入 for amounts, which are never negative): no Decimal per node in Python."""
    return cast(func.round(node_value()), BigInteger)


def map_data(user: Any, outlet: Outlet) -> dict[str, Any]:
    """The chart's data, lean: one array per node (5,000 nodes are ≈250 KB of JSON, not megabytes).

    node = [entry id, customer id, name, module index, perspective (0 stock, 1 target), tag index (-1 none;
    0 保 1 抢 2 挖), owner index into `people` (-1 unassigned), value in whole yuan, flags]
    flags: 1 = the user may open the customer's page, 2 = contested claim (重复认领待裁定), 4 = unclaimed target."""
    open_flag = case((scope_filter(Customer, user), 1), else_=0)
    stmt = _entries(user, outlet.id, TargetMapEntry.id, Customer.id, Customer.name, Customer.eco_module,
                    Customer.status, TargetMapEntry.tag, Customer.maintainer_id, node_yuan(),
                    Customer.duplicate_claim, open_flag.label("open")).order_by(TargetMapEntry.id)
    module_index = {m: i for i, m in enumerate(MODULES)}
    tag_index = {t: i for i, t in enumerate(TAGS)}
    person_index: dict[int, int] = {}
    nodes: list[list[Any]] = []
    # Plain rows through Core (no ORM row processing); the staff names in a second, small query (joined in, the
    # planner's guess of a handful of rows made PostgreSQL scan the staff table once per customer).
    for (eid, cid, name, module, status, tag, owner_id, value, contested,
         can_open) in db.session.connection().execute(stmt):
        if owner_id is None:
            owner = -1
        else:
            owner = person_index.get(owner_id)
            if owner is None:
                owner = person_index[owner_id] = len(person_index)
        target = status == "target"
        flags = (1 if can_open else 0) | (2 if contested else 0) | (4 if target and owner_id is None else 0)
        nodes.append([eid, cid, name, module_index.get(module or "", -1), 1 if target else 0,
                      tag_index.get(tag or "", -1), owner, int(value or 0), flags])
    names = staff_names(person_index)
    return {
        "outlet": outlet.name,
        "modules": [label(ECO_MODULES[m]) for m in MODULES],
        "tags": [label(TAG_LABELS[t]) for t in TAGS],
        "people": [names.get(uid, "") for uid in person_index],  # in index order (dicts keep insertion order)
        "nodes": nodes,
    }


def staff_names(ids: Any) -> dict[int, str]:
    """id → name of the given staff (the maintainers of a page of entries: a few hundred at most)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())


@dataclass
class Summary:
    """Entries per module and perspective, as the map's header cards show them."""

    cells: dict[tuple[str, str], int] = field(default_factory=dict)
    unassigned_targets: int = 0
    contested: int = 0

    def count(self, module: str | None = None, perspective: str | None = None) -> int:
        return sum(n for (m, p), n in self.cells.items()
                   if (module is None or m == module) and (perspective is None or p == perspective))

    @property
    def total(self) -> int:
        return self.count()


def summary(user: Any, outlet: Outlet) -> Summary:
    rows = db.session.execute(
        _entries(user, outlet.id, Customer.eco_module, Customer.status,
                 func.count(), func.sum(case((and_(Customer.status == "target", Customer.maintainer_id.is_(None)),
                                              1), else_=0)),
                 func.sum(case((Customer.duplicate_claim.is_(True), 1), else_=0)))
        .group_by(Customer.eco_module, Customer.status)).all()
    s = Summary()
    for module, status, n, unassigned, contested in rows:
        s.cells[(module or "", status)] = n
        s.unassigned_targets += int(unassigned or 0)
        s.contested += int(contested or 0)
    return s


# ---------------------------------------------------------------- the table: filters, sorting, keyset paging

@dataclass
class TableFilters:
    module: str = ""
    perspective: str = ""
    tag: str = ""  # "" | keep | grab | dig | none
    q: str = ""
    sort: str = "value"
    direction: str = "desc"

    def args(self) -> dict[str, str]:
        out = {"module": self.module, "perspective": self.perspective, "tag": self.tag, "q": self.q,
               "sort": "" if self.sort == "value" else self.sort,
               "dir": "" if self.direction == SORTS[self.sort][2] else self.direction}
        return {k: v for k, v in out.items() if v}

    def toggled(self, sort: str) -> dict[str, str]:
        """The query string of a column header: sort by it, or flip the direction if it is the current sort."""
        args = {k: v for k, v in self.args().items() if k not in ("sort", "dir")}
        if sort != "value":
            args["sort"] = sort
        default = SORTS[sort][2]
        direction = ("asc" if self.direction == "desc" else "desc") if sort == self.sort else default
        if direction != default:
            args["dir"] = direction
        return args


def _sorts() -> dict[str, tuple[Any, str, str]]:
    """The allow-list of sort keys: name → (SQL expression, kind of its cursor value, default direction).
    Every expression is NOT NULL (coalesced), so a keyset row-value comparison covers every row."""
    return {
        "value": (func.coalesce(node_value(), 0), "num", "desc"),
        "name": (Customer.name_pinyin, "str", "asc"),
        "module": (func.coalesce(Customer.eco_module, ""), "str", "asc"),
        "perspective": (Customer.status, "str", "asc"),
        "tag": (func.coalesce(TargetMapEntry.tag, ""), "str", "asc"),
        "owner": (func.coalesce(Owner.name, ""), "str", "asc"),
        "revenue": (func.coalesce(Customer.annual_revenue, -1), "num", "desc"),
        "tax_rank": (func.coalesce(TargetMapEntry.tax_rank, INT_MAX), "int", "asc"),
        "sales_rank": (func.coalesce(TargetMapEntry.sales_rank, INT_MAX), "int", "asc"),
        "trade_rank": (func.coalesce(TargetMapEntry.trade_rank, INT_MAX), "int", "asc"),
        "added": (TargetMapEntry.id, "int", "desc"),
    }


SORTS = _sorts()


def parse_filters(args: Any) -> TableFilters:
    """URL parameters → filters. Anything not on the allow-lists is ignored (never reaches the SQL)."""
    f = TableFilters()
    f.module = args.get("module") if args.get("module") in ECO_MODULES else ""
    f.perspective = args.get("perspective") if args.get("perspective") in PERSPECTIVES else ""
    f.tag = args.get("tag") if args.get("tag") in (*TAGS, "none") else ""
    f.q = (args.get("q") or "").strip()[:40]
    f.sort = args.get("sort") if args.get("sort") in SORTS else "value"
    f.direction = args.get("dir") if args.get("dir") in ("asc", "desc") else SORTS[f.sort][2]
    return f


def _filtered(stmt, f: TableFilters):
    if f.module:
        stmt = stmt.where(Customer.eco_module == f.module)
    if f.perspective:
        stmt = stmt.where(Customer.status == f.perspective)
    if f.tag == "none":
        stmt = stmt.where(TargetMapEntry.tag.is_(None))
    elif f.tag:
        stmt = stmt.where(TargetMapEntry.tag == f.tag)
    cond = search.condition(f.q) if f.q else None
    if cond is not None:
        stmt = stmt.where(cond)
    return stmt


TABLE_COLUMNS = (TargetMapEntry.id.label("entry_id"), TargetMapEntry.version.label("entry_version"),
                 TargetMapEntry.tag, TargetMapEntry.expected_scale, TargetMapEntry.source, TargetMapEntry.tax_rank,
                 TargetMapEntry.sales_rank, TargetMapEntry.trade_rank, Customer.id.label("customer_id"),
                 Customer.name, Customer.cert_no, Customer.phone, Customer.eco_module, Customer.status,
                 Customer.maintainer_id, Customer.maintenance_target, Customer.near_term_target,
                 Customer.deposit_balance, Customer.annual_revenue, Customer.duplicate_claim, Customer.industry)


def table_columns(user: Any) -> tuple[Any, ...]:
    """TABLE_COLUMNS and whether the user may open each customer's page (an unclaimed target of one's outlet
    is visible on the map for claiming, but its page is not in a personal RM's scope)."""
    return (*TABLE_COLUMNS, case((scope_filter(Customer, user), 1), else_=0).label("can_open"))


@dataclass
class TablePage:
    rows: list[Any]
    next_cursor: str | None


def _cursor_value(kind: str, value: Any) -> Any:
    """A cursor's sort value checked against its kind (a tampered cursor gives the first page, not a 500)."""
    if kind == "str":
        return value if isinstance(value, str) and len(value) <= 200 else None
    if kind == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= INT_MAX else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and abs(amount) < Decimal("1e17") else None


def _typed(kind: str, value: Any):
    return literal(value, {"str": String(), "int": Integer(), "num": MONEY}[kind])


def table_page(user: Any, outlet: Outlet, f: TableFilters, cursor: str | None, size: int = PAGE_SIZE) -> TablePage:
    """One page of the table, keyset-paginated on (sort value, entry id): no OFFSET, no COUNT."""
    expr, kind, _default = SORTS[f.sort]
    desc = f.direction == "desc"
    stmt = _filtered(_entries(user, outlet.id, *table_columns(user), expr.label("sort_value")), f)
    if f.sort == "owner":  # only this order needs the names in the query; the others name the 50 rows after
        stmt = stmt.outerjoin(Owner, Owner.id == Customer.maintainer_id)
    after = decode_cursor(cursor)
    if after is not None and len(after) == 2:
        value = _cursor_value(kind, after[0])
        if value is not None:
            key = tuple_(expr, TargetMapEntry.id)
            bound = tuple_(_typed(kind, value), literal(after[1], Integer()))
            stmt = stmt.where(key < bound if desc else key > bound)
    order = (expr.desc(), TargetMapEntry.id.desc()) if desc else (expr, TargetMapEntry.id)
    rows = db.session.connection().execute(stmt.order_by(*order).limit(size + 1)).all()
    more = len(rows) > size
    rows = with_owner_names(rows[:size])
    nxt = None
    if more and rows:
        last = rows[-1].sort_value
        if kind == "num":
            last = str(Decimal(str(last)).normalize()) if last is not None else "0"
        nxt = encode_cursor([last, rows[-1].entry_id])
    return TablePage(rows, nxt)


def with_owner_names(rows: list[Any]) -> list[SimpleNamespace]:
    """Table rows with `owner_name` (维护责任人/营销人), named in one query for the page."""
    names = staff_names(r.maintainer_id for r in rows)
    return [SimpleNamespace(**r._mapping, owner_name=names.get(r.maintainer_id)) for r in rows]


def table_row(user: Any, entry: TargetMapEntry) -> SimpleNamespace:
    """One entry as a table row (after an edit)."""
    stmt = _entries(user, entry.outlet_id, *table_columns(user)).where(TargetMapEntry.id == entry.id)
    return with_owner_names(db.session.connection().execute(stmt).all())[0]


def table_count(user: Any, outlet: Outlet, f: TableFilters) -> int:
    return db.session.execute(_filtered(_entries(user, outlet.id, func.count()), f)).scalar_one()


# ---------------------------------------------------------------- Excel export (formula-safe, masked, audited)

def export_columns() -> list[Column]:
    return [Column(_("客户名称"), 28, "plain"), Column(_("统一社会信用代码"), 22), Column(_("生态图模块"), 12, "plain"),
            Column(_("存量/目标"), 9, "plain"), Column(_("保抢挖"), 7, "plain"),
            Column(_("维护责任人/营销人"), 14, "plain"), Column(_("维护目标/近期拓展目标"), 32, "plain"),
            Column(_("存款余额（元）"), 16, "money"), Column(_("预计规模（元）"), 16, "money"),
            Column(_("年销售收入（元）"), 18, "money"), Column(_("纳税排名"), 9, "int"),
            Column(_("销售排名"), 9, "int"), Column(_("进出口排名"), 10, "int"), Column(_("来源"), 18, "plain"),
            Column(_("联系电话"), 14), Column(_("行业"), 14, "plain")]


def _export_row(r: Any, full: bool, modules: dict, statuses: dict, tags: dict, names: dict) -> tuple:
    target = r.status == "target"
    return (r.name, r.cert_no if full else mask_id_card(r.cert_no), modules.get(r.eco_module or "", ""),
            statuses.get(r.status, r.status), tags.get(r.tag or "", ""), names.get(r.maintainer_id),
            r.near_term_target if target else r.maintenance_target,
            None if target else r.deposit_balance, r.expected_scale, r.annual_revenue, r.tax_rank,
            r.sales_rank, r.trade_rank, r.source, r.phone if full else mask_mobile(r.phone), r.industry)


def export(user: Any, outlet: Outlet, f: TableFilters) -> tuple[BytesIO, int, bool]:
    """The outlet's entries the user sees, with the table's filters and order, as .xlsx. USCC and phone in full
    only for posts that may reveal them (as the core export); user text never becomes a formula (crm.excel);
    one audit row with the size."""
    n = table_count(user, outlet, f)
    if n > MAX_EXPORT:
        raise MapError(_("条目超过 %(n)s 条，请先筛选再导出", n=format(MAX_EXPORT, ",")))
    full = can("customers.reveal", user)
    expr, _kind, _default = SORTS[f.sort]
    order = (expr.desc(), TargetMapEntry.id.desc()) if f.direction == "desc" else (expr, TargetMapEntry.id)
    stmt = _filtered(_entries(user, outlet.id, *TABLE_COLUMNS), f)
    if f.sort == "owner":
        stmt = stmt.outerjoin(Owner, Owner.id == Customer.maintainer_id)
    stmt = stmt.order_by(*order)
    modules = {k: label(v) for k, v in ECO_MODULES.items()}
    statuses = {k: label(v) for k, v in STATUSES.items()}
    tags = {k: label(v) for k, v in TAG_LABELS.items()}

    names: dict[int, str] = {}

    def rows():
        # In batches, through Core; the staff of each batch named from a small map filled as it goes (as the core
        # export does), not by a join over every row.
        result = db.session.connection().execute(stmt.execution_options(yield_per=1000))
        for batch in result.partitions():
            names.update(staff_names(r.maintainer_id for r in batch if r.maintainer_id not in names))
            yield from (_export_row(r, full, modules, statuses, tags, names) for r in batch)

    buffer = BytesIO()
    written = write_sheet(buffer, _("金融生态图"), export_columns(), rows(),
                          note=_("%(outlet)s 金融生态图（导出人：%(name)s）", outlet=outlet.name, name=user.name))
    buffer.seek(0)
    audit.record("target_map.exported", target=("outlet", outlet.id),
                 detail={"rows": written, "masked": not full, "filters": f.args()})
    db.session.commit()
    return buffer, written, full


# ---------------------------------------------------------------- editing an entry, optimistic locking

def outlet_staff(outlet_id: int) -> list[User]:
    """Who may be a 维护责任人 / 营销人: the outlet's active staff, the outlet head and corporate RMs first (R-04)."""
    rank = case((User.post == "outlet_head", 0), (User.post == "outlet_deputy", 1), (User.post == "corporate_rm", 2),
                else_=3)
    return list(db.session.execute(select(User).where(User.outlet_id == outlet_id, User.active)
                                   .order_by(rank, User.name, User.id).limit(500)).scalars())


def _check_manage(user: Any) -> None:
    if not can("target_map.manage", user):
        raise MapError(_("您的岗位不能维护金融生态图"))


def _amount(raw: Any, name: str) -> Decimal | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return parse_amount(text, min_value=Decimal("0"), max_value=MONEY_MAX)
    except ValidationError as exc:
        raise MapError(exc.message, field=name) from None


def _text(raw: Any, limit: int, name: str) -> str | None:
    text = str(raw or "").strip()
    if len(text) > limit:
        raise MapError(_("不能超过%(n)d个字", n=limit), field=name)
    return text or None


def _version(raw: Any) -> int | None:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def stale_message() -> str:
    return _("该条目或客户已被他人修改，请刷新后重新编辑（您的修改未保存）")


def update_entry(user: Any, entry: TargetMapEntry, raw: dict[str, Any]) -> list[str]:
    """Save the edit form of one entry: module, perspective, 保抢挖, 维护责任人/营销人, goals, expected scale.
    The form carries the versions it was read at (entry and customer); a save over someone else's later save
    is refused (409) and nothing is written. Returns the names of the changed fields (audited)."""
    _check_manage(user)
    customer = entry.customer
    if _version(raw.get("version")) != entry.version or _version(raw.get("customer_version")) != customer.version:
        raise MapError(stale_message(), conflict=True)
    module = raw.get("eco_module") or ""
    if module not in ECO_MODULES:
        raise MapError(_("请选择生态图模块"), field="eco_module")
    status = raw.get("status") or ""
    if status not in PERSPECTIVES:
        raise MapError(_("请选择存量或目标"), field="status")
    tag = raw.get("tag") or None
    if tag is not None and tag not in TAGS:
        raise MapError(_("选项无效"), field="tag")
    owner_id = _version(raw.get("maintainer_id"))
    if owner_id is not None and owner_id not in {u.id for u in outlet_staff(customer.outlet_id)}:
        raise MapError(_("责任人必须是该网点的在岗员工"), field="maintainer_id")
    values = {"eco_module": module, "status": status,
              "maintenance_target": _text(raw.get("maintenance_target"), 200, "maintenance_target"),
              "near_term_target": _text(raw.get("near_term_target"), 200, "near_term_target"),
              "maintainer_id": owner_id}
    entry_values = {"tag": tag, "expected_scale": _amount(raw.get("expected_scale"), "expected_scale")}
    if owner_id != customer.maintainer_id and customer.duplicate_claim:
        raise MapError(_("该客户存在重复认领，请先由网点负责人在认领页面裁定维护人"), field="maintainer_id")
    changed = sorted([k for k, v in values.items() if getattr(customer, k) != v]
                     + [k for k, v in entry_values.items() if getattr(entry, k) != v])
    if not changed:
        return []
    old_owner = customer.maintainer_id
    for key, value in values.items():
        setattr(customer, key, value)
    for key, value in entry_values.items():
        setattr(entry, key, value)
    entry.updated_at = utcnow()
    if owner_id is not None and owner_id != old_owner:
        owner = db.session.get(User, owner_id)
        db.session.add(CustomerClaim(customer_id=customer.id, user_id=owner_id, post=owner.post, kind="allocation",
                                     state="done", by_id=user.id))
    audit.record("target_map.entry_updated", target=("customer", customer.id),
                 detail={"fields": changed, "outlet_id": entry.outlet_id,
                         **({"maintainer_id": owner_id} if "maintainer_id" in changed else {})})
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise MapError(stale_message(), conflict=True) from exc
    return changed


# ---------------------------------------------------------------- adding and removing customers

def candidates(user: Any, outlet: Outlet, q: str) -> list[Customer]:
    """Corporate customers of the outlet, in the user's scope, not yet on the map (for 添加客户)."""
    stmt = (scoped(Customer, user).where(Customer.outlet_id == outlet.id, Customer.kind == "corporate",
                                   ~select(TargetMapEntry.id).where(TargetMapEntry.customer_id == Customer.id)
                                   .exists()))
    cond = search.condition(q) if q else None
    if q and cond is None:
        return []
    if cond is not None:
        stmt = stmt.where(cond)
    return list(db.session.execute(stmt.order_by(Customer.name_pinyin, Customer.id).limit(CANDIDATES)).scalars())


def add_entry(user: Any, outlet: Outlet, customer_id: Any, module: str, tag: str | None) -> TargetMapEntry:
    """Put an existing corporate customer of the outlet on its map, in a module, with an optional 保抢挖 tag."""
    _check_manage(user)
    cid = _version(customer_id)
    customer = db.session.execute(scoped(Customer, user).where(
        Customer.id == (cid or 0), Customer.outlet_id == outlet.id)).scalar_one_or_none()
    if customer is None:
        raise MapError(_("找不到该客户，或该客户不在您的管辖范围内"))
    if customer.kind != "corporate":
        raise MapError(_("只有对公客户可以加入金融生态图"))
    if module not in ECO_MODULES:
        raise MapError(_("请选择生态图模块"), field="eco_module")
    if tag and tag not in TAGS:
        raise MapError(_("选项无效"), field="tag")
    if entry_of_customer(customer.id) is not None:
        raise MapError(_("该客户已在金融生态图上"))
    if customer.eco_module != module:
        customer.eco_module = module
    entry = TargetMapEntry(customer_id=customer.id, outlet_id=outlet.id, tag=tag or None, source=_("网点添加"),
                           added_by_id=user.id)
    db.session.add(entry)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise MapError(_("该客户已在金融生态图上")) from exc
    audit.record("target_map.entry_added", target=("customer", customer.id),
                 detail={"outlet_id": outlet.id, "module": module, "tag": tag or ""})
    db.session.commit()
    return entry


def remove_entry(user: Any, entry: TargetMapEntry) -> None:
    """Take a customer off the map. The customer itself stays, with its maintainer and goals."""
    _check_manage(user)
    customer_id, outlet_id = entry.customer_id, entry.outlet_id
    db.session.execute(delete(TargetMapEntry).where(TargetMapEntry.id == entry.id))
    audit.record("target_map.entry_removed", target=("customer", customer_id), detail={"outlet_id": outlet_id})
    db.session.commit()


# ---------------------------------------------------------------- assignment by enterprise size

def threshold(branch_id: int | None) -> Decimal:
    """head_revenue_threshold of the 分行 (its own row, else the global row, else the plugin's default)."""
    value = current_app.extensions["crm"].settings(PLUGIN, branch_id)["head_revenue_threshold"]
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass
class Assignment:
    to_head: int = 0
    to_rms: dict[int, int] = field(default_factory=dict)  # user id → targets handed to them
    head_id: int | None = None
    threshold: Decimal = Decimal(0)

    @property
    def total(self) -> int:
        return self.to_head + sum(self.to_rms.values())


def _unassigned_targets(user: Any, outlet_id: int):
    return (scoped(Customer, user).with_only_columns(Customer.id, Customer.annual_revenue)
            .join(TargetMapEntry, TargetMapEntry.customer_id == Customer.id)
            .where(TargetMapEntry.outlet_id == outlet_id, Customer.outlet_id == outlet_id,
                   Customer.status == "target", Customer.maintainer_id.is_(None),
                   Customer.duplicate_claim.is_(False)))


def assign_by_size(user: Any, outlet: Outlet) -> Assignment:
    """按规模分配 (R-05/A-02): the outlet's unassigned targets with annual revenue ≥ the 分行's threshold go to the
    outlet head; the others (and those of unknown size) to the outlet's corporate RMs, spread evenly, the RM holding
    the fewest targets first; with no corporate RM, to the outlet head as well. Writes are set-based (one guarded
    UPDATE per person and batch, not one per customer): a target claimed meanwhile keeps its claimant."""
    _check_manage(user)
    if user.outlet_id is not None and user.outlet_id != outlet.id:
        raise MapError(_("只能分配本网点的目标客户"))
    result = Assignment(threshold=threshold(outlet.root_branch_id))
    staff = db.session.execute(select(User.id, User.post).where(
        User.outlet_id == outlet.id, User.active, User.post.in_(("outlet_head", "corporate_rm")))
        .order_by(User.id)).all()
    heads = [uid for uid, post in staff if post == "outlet_head"]
    rms = [uid for uid, post in staff if post == "corporate_rm"]
    if not heads:
        raise MapError(_("本网点没有在岗的网点负责人，无法按规模分配"))
    head = user.id if user.id in heads else heads[0]
    result.head_id = head
    pool = db.session.execute(_unassigned_targets(user, outlet.id).order_by(
        Customer.annual_revenue.desc().nulls_last(), Customer.id).limit(MAX_ASSIGN)).all()
    if not pool:
        return result
    plan: dict[int, list[int]] = {}
    small: list[int] = []
    for cid, revenue in pool:
        if revenue is not None and revenue >= result.threshold:
            plan.setdefault(head, []).append(cid)
        else:
            small.append(cid)
    if small and not rms:
        plan.setdefault(head, []).extend(small)
    elif small:
        held = dict(db.session.execute(
            scoped(Customer, user).with_only_columns(Customer.maintainer_id, func.count())
            .join(TargetMapEntry, TargetMapEntry.customer_id == Customer.id)
            .where(TargetMapEntry.outlet_id == outlet.id, Customer.status == "target",
                   Customer.maintainer_id.in_(rms)).group_by(Customer.maintainer_id)).all())
        queue = [(held.get(uid, 0), uid) for uid in rms]
        heapq.heapify(queue)
        for cid in small:  # largest first, each to whoever holds the fewest (ties: the lower id)
            n, uid = heapq.heappop(queue)
            plan.setdefault(uid, []).append(cid)
            heapq.heappush(queue, (n + 1, uid))
    posts = dict(staff)
    user_id, outlet_id = user.id, outlet.id
    audit_actor = user._get_current_object() if hasattr(user, "_get_current_object") else user
    db.session.commit()  # end the read; the writes start a transaction of their own (SQLite: waits its turn)
    now = utcnow()
    claims: list[dict[str, Any]] = []
    for uid, ids in plan.items():
        for start in range(0, len(ids), WRITE_BATCH):
            batch = ids[start:start + WRITE_BATCH]
            done = db.session.execute(
                update(Customer).where(Customer.id.in_(batch), Customer.maintainer_id.is_(None),
                                       Customer.duplicate_claim.is_(False))
                .values(maintainer_id=uid, version=Customer.version + 1).returning(Customer.id)
                .execution_options(synchronize_session=False)).scalars().all()
            claims.extend({"customer_id": cid, "user_id": uid, "post": posts[uid], "kind": "allocation",
                           "state": "done", "by_id": user_id, "created_at": now} for cid in done)
            if uid == head:
                result.to_head += len(done)
            else:
                result.to_rms[uid] = result.to_rms.get(uid, 0) + len(done)
    if claims:
        db.session.execute(insert(CustomerClaim), claims)
    audit.record("target_map.assigned", target=("outlet", outlet_id), actor=audit_actor,
                 detail={"threshold": str(result.threshold), "to_head": result.to_head,
                         "to_rms": {str(k): v for k, v in result.to_rms.items()}})
    db.session.commit()
    return result


# ---------------------------------------------------------------- keeping entries with their customers

def sync_customer_outlet(customer: Customer) -> None:
    """A customer moved to another outlet takes its map entry along (for a `crm_customer_saved` hook)."""
    db.session.execute(update(TargetMapEntry).where(TargetMapEntry.customer_id == customer.id,
                                                    TargetMapEntry.outlet_id != customer.outlet_id)
                       .values(outlet_id=customer.outlet_id, version=TargetMapEntry.version + 1)
                       .execution_options(synchronize_session=False))
    db.session.commit()


# ---------------------------------------------------------------- demo data

def put_on_map(outlet_id: int, limit: int = 300) -> int:
    """Demo and benchmark helper: put up to `limit` corporate customers of the outlet that have a module on its
    map, in one INSERT … SELECT. Targets get a 保抢挖 tag and an expected scale derived from the id (stable)."""
    # No user here (demo data and the benchmark): the table itself, not a read on anyone's behalf.
    c = Customer.__table__.c
    on_map = select(TargetMapEntry.customer_id).scalar_subquery()
    picked = (select(c.id).where(c.outlet_id == outlet_id, c.kind == "corporate", c.eco_module.is_not(None),
                                 c.id.not_in(on_map)).order_by(c.id).limit(limit).subquery())
    target = c.status == "target"
    tag = case((and_(target, c.id % 4 == 0), "keep"), (and_(target, c.id % 4 == 1), "grab"),
               (and_(target, c.id % 4 == 2), "dig"), else_=None)
    scale = case((target, (c.id % 97 + 3) * 100000), else_=None)
    now = utcnow()
    rows = (select(c.id, literal(outlet_id), tag, scale, literal("演示数据"), literal(now), literal(now),
                   literal(1)).where(c.id.in_(select(picked.c.id))))
    n = db.session.execute(insert(TargetMapEntry).from_select(
        ["customer_id", "outlet_id", "tag", "expected_scale", "source", "added_at", "updated_at", "version"], rows)
    ).rowcount
    db.session.commit()
    return n


# ---------------------------------------------------------------- importing enterprise lists

@dataclass(frozen=True)
class ImportColumn:
    field: str
    header: str
    aliases: tuple[str, ...] = ()
    note: str = ""
    example: str = ""
    width: int = 14
    text: bool = False


IMPORT_COLUMNS: tuple[ImportColumn, ...] = (
    ImportColumn("name", "企业名称", ("客户名称", "单位名称", "企业全称", "名称", "户名"),
                 "企业全称；新企业必填，已登记的企业按本行登记的名称", "郑州示例机械制造有限公司", 30),
    ImportColumn("cert_no", "统一社会信用代码", ("信用代码", "社会信用代码", "统一代码", "证件号码"),
                 "18位，必填；据此识别本行已登记的企业（重复导入不会重复新增）。请保持本列为“文本”格式",
                 "91410100MA44ABCD1F", 22, text=True),
    ImportColumn("eco_module", "生态图模块", ("模块", "业务模块", "所属模块"),
                 "公司业务、机构业务、三农房地产 或 国际业务；新企业必填，已登记的企业留空则保持不变", "公司业务", 12),
    ImportColumn("outlet", "所属网点", ("网点", "网点代码", "网点名称", "营销网点"),
                 "网点代码或名称；留空为导入时选择的网点", "", 16, text=True),
    ImportColumn("tag", "保抢挖", ("保/抢/挖", "标签"), "保、抢 或 挖，可留空", "抢", 8),
    ImportColumn("annual_revenue", "年销售收入", ("年销售收入(元)", "销售收入", "年营业收入", "营业收入"),
                 "单位：元，可写 1.2亿、3500万；决定由网点负责人还是法人客户经理营销", "150000000", 16),
    ImportColumn("expected_scale", "预计规模", ("预计规模(元)", "预计存款", "预计存款规模"),
                 "目标客户的预计存款规模，单位：元；决定生态图上节点的大小", "20000000", 14),
    ImportColumn("tax_rank", "纳税排名", ("国地税纳税排名", "国地税排名", "纳税额排名", "税收排名"), "正整数", "12", 10),
    ImportColumn("sales_rank", "销售排名", ("销售额排名",), "正整数", "", 10),
    ImportColumn("trade_rank", "进出口排名", ("进出口额排名", "进出口总额排名"), "正整数", "", 11),
    ImportColumn("industry", "行业", ("所属行业",), "最多50个字", "通用设备制造", 14),
    ImportColumn("legal_rep", "法定代表人", ("法人代表", "法人"), "最多50个字", "", 12),
    ImportColumn("source", "名单来源", ("来源",), "留空为导入时填写的来源", "", 18),
)
IMPORT_FIELDS = {c.field: c for c in IMPORT_COLUMNS}
TEXT_LIMITS = {"name": 100, "industry": 50, "legal_rep": 50, "source": 100}
RANKS = ("tax_rank", "sales_rank", "trade_rank")
IMPORT_CHUNK = 1_000
SOURCES = ("上级行企业名录", "国地税纳税排名", "销售排名", "进出口排名", "区域优质企业名单")


def _header_index() -> dict[str, str]:
    from crm.customers.imports import header_key

    index: dict[str, str] = {}
    for col in IMPORT_COLUMNS:
        for text in (col.header, *col.aliases):
            index.setdefault(header_key(text), col.field)
    return index


def _module_index() -> dict[str, str]:
    from crm.customers.imports import _msgid, _value_key

    index: dict[str, str] = {}
    for code, text in ECO_MODULES.items():
        for key in (code, _msgid(text), str(text), label(text)):
            index[_value_key(key)] = code
    index.update({_value_key(k): v for k, v in (("公司", "corporate"), ("机构", "institutional"),
                                                 ("三农", "agri_realestate"), ("房地产", "agri_realestate"),
                                                 ("三农及房地产", "agri_realestate"), ("国际", "international"))})
    return index


TAG_WORDS = {"保": "keep", "抢": "grab", "挖": "dig", "keep": "keep", "grab": "grab", "dig": "dig"}


@dataclass
class _ListRow:
    number: int
    cells: list[Any]
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)

    def error(self, name: str, message: str) -> None:
        self.errors.append((name, message))


class ListImport:
    """One enterprise-list import into an outlet's map (R-02): every row validated; valid rows saved, chunk by
    chunk, one transaction each; rejected rows reported with row number, column and reason (the core import's
    report, `crm.customers.imports.ImportReport`, so the same rejects file). A USCC already registered matches
    that customer: on the map it becomes an entry (or its entry is updated); a USCC of a customer outside the
    importer's scope is rejected without a word about that customer. A new USCC becomes a target customer
    (corporate, status target, unassigned) at the row's outlet. Importing the same file again creates nothing."""

    def __init__(self, user: Any, outlet: Outlet, source: str) -> None:
        from crm.customers.imports import ImportReport

        self.user = user
        self.outlet = outlet
        self.source = (source or "").strip()[:100] or SOURCES[0]
        self.report = ImportReport(filename="")
        self.added = 0  # registered customers put on the map
        self.seen: dict[str, int] = {}
        self.outlets: dict[str, int] = {}
        self.outlet_branch: dict[int, int] = {}
        self.modules = _module_index()
        self.now = utcnow()

    # -- reading

    def run(self, data: bytes, filename: str) -> Any:
        from crm.customers.imports import ImportRefused
        from crm.excel_import import read_table

        _check_manage(self.user)
        if visible_outlet(self.user, self.outlet.id) is None:
            raise ImportRefused(_("请选择您管辖范围内的网点"))
        self.report.filename = filename
        started = utcnow()
        table = read_table(data, filename)
        self.report.fmt, self.report.encoding = table.fmt, table.encoding
        try:
            rows = table.rows()
            self._header(rows)
            self._load_outlets()
            chunk: list[tuple[int, list[Any]]] = []
            for number, cells in rows:
                chunk.append((number, cells))
                if len(chunk) >= IMPORT_CHUNK:
                    self._chunk(chunk)
                    chunk = []
            if chunk:
                self._chunk(chunk)
        except BaseException:
            db.session.rollback()
            raise
        finally:
            table.close()
        r = self.report
        r.seconds = round((utcnow() - started).total_seconds(), 2)
        audit.record("target_map.imported", target=("outlet", self.outlet.id),
                     detail={"file": filename[:100], "source": self.source, **self.counts()})
        db.session.commit()
        return r

    def counts(self) -> dict[str, int]:
        r = self.report
        return {"rows": r.total, "created": r.created, "added": self.added, "updated": r.updated,
                "unchanged": r.unchanged, "rejected": r.rejected_count}

    def _header(self, rows: Any) -> None:
        from crm.customers.imports import HEADER_SEARCH_ROWS, ImportRefused, cell_text, header_key

        index = _header_index()
        for _i in range(HEADER_SEARCH_ROWS):
            try:
                _number, cells = next(rows)
            except StopIteration:
                break
            keys = [index.get(header_key(c)) for c in cells]
            if "cert_no" in keys:
                self.report.headers = [cell_text(c).strip() for c in cells]
                for i, name in enumerate(keys):
                    if name is None:
                        if self.report.headers[i]:
                            self.report.ignored.append(self.report.headers[i])
                    elif name in self.report.field_columns:
                        first = self.report.headers[self.report.field_columns[name]]
                        raise ImportRefused(_("列“%(a)s”和“%(b)s”是同一项内容，请只保留一列", a=first,
                                              b=self.report.headers[i]))
                    else:
                        self.report.field_columns[name] = i
                return
        raise ImportRefused(_("找不到表头：表格的第一行应是列名，且包含“统一社会信用代码”列（请使用导入模板）"))

    def _load_outlets(self) -> None:
        from crm.customers.imports import _value_key

        for o in outlet_choices(self.user):
            self.outlet_branch[o.id] = o.root_branch_id
            self.outlets.setdefault(_value_key(o.name), o.id)
            self.outlets.setdefault(_value_key(f"{o.code}{o.name}"), o.id)
        for o in outlet_choices(self.user):
            self.outlets[_value_key(o.code)] = o.id  # codes win over names

    def _column(self, name: str) -> str:
        i = self.report.field_columns.get(name)
        if i is not None and self.report.headers[i]:
            return self.report.headers[i]
        return IMPORT_FIELDS[name].header if name in IMPORT_FIELDS else ""

    def _read(self, number: int, cells: list[Any]) -> _ListRow:
        from crm.customers.imports import _lost_digits, _value_key, cell_text, cert_key

        row = _ListRow(number, cells)
        raw: dict[str, str] = {}
        for name, i in self.report.field_columns.items():
            raw[name] = cell_text(cells[i]).strip() if i < len(cells) else ""
        v = row.values
        cert_index = self.report.field_columns["cert_no"]
        cert_cell = cells[cert_index] if cert_index < len(cells) else None
        if _lost_digits(cert_cell):
            row.error("cert_no", _("该单元格是数字，Excel 只保留15位有效数字，代码已不完整；请把该列设为“文本”格式后重新填写"))
        elif not raw.get("cert_no"):
            row.error("cert_no", _("请填写统一社会信用代码"))
        else:
            from crm.validators import validate_uscc

            try:
                v["cert_no"] = validate_uscc(cert_key(raw["cert_no"]))
            except ValidationError as exc:
                row.error("cert_no", exc.message)
        for name, limit in TEXT_LIMITS.items():
            text = raw.get(name) or ""
            if len(text) > limit:
                row.error(name, _("不能超过%(n)d个字", n=limit))
            v[name] = text or None
        module = raw.get("eco_module") or ""
        v["eco_module"] = None
        if module:
            v["eco_module"] = self.modules.get(_value_key(module))
            if v["eco_module"] is None:
                row.error("eco_module", _("模块“%(m)s”无效，应为 公司业务、机构业务、三农房地产 或 国际业务", m=module[:20]))
        outlet = raw.get("outlet") or ""
        v["outlet_id"] = self.outlet.id
        if outlet:
            v["outlet_id"] = self.outlets.get(_value_key(outlet))
            if v["outlet_id"] is None:
                row.error("outlet", _("找不到网点“%(o)s”，或该网点不在您的管辖范围内", o=outlet[:30]))
        tag = raw.get("tag") or ""
        v["tag"] = TAG_WORDS.get(tag.lower()) if tag else None
        if tag and v["tag"] is None:
            row.error("tag", _("应填 保、抢 或 挖"))
        for name in ("annual_revenue", "expected_scale"):
            v[name] = None
            if raw.get(name):
                try:
                    v[name] = parse_amount(raw[name], min_value=Decimal("0"), max_value=MONEY_MAX)
                except ValidationError as exc:
                    row.error(name, exc.message)
        for name in RANKS:
            v[name] = None
            text = raw.get(name) or ""
            if text:
                if text.isdigit() and 0 < int(text) <= INT_MAX:
                    v[name] = int(text)
                else:
                    row.error(name, _("排名应为正整数"))
        return row

    # -- one chunk: validate against the database (one query), then write (one transaction)

    def _chunk(self, chunk: list[tuple[int, list[Any]]], retried: bool = False) -> None:
        seen_before = dict(self.seen)
        rows = [self._read(number, cells) for number, cells in chunk]
        self.report.total += len(rows)
        try:
            self._save(rows)
        except IntegrityError:
            db.session.rollback()  # a USCC saved concurrently by someone else: read the chunk again, once
            if retried:
                raise
            self.report.total -= len(rows)
            self.seen = seen_before
            self._chunk(chunk, retried=True)

    def _save(self, rows: list[_ListRow]) -> None:
        from crm.customers.imports import Rejected

        certs = {r.values["cert_no"] for r in rows if not r.errors and r.values.get("cert_no")}
        existing: dict[str, tuple[Customer | None, bool]] = {}
        if certs:
            for customer in db.session.execute(scoped(Customer, self.user).where(
                    Customer.cert_no.in_(sorted(certs)))).scalars():
                existing[customer.cert_no] = (customer, True)
            # Codes registered outside the importer's scope: only the fact, read from the code column alone, so the
            # row can say "held by another institution" without a byte of that customer (as the core import does).
            missing = sorted(certs - existing.keys())
            if missing:
                cert_no = Customer.__table__.c.cert_no
                for (code,) in db.session.execute(select(cert_no).where(cert_no.in_(missing))):
                    existing[code] = (None, False)
        ids = [c.id for c, ok in existing.values() if ok and c is not None]
        entries = {e.customer_id: e for e in db.session.execute(select(TargetMapEntry).where(
            TargetMapEntry.customer_id.in_(ids))).scalars()} if ids else {}
        created: list[tuple[Customer, TargetMapEntry]] = []
        new_entries: list[TargetMapEntry] = []
        changed_ids: list[tuple[int, int]] = []
        for row in rows:
            v = row.values
            found = existing.get(v.get("cert_no") or "") if not row.errors else None
            if found is not None and not found[1]:
                # Out of scope: say only that it is held elsewhere, nothing about the customer (design §4).
                row.error("cert_no", _("该企业已由本行其他机构登记管理，未导入"))
            elif found is not None and found[0].kind != "corporate":
                row.error("cert_no", _("该代码登记的是个人客户，不能加入金融生态图"))
            elif found is None and not row.errors:
                if not v.get("name"):
                    row.error("name", _("本行尚未登记该企业，请填写企业名称"))
                if not v.get("eco_module"):
                    row.error("eco_module", _("本行尚未登记该企业，请填写生态图模块（公司业务、机构业务、三农房地产 或 国际业务）"))
            if not row.errors:
                first = self.seen.get(v["cert_no"])
                if first is not None:
                    row.error("cert_no", _("与第%(row)d行的统一社会信用代码重复", row=first))
                else:
                    self.seen[v["cert_no"]] = row.number
            if row.errors:
                self.report.rejected.append(Rejected(row.number, [(self._column(f), m) for f, m in row.errors],
                                                     row.cells))
                continue
            if found is None:
                customer = Customer(kind="corporate", status="target", name=v["name"], cert_no=v["cert_no"],
                                    outlet_id=v["outlet_id"], eco_module=v["eco_module"],
                                    annual_revenue=v["annual_revenue"], industry=v["industry"],
                                    legal_rep=v["legal_rep"], created_by_id=self.user.id,
                                    **search.keys(v["name"], None, v["cert_no"]))
                created.append((customer, self._entry(customer, v)))
                continue
            customer = found[0]
            touched = False
            if v["eco_module"] and customer.eco_module != v["eco_module"]:
                customer.eco_module = v["eco_module"]
                touched = True
            for name in ("annual_revenue", "industry", "legal_rep"):  # filled in where the bank has nothing yet
                if v[name] is not None and getattr(customer, name) is None:
                    setattr(customer, name, v[name])
                    touched = True
            entry = entries.get(customer.id)
            if entry is None:
                entry = self._entry(customer, v)
                entry.outlet_id = customer.outlet_id  # a customer belongs to one outlet: its own map
                new_entries.append(entry)
                entries[customer.id] = entry
                self.added += 1
            else:
                updates = {name: v[name] for name in ("tag", "expected_scale", *RANKS) if v[name] is not None}
                if v["source"]:
                    updates["source"] = v["source"]
                for name, value in updates.items():
                    if getattr(entry, name) != value:
                        setattr(entry, name, value)
                        entry.updated_at = self.now
                        touched = True
                if touched:
                    self.report.updated += 1
                else:
                    self.report.unchanged += 1
            if touched:
                changed_ids.append((customer.id, customer.outlet_id))
        if created:
            db.session.add_all([c for c, _e in created])
            db.session.flush()  # the new customers' ids (one INSERT … RETURNING for the chunk)
            for customer, entry in created:
                entry.customer_id = customer.id
                new_entries.append(entry)
        db.session.add_all(new_entries)
        db.session.commit()
        self.report.created += len(created)
        self._announce([(c.id, c.outlet_id) for c, _e in created], changed_ids)

    def _entry(self, customer: Customer, v: dict[str, Any]) -> TargetMapEntry:
        return TargetMapEntry(customer_id=customer.id, outlet_id=v["outlet_id"], tag=v["tag"],
                              expected_scale=v["expected_scale"], source=v["source"] or self.source,
                              tax_rank=v["tax_rank"], sales_rank=v["sales_rank"], trade_rank=v["trade_rank"],
                              added_by_id=self.user.id, added_at=self.now, updated_at=self.now)

    def _announce(self, created: list[tuple[int, int]], updated: list[tuple[int, int]]) -> None:
        """crm_customers_imported, once per committed chunk and 分行, as the core import does."""
        if not created and not updated:
            return
        from crm.models import Branch

        registry = current_app.extensions["crm"]
        by_branch: dict[int, tuple[list[int], list[int]]] = {}
        for which, pairs in enumerate((created, updated)):
            for customer_id, outlet_id in pairs:
                branch_id = self.outlet_branch.get(outlet_id)
                if branch_id is None:
                    branch_id = self.outlet_branch[outlet_id] = db.session.get(Outlet, outlet_id).root_branch_id
                by_branch.setdefault(branch_id, ([], []))[which].append(customer_id)
        for branch_id, (created_ids, updated_ids) in sorted(by_branch.items()):
            hook = registry.hook_for_names("crm_customers_imported", registry.enabled_names(branch_id))
            hook(created_ids=created_ids, updated_ids=updated_ids, user=self.user,
                 branch=db.session.get(Branch, branch_id))


def write_import_template(out: Any, user: Any) -> None:
    """The enterprise-list template: the columns with a note row and one example row, module and tag dropdowns."""
    import xlsxwriter

    book = xlsxwriter.Workbook(out, {"constant_memory": False, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet("企业名录")
    head = book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1})
    note = book.add_format({"font_color": "#666666", "text_wrap": True, "valign": "top", "font_size": 9})
    text = book.add_format({"num_format": "@"})
    for i, col in enumerate(IMPORT_COLUMNS):
        sheet.set_column(i, i, col.width, text if col.text else None)
        sheet.write_string(0, i, col.header, head)
    sheet.freeze_panes(1, 0)
    sheet.set_row(1, 60)
    for i, col in enumerate(IMPORT_COLUMNS):
        if col.example:
            sheet.write_string(1, i, col.example, text if col.text else None)
        if col.note:
            sheet.write_comment(0, i, col.note)
    modules = [str(_msgid_of(ECO_MODULES[m])) for m in MODULES]
    index = {c.field: i for i, c in enumerate(IMPORT_COLUMNS)}
    sheet.data_validation(1, index["eco_module"], 5000, index["eco_module"], {"validate": "list", "source": modules})
    sheet.data_validation(1, index["tag"], 5000, index["tag"], {"validate": "list", "source": ["保", "抢", "挖"]})
    guide = book.add_worksheet("填写说明")
    guide.set_column(0, 0, 18)
    guide.set_column(1, 1, 90)
    guide.write_row(0, 0, ("列", "填写说明"), head)
    for r, col in enumerate(IMPORT_COLUMNS, start=1):
        guide.write_string(r, 0, col.header)
        guide.write_string(r, 1, col.note, note)
    book.close()


def _msgid_of(value: Any) -> str:
    from crm.customers.imports import _msgid

    return _msgid(value)
