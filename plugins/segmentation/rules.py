"""Segment rules and the tier ladder compiled to SQLAlchemy expressions over Customer (S-01–S-06, S-08, S-12,
5C1S grades of S-13)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, case, false, func, literal, or_, select
from sqlalchemy.sql import ColumnElement

from crm.contrib import SegmentRule
from crm.models import Customer
from crm.models.customers import ECO_MODULES, EMPLOYER_TYPES, KINDS, RISK_PREFERENCES, STATUSES

MAX_AMOUNT = Decimal("1e16")  # Numeric(18, 2)


class RuleError(ValueError):
    """A rule or ladder a user submitted is not acceptable; the message is shown as is (Chinese)."""


# ---------------------------------------------------------------- tier ladder (S-12)

@dataclass(frozen=True)
class Tier:
    code: str
    name: str
    min_amount: Decimal | None  # inclusive lower bound ("以上"); None = the bottom tier


# S-12 / T-52: T1 ≥ 50,000, T0 < 50,000 (50,000 is "以上": it belongs to T1).
DEFAULT_LADDER: tuple[Tier, ...] = (
    Tier("T1", "存款5万元以上", Decimal("50000")),
    Tier("T0", "存款不满5万元", None),
)
BASES = {"deposit": _l("存款余额"), "aum": _l("金融资产（AUM）")}


def basis_column(basis: str) -> Any:
    if basis == "deposit":
        return Customer.deposit_balance
    if basis == "aum":
        return Customer.aum
    raise RuleError(f"未知的分层依据“{basis}”")


def tier_case(ladder: Iterable[Tier], basis: str) -> ColumnElement[str]:
    """CASE WHEN amount >= top THEN 'T_top' WHEN amount >= next … ELSE bottom END. A NULL amount (no AUM recorded)
    matches no WHEN and lands in the bottom tier."""
    column = basis_column(basis)
    ladder = list(ladder)
    whens = [(column >= t.min_amount, t.code) for t in ladder if t.min_amount is not None]
    bottom = next(t.code for t in ladder if t.min_amount is None)
    return case(*whens, else_=bottom) if whens else literal(bottom, String(20))


def parse_amount(raw: Any, what: str) -> Decimal:
    text = str(raw if raw is not None else "").strip().replace(",", "").replace("，", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RuleError(f"{what}“{raw}”不是有效的金额") from None
    if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
        raise RuleError(f"{what}“{raw}”不是有效的金额")
    if value != value.quantize(Decimal("0.01")):
        raise RuleError(f"{what}“{raw}”最多保留两位小数")
    return value


def validate_ladder(rows: list[tuple[str, str, str]]) -> list[Tier]:
    """Rows (code, name, threshold) from top to bottom; blank rows are skipped. Codes unique, thresholds strictly
    decreasing downwards, the bottom tier without a threshold (it takes everybody else)."""
    tiers: list[Tier] = []
    seen: set[str] = set()
    filled = [(c.strip(), n.strip(), m.strip()) for c, n, m in rows if (c or "").strip() or (m or "").strip()]
    if len(filled) < 2:
        raise RuleError("分层至少需要两个层级")
    for i, (code, name, raw) in enumerate(filled, start=1):
        if not code:
            raise RuleError(f"第{i}层缺少层级代码")
        if len(code) > 20 or len(name) > 50:
            raise RuleError(f"第{i}层的代码不能超过20个字，名称不能超过50个字")
        if code in seen:
            raise RuleError(f"层级代码“{code}”重复，每个层级的代码必须唯一")
        seen.add(code)
        last = i == len(filled)
        if last:
            if raw:
                raise RuleError(f"最低一层（{code}）不设门槛，包含其余全部客户；请清空其门槛")
            tiers.append(Tier(code, name or code, None))
            continue
        if not raw:
            raise RuleError(f"第{i}层（{code}）缺少门槛金额")
        amount = parse_amount(raw, f"第{i}层（{code}）的门槛")
        if tiers and amount >= tiers[-1].min_amount:  # type: ignore[operator]
            raise RuleError(f"门槛须自上而下严格递减：第{i}层（{code}）的 {amount:,} 不低于上一层的 "
                            f"{tiers[-1].min_amount:,}")
        tiers.append(Tier(code, name or code, amount))
    return tiers


# ---------------------------------------------------------------- built-in segments (S-01–S-06, S-08)

PERSONAL = Customer.kind == "personal"
CORPORATE = Customer.kind == "corporate"


def _amount(params: dict[str, Any], key: str) -> Decimal:
    return Decimal(str(params[key]))


def retired_affluent(params: dict[str, Any]) -> ColumnElement[bool]:
    """S-01: retired personal customers with AUM ≥ the configured threshold ("以上" includes it; A-29)."""
    return and_(PERSONAL, Customer.retired.is_(True), Customer.aum >= _amount(params, "affluent_aum"))


def gov_exec_pro(params: dict[str, Any]) -> ColumnElement[bool]:
    """S-02: government, mid/senior executives, professionals; freelancers only when affluent (AUM threshold)."""
    return and_(PERSONAL, or_(
        Customer.employer_type.in_(("government", "executive", "professional")),
        and_(Customer.employer_type == "freelance", Customer.aum >= _amount(params, "freelance_aum")),
    ))


def family_business(params: dict[str, Any]) -> ColumnElement[bool]:
    """S-03: the customer model has no "owns a family business" flag; read from the occupation, matched against
    a configurable list (exact values, e.g. 企业主)."""
    values = [v for v in params.get("family_business_occupations") or [] if v]
    return and_(PERSONAL, Customer.occupation.in_(values)) if values else false()


def small_business(params: dict[str, Any]) -> ColumnElement[bool]:
    """S-04: individual merchants and small-business owners (personal, by occupation), and corporate customers
    whose annual revenue (CNY) is below the configured small-business line."""
    values = [v for v in params.get("small_business_occupations") or [] if v]
    personal = and_(PERSONAL, Customer.occupation.in_(values)) if values else false()
    return or_(personal, and_(CORPORATE, Customer.annual_revenue < _amount(params, "small_business_revenue")))


def post80_90(params: dict[str, Any]) -> ColumnElement[bool]:
    """S-05 / T-51: born 1980–1999 inclusive. A birthday range, so the test is index-friendly and portable."""
    first, last = int(params["birth_year_from"]), int(params["birth_year_to"])
    return and_(PERSONAL, Customer.birthday >= date(first, 1, 1), Customer.birthday <= date(last, 12, 31))


def _revenue_line(params: dict[str, Any], key: str) -> Decimal:
    """A band edge in the configured currency, in CNY (annual_revenue is stored in 元): edge × CNY per unit."""
    rate = Decimal("1") if params.get("revenue_currency") == "CNY" else _amount(params, "revenue_fx_rate")
    return _amount(params, key) * rate


def revenue_band(band: str) -> Callable[[dict[str, Any]], ColumnElement[bool]]:
    """S-06 / T-50: bands by annual sales revenue, lower bound inclusive, upper exclusive. Customers without a
    recorded revenue fall in no band."""

    def compile_band(params: dict[str, Any]) -> ColumnElement[bool]:
        large, mid, small = (_revenue_line(params, k) for k in ("revenue_large", "revenue_mid", "revenue_small"))
        rev = Customer.annual_revenue
        return and_(CORPORATE, {
            "large": rev >= large,
            "mid": and_(rev >= mid, rev < large),
            "small_mid": and_(rev >= small, rev < mid),
            "micro": rev < small,
        }[band])

    compile_band.__name__ = f"revenue_{band}"
    return compile_band


def no_loan(params: dict[str, Any]) -> ColumnElement[bool]:
    """S-08 / R-12: 无贷户."""
    return Customer.has_loan.is_(False)


def has_loan(params: dict[str, Any]) -> ColumnElement[bool]:
    """S-08: 有贷户."""
    return Customer.has_loan.is_(True)


# ---------------------------------------------------------------- 5C1S grades (S-13, A-26)

# Standard 5C plus a sixth factor "1S" the source leaves undefined (A-26): its label is the 分行's to choose.
DEFAULT_FACTORS = ("品德（Character）", "能力（Capacity）", "资本（Capital）", "担保（Collateral）",
                   "环境（Conditions）", "服务潜力(S)")
SCORE_MIN, SCORE_MAX = 1, 5
GRADES = {"quality": _l("优质客户"), "prospect": _l("准客户"), "excluded": _l("不予考虑")}


def grade_of(total: int, quality: int, prospect: int) -> str:
    """S-13: total ≥ quality line → 优质客户; ≥ prospect line → 准客户; below → 不予考虑 (lines inclusive)."""
    if total >= quality:
        return "quality"
    return "prospect" if total >= prospect else "excluded"


def _latest_totals() -> Any:
    """(customer_id, total) of every customer's latest 5C1S rating: the highest id per customer."""
    from plugins.segmentation.models import SegmentationRating as R

    latest = select(func.max(R.id)).group_by(R.customer_id)
    return select(R.customer_id).where(R.id.in_(latest))


def fivec(grade: str) -> Callable[[dict[str, Any]], ColumnElement[bool]]:
    """S-13: customers whose latest 5C1S rating has the grade under the 分行's current cut-offs. One uncorrelated
    subquery over the (small) ratings table: the database evaluates it once per statement, not per customer."""

    def compile_grade(params: dict[str, Any]) -> ColumnElement[bool]:
        from plugins.segmentation.models import SegmentationRating as R

        quality, prospect = int(params["fivec_quality"]), int(params["fivec_prospect"])
        band = {"quality": R.total >= quality,
                "prospect": and_(R.total >= prospect, R.total < quality),
                "excluded": R.total < prospect}[grade]
        return Customer.id.in_(_latest_totals().where(band))

    compile_grade.__name__ = f"fivec_{grade}"
    return compile_grade


# ---------------------------------------------------------------- the primary personal segment (S-01–S-05)

# "A customer may carry several tags; suggested precedence for a single primary tag: S-03 > S-04 > S-02 > S-01 >
# S-05" (spec §5.1).
PRIMARY_PRECEDENCE = ("family_business", "small_business", "gov_exec_pro", "retired_affluent", "post80_90")


SETTING_PARAMS = ("affluent_aum", "freelance_aum", "family_business_occupations", "small_business_occupations",
                  "small_business_revenue", "birth_year_from", "birth_year_to", "revenue_currency",
                  "revenue_fx_rate", "revenue_large", "revenue_mid", "revenue_small")

BUILTIN_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("retired_affluent", _l("退休富裕客户"), retired_affluent, ("affluent_aum",)),
    SegmentRule("gov_exec_pro", _l("政府机构、企业中高管及专业人员、富裕自由职业"), gov_exec_pro, ("freelance_aum",)),
    SegmentRule("family_business", _l("家族企业"), family_business, ("family_business_occupations",)),
    SegmentRule("small_business", _l("小企业主、个体工商户"), small_business,
                ("small_business_occupations", "small_business_revenue")),
    SegmentRule("post80_90", _l("80/90后"), post80_90, ("birth_year_from", "birth_year_to")),
    SegmentRule("corp_large", _l("对公大客户"), revenue_band("large"), SETTING_PARAMS[7:]),
    SegmentRule("corp_mid", _l("对公中型客户"), revenue_band("mid"), SETTING_PARAMS[7:]),
    SegmentRule("corp_small_mid", _l("对公中小客户"), revenue_band("small_mid"), SETTING_PARAMS[7:]),
    SegmentRule("corp_micro", _l("对公微小客户"), revenue_band("micro"), SETTING_PARAMS[7:]),
    SegmentRule("no_loan", _l("无贷户"), no_loan),
    SegmentRule("has_loan", _l("有贷户"), has_loan),
    SegmentRule("5c1s_quality", _l("优质客户"), fivec("quality"), ("fivec_quality", "fivec_prospect")),
    SegmentRule("5c1s_prospect", _l("准客户"), fivec("prospect"), ("fivec_quality", "fivec_prospect")),
    SegmentRule("5c1s_excluded", _l("不予考虑"), fivec("excluded"), ("fivec_quality", "fivec_prospect")),
)


# ---------------------------------------------------------------- custom rules built in the browser

@dataclass(frozen=True)
class Field:
    label: Any
    kind: str  # money | year | choice | bool | text
    column: Any = None
    choices: dict[str, Any] | None = None


GENDERS = {"男": _l("男"), "女": _l("女")}

# The allow-list: only these fields may appear in a custom rule; anything else is refused.
FIELDS: dict[str, Field] = {
    "deposit_balance": Field(_l("存款余额"), "money", Customer.deposit_balance),
    "deposit_daily_avg": Field(_l("存款日均"), "money", Customer.deposit_daily_avg),
    "loan_balance": Field(_l("贷款余额"), "money", Customer.loan_balance),
    "aum": Field(_l("金融资产（AUM）"), "money", Customer.aum),
    "annual_revenue": Field(_l("年销售收入（元）"), "money", Customer.annual_revenue),
    "birth_year": Field(_l("出生年份"), "year", Customer.birthday),
    "kind": Field(_l("客户类型"), "choice", Customer.kind, KINDS),
    "status": Field(_l("存量/目标"), "choice", Customer.status, STATUSES),
    "gender": Field(_l("性别"), "choice", Customer.gender, GENDERS),
    "employer_type": Field(_l("单位性质"), "choice", Customer.employer_type, EMPLOYER_TYPES),
    "risk_preference": Field(_l("风险偏好"), "choice", Customer.risk_preference, RISK_PREFERENCES),
    "eco_module": Field(_l("生态图模块"), "choice", Customer.eco_module, ECO_MODULES),
    "retired": Field(_l("已退休"), "bool", Customer.retired),
    "has_loan": Field(_l("有贷款"), "bool", Customer.has_loan),
    "vip": Field(_l("VIP客户"), "bool", Customer.vip),
    "basic_account": Field(_l("在我行开立基本户"), "bool", Customer.basic_account),
    "ebanking": Field(_l("开通企业网银"), "bool", Customer.ebanking),
    "tier": Field(_l("客户层级"), "text", Customer.tier),
    "occupation": Field(_l("职业"), "text", Customer.occupation),
    "industry": Field(_l("行业"), "text", Customer.industry),
}

OPERATORS: dict[str, Any] = {
    "eq": _l("等于"), "ne": _l("不等于"), "ge": _l("大于等于（以上）"), "gt": _l("大于（超过）"),
    "le": _l("小于等于"), "lt": _l("小于（不满）"), "contains": _l("包含"),
}
OPERATORS_BY_KIND = {
    "money": ("ge", "gt", "le", "lt", "eq", "ne"),
    "year": ("eq", "ne", "ge", "gt", "le", "lt"),
    "choice": ("eq", "ne"),
    "bool": ("eq",),
    "text": ("eq", "ne", "contains"),
}
TRUE_WORDS, FALSE_WORDS = ("是", "true", "1", "yes", "y"), ("否", "false", "0", "no", "n")


def clean_condition(index: int, field: str, op: str, raw: Any) -> dict[str, Any]:
    """Validate one condition against the allow-lists and the field's type; return it in stored form."""
    where = f"第{index}个条件"
    spec = FIELDS.get(field)
    if spec is None:
        raise RuleError(f"{where}：不支持的字段“{field}”")
    if op not in OPERATORS_BY_KIND[spec.kind]:
        raise RuleError(f"{where}：字段“{spec.label}”不支持运算“{OPERATORS.get(op, op)}”")
    text = str(raw if raw is not None else "").strip()
    if not text:
        raise RuleError(f"{where}：请填写比较的值")
    if len(text) > 50:
        raise RuleError(f"{where}：值不能超过50个字")
    value: Any
    if spec.kind == "money":
        value = str(parse_amount(text, f"{where}的值"))
    elif spec.kind == "year":
        if not text.isdigit() or not 1900 <= int(text) <= 2100:
            raise RuleError(f"{where}：出生年份应为1900至2100之间的四位数字")
        value = int(text)
    elif spec.kind == "choice":
        by_label = {str(label): key for key, label in (spec.choices or {}).items()}
        value = text if text in (spec.choices or {}) else by_label.get(text)
        if value is None:
            options = "、".join(str(v) for v in (spec.choices or {}).values())
            raise RuleError(f"{where}：“{spec.label}”的值应为：{options}")
    elif spec.kind == "bool":
        if text.lower() not in TRUE_WORDS + FALSE_WORDS:
            raise RuleError(f"{where}：“{spec.label}”的值应为“是”或“否”")
        value = text.lower() in TRUE_WORDS
    else:
        value = text
    return {"field": field, "op": op, "value": value}


def clean_rule(join: str, conditions: list[tuple[str, str, str]]) -> tuple[str, list[dict[str, Any]]]:
    if join not in ("and", "or"):
        raise RuleError("条件之间只能用“并且”或“或者”连接")
    cleaned = [clean_condition(i, f.strip(), o.strip(), v) for i, (f, o, v) in
               enumerate(((f, o, v) for f, o, v in conditions if (f or "").strip() or str(v or "").strip()), start=1)]
    if not cleaned:
        raise RuleError("至少需要一个条件")
    if len(cleaned) > 20:
        raise RuleError("条件不能超过20个")
    return join, cleaned


def _year_condition(op: str, year: int) -> ColumnElement[bool]:
    b = Customer.birthday
    first, next_first = date(year, 1, 1), date(year + 1, 1, 1)
    return {
        "eq": and_(b >= first, b < next_first),
        "ne": or_(b < first, b >= next_first),
        "ge": b >= first, "gt": b >= next_first,
        "le": b < next_first, "lt": b < first,
    }[op]


def compile_condition(cond: dict[str, Any]) -> ColumnElement[bool]:
    # Stored rules are re-validated on every compile: a hand-edited row cannot smuggle in another column.
    cond = clean_condition(0, cond.get("field", ""), cond.get("op", ""), _stored_text(cond.get("value")))
    spec, op, value = FIELDS[cond["field"]], cond["op"], cond["value"]
    if spec.kind == "year":
        return _year_condition(op, value)
    col = spec.column
    if spec.kind == "money":
        value = Decimal(value)
    if spec.kind == "bool":
        return col.is_(True) if value else col.is_not(True)
    if op == "contains":
        return col.contains(value, autoescape=True)
    if op == "ne":  # "不等于政府机构" includes customers whose field is not filled in, as a person would expect
        return or_(col != value, col.is_(None))
    return {"eq": col == value, "ge": col >= value, "gt": col > value, "le": col <= value, "lt": col < value}[op]


def _stored_text(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    return "" if value is None else str(value)


def compile_custom(params: dict[str, Any]) -> ColumnElement[bool]:
    """A custom rule: its conditions joined by AND or OR. No text from the user ever becomes SQL."""
    parts = [compile_condition(c) for c in params.get("conditions") or []]
    if not parts:
        return false()
    return and_(*parts) if params.get("join", "and") == "and" else or_(*parts)


CUSTOM_RULE = SegmentRule("custom", _l("自定义条件"), compile_custom, ("join", "conditions"))
