"""Pure scorecard engine: schemes as JSON data, validation, scoring with Chinese explanations (R-78–R-83, R-90–R-92)."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# ---------------------------------------------------------------------------------------------------------------------
# Vocabulary
#
# A scheme definition is a JSON-serialisable dict.  Every number is stored as a string ("30", "0.1", "99.5") so that
# Decimal arithmetic is exact and the JSON column round-trips without change:
#
#   {"code": "003a-head", "name": "...", "kind": "scorecard", "subject": "staff", "period": "year",
#    "expected_total": "100", "total": {"min": "0", "max": "135"},
#    "items": [ {item}, ... ], "warnings": [ {warning rule}, ... ], "params": {...}}
#
# kind "scorecard" schemes are scored by score_scheme(); kinds "eva", "rewards" and "bancassurance" carry only
# parameters that other modules read — validate_scheme() checks those parameters.
# ---------------------------------------------------------------------------------------------------------------------

SCORED_KINDS = ("scorecard",)
PARAM_KINDS = ("eva", "rewards", "bancassurance")
KINDS = SCORED_KINDS + PARAM_KINDS
SUBJECTS = {"staff": "员工", "outlet": "网点"}
PERIODS = {"month": "月度", "quarter": "季度", "year": "年度"}
ITEM_TYPES = ("step", "bands", "pro_rata", "weighted", "deductions", "value")
ACTIONS = {"warn": "提示", "demote": "降级", "terminate": "解除劳动合同"}
ACTION_RANK = {"keep": 0, "warn": 1, "demote": 2, "terminate": 3}
COMPARE_OPS = ("eq", "lt", "le", "gt", "ge")
BOOL_OPS = ("is_true", "is_false")
LOWER_OPS = ("gt", "ge")
UPPER_OPS = ("lt", "le")
FIELD_KINDS = ("count", "bool", "number")
WARNING_METRICS = ("total", "item", "completion", "input", "run", "repeat")

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
MINUS = "\u2212"  # typographic minus sign used in explanations ("−50")


# ---------------------------------------------------------------------------------------------------------------------
# Errors and results
# ---------------------------------------------------------------------------------------------------------------------


class SchemeError(ValueError):
    """Base class of every error the engine raises; the message is Chinese and meant for the user."""


class InvalidSchemeError(SchemeError):
    """The scheme definition does not validate; `errors` lists every problem."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("考核方案不合规：" + "；".join(errors))


class MissingActualsError(SchemeError):
    """Actuals (or history/series inputs) needed by the scheme were not supplied; `missing` lists them."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__("缺少以下考核数据：" + "、".join(missing))


class BadActualError(SchemeError):
    """An actual was supplied but cannot be used (wrong type, negative count, out of range …)."""


@dataclass(frozen=True)
class ItemScore:
    """The score of one item. `points` is what the item itself scores (after its floor/cap); `total_adjustment`
    is what goes straight into the scheme total (R-83 "直接在综合考核总分中扣分" and the spill-over of item 4)."""

    code: str
    name: str
    rule: str
    actual: Any
    points: Decimal
    explanation: str
    flags: tuple[str, ...] = ()
    total_adjustment: Decimal = ZERO
    target: Decimal | None = None
    completion: Decimal | None = None  # actual ÷ target × 100 where the item has a target

    def line(self) -> str:
        return f"{self.explanation}（{self.rule}）" if self.rule else self.explanation

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "rule": self.rule, "actual": _jsonable(self.actual),
                "points": str(self.points), "total_adjustment": str(self.total_adjustment),
                "target": None if self.target is None else str(self.target),
                "completion": None if self.completion is None else str(self.completion),
                "explanation": self.explanation, "flags": list(self.flags)}


@dataclass(frozen=True)
class ScoreWarning:
    """One triggered warning/action (R-80, R-81), e.g. demote with reason "年度综合得分64分，低于90分（R-80）：降级"."""

    rule: str
    action: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class SchemeScore:
    """The scored scheme: items, their sum, the direct adjustments, the total, triggered warnings and the strongest
    action ("keep" < "warn" < "demote" < "terminate")."""

    code: str
    fingerprint: str
    items: list[ItemScore]
    item_sum: Decimal
    adjustments: Decimal
    total: Decimal
    warnings: list[ScoreWarning] = field(default_factory=list)
    action: str = "keep"
    lines: list[str] = field(default_factory=list)

    def item(self, code: str) -> ItemScore:
        for it in self.items:
            if it.code == code:
                return it
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (Decimals as strings) for storing with the result."""
        return {"code": self.code, "fingerprint": self.fingerprint, "items": [i.to_dict() for i in self.items],
                "item_sum": str(self.item_sum), "adjustments": str(self.adjustments), "total": str(self.total),
                "warnings": [w.to_dict() for w in self.warnings], "action": self.action, "lines": list(self.lines)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------------------------------
# Numbers and formatting
# ---------------------------------------------------------------------------------------------------------------------


def to_dec(value: Any, what: str = "数值") -> Decimal:
    """str/int/Decimal → Decimal. Floats and bools are refused: money and rates must be exact."""
    if isinstance(value, bool) or isinstance(value, float):
        raise BadActualError(f"{what}必须是精确数值（字符串、整数或Decimal），不能是{type(value).__name__}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        result = _str_dec(value)
        if result is None:
            raise BadActualError(f"{what}不是有效数值：{value!r}")
    else:
        raise BadActualError(f"{what}不是有效数值：{value!r}")
    if not result.is_finite():
        raise BadActualError(f"{what}必须是有限数值：{value!r}")
    return result


@functools.lru_cache(maxsize=4096)
def _str_dec(text: str) -> Decimal | None:
    """Scheme numbers are strings ("30", "0.1"): parsed once, not once per person (a month scores thousands)."""
    try:
        return Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None


def _try_dec(value: Any) -> Decimal | None:
    try:
        return to_dec(value)
    except SchemeError:
        return None


def _round2(value: Decimal) -> Decimal:
    result = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return result.copy_abs() if result.is_zero() else result


def _trunc(value: Decimal) -> Decimal:
    """Whole steps, truncated toward zero (A-18): trunc(−4.5) = −4."""
    result = value.to_integral_value(rounding=ROUND_DOWN)
    return result.copy_abs() if result.is_zero() else result


def fmt_num(value: Decimal, *, group: bool = False) -> str:
    """Plain number without trailing zeros: 33, 99.8, 7.14, 1,050,000 (with group). Negative with "−"."""
    value = Decimal(value)
    if value.is_zero():
        return "0"
    text = format(value.normalize(), ",f" if group else "f")
    return text.replace("-", MINUS)


def fmt_val(value: Decimal, unit: str) -> str:
    """A value with its unit: "33%", "1,050,000元", "5个", "88分"."""
    return f"{fmt_num(value, group=unit == '元')}{unit}"


def fmt_signed(value: Decimal) -> str:
    """Signed points: "+6", "−50", "0"."""
    if value.is_zero():
        return "0"
    return ("+" if value > 0 else "") + fmt_num(value)


def _pct_of(ratio: Decimal) -> str:
    """Fraction → "84%", "66.67%" (percent rounded half up to two decimals)."""
    return fmt_num(_round2(ratio * HUNDRED)) + "%"


_CN_DIGITS = "零一二三四五六七八九十"


def _cn_count(n: int) -> str:
    return _CN_DIGITS[n] if 0 <= n <= 10 else str(n)


def _step_text(step: Decimal, unit: str) -> str:
    """How one step reads: "1个百分点", "0.1个百分点", "10,000元", "1个"."""
    if unit == "%":
        return f"{fmt_num(step)}个百分点"
    return fmt_val(step, unit)


_OP_WORDS = {"lt": "低于", "le": "不高于", "gt": "超过", "ge": "达到", "eq": "等于"}


def _op_phrase(op: str, value: Decimal, unit: str) -> str:
    """"低于90分", "超过10%", "达到15分（含）"."""
    text = f"{_OP_WORDS[op]}{fmt_val(value, unit)}"
    return text + "（含）" if op == "ge" else text


def compare(op: str, left: Decimal | bool, right: Decimal | None = None) -> bool:
    """Configurable comparison (A-21: "X以下" defaults to strict "lt", "le" selectable)."""
    if op == "is_true":
        return left is True
    if op == "is_false":
        return left is False
    if right is None or isinstance(left, bool):
        raise SchemeError(f"比较方式“{op}”需要数值")
    if op == "eq":
        return left == right
    if op == "lt":
        return left < right
    if op == "le":
        return left <= right
    if op == "gt":
        return left > right
    if op == "ge":
        return left >= right
    raise SchemeError(f"未知的比较方式：{op}")


# ---------------------------------------------------------------------------------------------------------------------
# Fingerprint
# ---------------------------------------------------------------------------------------------------------------------


def scheme_fingerprint(definition: Mapping[str, Any]) -> str:
    """Stable sha256 of the canonical JSON of a definition, so a result can record which scheme version scored it."""
    canonical = json.dumps(definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# Item scoring — each a small pure function: (item definition, actual) -> ItemScore
# ---------------------------------------------------------------------------------------------------------------------


def _label(item: Mapping[str, Any]) -> str:
    return item.get("label") or item["name"]


def _opt_dec(item: Mapping[str, Any], key: str) -> Decimal | None:
    value = item.get(key)
    return None if value is None else to_dec(value, f"{item.get('name', '')}的{key}")


def _split_actual(item: Mapping[str, Any], actual: Any) -> tuple[Decimal, Decimal | None]:
    """An actual is a number, or {"value": x, "target": t} where the target is set per person/period (R-82)."""
    name = item["name"]
    target = _opt_dec(item, "target")
    if isinstance(actual, Mapping):
        if "value" not in actual:
            raise MissingActualsError([f"{name}（{item['code']}）的实际值"])
        if actual.get("target") is not None:
            target = to_dec(actual["target"], f"{name}的目标")
        actual = actual["value"]
    return to_dec(actual, f"{name}的实际值"), target


def _need_target(item: Mapping[str, Any], target: Decimal | None) -> Decimal:
    if target is None:
        raise MissingActualsError([f"{item['name']}（{item['code']}）的目标值"])
    if target <= 0:
        raise BadActualError(f"{item['name']}的目标值必须大于0")
    return target


def score_step(item: Mapping[str, Any], actual: Any) -> ItemScore:
    """R-78/R-79 items 1–3: base + clamp(points_per_step × trunc((actual − target) / step), floor, cap).

    Partial steps are truncated toward zero (A-18): 30.9% → 0 steps; +11% vs 20% in 2% steps → trunc(−4.5) = −4.
    For the 初级 RM the target is the amount 1,000,000 and a step is 10,000元 (A-20). Below the target the same
    formula runs backwards (R-78 P3: "每增加或减少" — the spec's formula is authoritative)."""
    value, target = _split_actual(item, actual)
    if target is None:
        raise MissingActualsError([f"{item['name']}（{item['code']}）的目标值"])
    unit = item.get("unit", "")
    base = to_dec(item["base"])
    step = to_dec(item["step"])
    pps = to_dec(item["points_per_step"])
    cap = _opt_dec(item, "cap")
    floor = _opt_dec(item, "floor")
    steps = _trunc((value - target) / step)
    raw = pps * steps
    adj = raw
    flags: list[str] = []
    note = ""
    if cap is not None and raw > cap:
        adj, note = cap, f"，超过上限{fmt_signed(cap)}"
        flags.append("capped")
    elif floor is not None and raw < floor:
        adj, note = floor, f"，超过下限{fmt_signed(floor)}"
        flags.append("floored")
    points = base + adj
    text = (f"{_label(item)}{fmt_val(value, unit)}，目标{fmt_val(target, unit)}，"
            f"每{_step_text(step, unit)}{fmt_num(pps)}分：{fmt_signed(raw)}{note}，本项{fmt_num(points)}分")
    return ItemScore(item["code"], item["name"], item.get("rule", ""), value, points, text, tuple(flags),
                     target=target, completion=_completion(value, target))


def _completion(value: Decimal, target: Decimal | None) -> Decimal | None:
    if target is None or target.is_zero():
        return None
    return value / target * HUNDRED


def _band_bounds(band: Mapping[str, Any]) -> tuple[Decimal | None, bool, Decimal | None, bool]:
    """(lower, lower_closed, upper, upper_closed); None = unbounded."""
    if "eq" in band:
        v = to_dec(band["eq"])
        return v, True, v, True
    lo = lo_closed = hi = hi_closed = None
    if "gt" in band:
        lo, lo_closed = to_dec(band["gt"]), False
    if "ge" in band:
        lo, lo_closed = to_dec(band["ge"]), True
    if "lt" in band:
        hi, hi_closed = to_dec(band["lt"]), False
    if "le" in band:
        hi, hi_closed = to_dec(band["le"]), True
    return lo, bool(lo_closed), hi, bool(hi_closed)


def _in_band(value: Decimal, band: Mapping[str, Any]) -> bool:
    lo, lo_closed, hi, hi_closed = _band_bounds(band)
    if lo is not None and (value < lo or (value == lo and not lo_closed)):
        return False
    return not (hi is not None and (value > hi or (value == hi and not hi_closed)))


def _band_text(band: Mapping[str, Any], unit: str) -> str:
    """"等于0", "在0（不含）至1%（不含）之间", "超过5%", "不低于5%"."""
    lo, lo_closed, hi, hi_closed = _band_bounds(band)
    if "eq" in band:
        return f"等于{fmt_num(lo)}" if lo is not None and lo.is_zero() else f"等于{fmt_val(lo, unit)}"
    if lo is not None and hi is not None:
        return (f"在{fmt_num(lo, group=unit == '元')}（{'含' if lo_closed else '不含'}）至"
                f"{fmt_val(hi, unit)}（{'含' if hi_closed else '不含'}）之间")
    if lo is not None:
        return f"{'不低于' if lo_closed else '超过'}{fmt_val(lo, unit)}"
    return f"{'不高于' if hi_closed else '低于'}{fmt_val(hi, unit)}"


def score_bands(item: Mapping[str, Any], actual: Any) -> ItemScore:
    """R-78 NPL (A-19): ordered bands, each bounded by editable operators, e.g. {"eq": "0"}, {"gt": "0", "lt": "1"},
    {"ge": "1", "le": "5"}, {"gt": "5"}. The first band containing the actual gives the points."""
    value, _ = _split_actual(item, actual)
    unit = item.get("unit", "")
    for band in item["bands"]:
        if _in_band(value, band):
            points = to_dec(band["points"])
            text = f"{_label(item)}{fmt_val(value, unit)}，{_band_text(band, unit)}：本项{fmt_num(points)}分"
            return ItemScore(item["code"], item["name"], item.get("rule", ""), value, points, text)
    raise BadActualError(f"{item['name']}的实际值{fmt_val(value, unit)}不在任何计分档次内")


def score_pro_rata(item: Mapping[str, Any], actual: Any) -> ItemScore:
    """R-79 item 4 (A-20): base × min(actual / target, cap_ratio), cap_ratio defaults to 1 (no bonus), rounded to
    two decimals half up. T-37: 5 of 7 → 7.14; 12 of 10 → 10."""
    value, target = _split_actual(item, actual)
    target = _need_target(item, target)
    if value < 0:
        raise BadActualError(f"{item['name']}的实际值不能为负数")
    unit = item.get("unit", "")
    base = to_dec(item["base"])
    cap_ratio = _opt_dec(item, "cap_ratio") or ONE
    ratio = value / target
    flags: list[str] = []
    if ratio >= cap_ratio:
        points = _round2(base * cap_ratio)
        flags.append("capped")
        how = "已完成目标（不另加分）" if cap_ratio == ONE else f"完成率按上限{_pct_of(cap_ratio)}计"
    else:
        points = _round2(base * ratio)
        how = f"按完成比例{fmt_num(base)}×{fmt_num(value)}/{fmt_num(target)}"
    text = f"{_label(item)}{fmt_val(value, unit)}，目标{fmt_val(target, unit)}，{how}：本项{fmt_num(points)}分"
    return ItemScore(item["code"], item["name"], item.get("rule", ""), value, points, text, tuple(flags),
                     target=target, completion=value / target * HUNDRED)


def score_weighted(item: Mapping[str, Any], actual: Any) -> ItemScore:
    """R-82 business score (A-23): weight × clamp(actual / target, floor_ratio, cap_ratio), two decimals half up.
    The target may be fixed in the scheme or given per person and month with the actual: {"value": x, "target": t}."""
    value, target = _split_actual(item, actual)
    target = _need_target(item, target)
    unit = item.get("unit", "")
    weight = to_dec(item["weight"])
    cap_ratio = _opt_dec(item, "cap_ratio")
    floor_ratio = _opt_dec(item, "floor_ratio")
    floor_ratio = ZERO if floor_ratio is None else floor_ratio
    ratio = value / target
    used, note, flags = ratio, "", []
    if cap_ratio is not None and ratio > cap_ratio:
        used, note = cap_ratio, f"，按上限{_pct_of(cap_ratio)}计"
        flags.append("capped")
    elif ratio < floor_ratio:
        used, note = floor_ratio, f"，按下限{_pct_of(floor_ratio)}计"
        flags.append("floored")
    points = _round2(weight * used)
    text = (f"{_label(item)}完成{fmt_val(value, unit)}，目标{fmt_val(target, unit)}，完成率{_pct_of(ratio)}{note}，"
            f"权重{fmt_num(weight)}分：本项{fmt_num(points)}分")
    return ItemScore(item["code"], item["name"], item.get("rule", ""), value, points, text, tuple(flags),
                     target=target, completion=ratio * HUNDRED)


def _field_value(item: Mapping[str, Any], fdef: Mapping[str, Any], raw: Any) -> Decimal | bool:
    kind = fdef.get("kind", "count")
    what = f"{item['name']}的{fdef['label']}"
    if kind == "bool":
        if not isinstance(raw, bool):
            raise BadActualError(f"{what}必须填写“是”或“否”")
        return raw
    value = to_dec(raw, what)
    if kind == "count" and (value < 0 or value != value.to_integral_value()):
        raise BadActualError(f"{what}必须是非负整数")
    if fdef.get("max") is not None and value > to_dec(fdef["max"]):
        raise BadActualError(f"{what}不能超过{fmt_num(to_dec(fdef['max']))}")
    if fdef.get("min") is not None and value < to_dec(fdef["min"]):
        raise BadActualError(f"{what}不能低于{fmt_num(to_dec(fdef['min']))}")
    return value


def _zero_reason(item: Mapping[str, Any], cond: Mapping[str, Any], values: Mapping[str, Any],
                 labels: Mapping[str, str]) -> str | None:
    """A zero_if condition (R-83 item 1: 退回率 ≥ 50% or false material; item 3: major matter not reported)."""
    op = cond["op"]
    if "ratio" in cond:
        num_key, den_key = cond["ratio"]
        den = values[den_key]
        if den.is_zero():
            return None
        rate = values[num_key] / den * HUNDRED
        limit = to_dec(cond["value"])
        if compare(op, rate, limit):
            return f"{cond.get('label', '比率')}{_pct_of(rate / HUNDRED)}，{_op_phrase(op, limit, '%')}"
        return None
    value = values[cond["field"]]
    if op in BOOL_OPS:
        return (labels[cond["field"]] if op == "is_true" else f"未{labels[cond['field']]}") if compare(op, value) \
            else None
    limit = to_dec(cond["value"])
    unit = cond.get("unit", "")
    if compare(op, value, limit):
        return f"{labels[cond['field']]}{fmt_val(value, unit)}，{_op_phrase(op, limit, unit)}"
    return None


def score_deductions(item: Mapping[str, Any], actual: Any) -> ItemScore:
    """R-83 items (A-23): base points plus per-event deltas from counted fields.

    - events with "to": "item" change the item (floor, default 0 = "扣完为止"); with "to": "total" they go straight
      into the comprehensive total ("直接在综合考核总分中扣分", items 5, 7, 8, 9);
    - "spill": true carries the shortfall below the floor into the total (item 4: −30 per overdue loan);
    - "zero_if" conditions score the item's own points 0 (item 1: 退回率 ≥ 50% or false material; item 3: major
      matter not reported); direct ("total") events still count;
    - "scored": "quarter" (item 1) — the engine takes the quarter's counts as input; the service passes the same
      quarter counts when scoring each month of that quarter, so each month gets the quarterly score (A-23).
    The actual is a dict {field key: count | bool | number} holding every field of the item."""
    name = item["name"]
    if not isinstance(actual, Mapping):
        raise BadActualError(f"{name}的实际值应为各计分事项的数据")
    fields = {f["key"]: f for f in item.get("fields", [])}
    labels = {k: f["label"] for k, f in fields.items()}
    missing = [f"{name}（{item['code']}）的{f['label']}（{k}）" for k, f in fields.items() if k not in actual]
    if missing:
        raise MissingActualsError(missing)
    values = {k: _field_value(item, f, actual[k]) for k, f in fields.items()}
    base = to_dec(item["base"])
    floor = _opt_dec(item, "floor")
    spill = bool(item.get("spill", False))
    parts_item: list[str] = []
    parts_total: list[str] = []
    delta_item = ZERO
    delta_total = ZERO
    for ev in item.get("events") or []:
        count = values[ev["field"]]
        if count.is_zero():
            continue
        per = to_dec(ev["points"])
        amount = per * count
        unit = fields[ev["field"]].get("unit", "次")
        per_word = ev.get("per", unit)
        if per_word == "分" and per == ONE:  # the count is itself the points (R-83 item 3 bonus +1…+30)
            text = f"{labels[ev['field']]}：{fmt_signed(amount)}"
        else:
            text = f"{labels[ev['field']]}{fmt_num(count)}{unit}，每{per_word}{fmt_signed(per)}分：{fmt_signed(amount)}"
        if ev.get("to", "item") == "total":
            delta_total += amount
            parts_total.append(text)
        else:
            delta_item += amount
            parts_item.append(text)
    flags: list[str] = []
    reasons = [r for c in item.get("zero_if") or [] if (r := _zero_reason(item, c, values, labels))]
    head = f"{_label(item)}{'（季度考核，按本季度数据计分）' if item.get('scored') == 'quarter' else ''}：基础{fmt_num(base)}分"
    spilled = ZERO
    if reasons:
        points = ZERO
        flags.append("zeroed")
        body = f"{'、'.join(reasons)}，本项不得分"
    else:
        raw = base + delta_item
        body = "；".join(parts_item) if parts_item else "无扣分事项"
        points = raw
        if floor is not None and raw < floor:
            points = floor
            flags.append("floored")
            if spill:
                spilled = raw - floor
                flags.append("spilled")
                body += f"；扣至{fmt_num(floor)}分为止，不足部分{fmt_signed(spilled)}分从综合考核总分中扣除"
            else:
                body += "；扣完为止"
    text = f"{head}；{body}；本项{fmt_num(points)}分"
    if parts_total:
        flags.append("direct")
        text += f"；直接计入总分：{'，'.join(parts_total)}"
    adjustment = delta_total + spilled
    return ItemScore(item["code"], name, item.get("rule", ""), values, points, text, tuple(flags),
                     total_adjustment=adjustment)


def score_value(item: Mapping[str, Any], actual: Any) -> ItemScore:
    """An entered score (千分制 part R-90, BSC perspective R-91, 200-point part R-92): the actual is the points,
    between min (default 0) and max."""
    value, _ = _split_actual(item, actual)
    top = to_dec(item["max"])
    low = _opt_dec(item, "min") or ZERO
    if value > top or value < low:
        raise BadActualError(f"{item['name']}得分{fmt_num(value)}分超出范围（{fmt_num(low)}至{fmt_num(top)}分）")
    text = f"{_label(item)}：评定{fmt_num(value)}分（满分{fmt_num(top)}分）：本项{fmt_num(value)}分"
    return ItemScore(item["code"], item["name"], item.get("rule", ""), value, value, text)


SCORERS = {"step": score_step, "bands": score_bands, "pro_rata": score_pro_rata, "weighted": score_weighted,
           "deductions": score_deductions, "value": score_value}


def score_item(item: Mapping[str, Any], actual: Any) -> ItemScore:
    """Score one item definition against its actual."""
    return SCORERS[item["type"]](item, actual)


def nominal_points(item: Mapping[str, Any]) -> Decimal:
    """The points an item contributes to the scheme's declared total: weight for "weighted", max for "value",
    base for the others (R-78 base 100; R-92 five parts = 200; BSC weights = 100)."""
    key = {"weighted": "weight", "value": "max"}.get(item.get("type"), "base")
    return to_dec(item[key], f"{item.get('name', '')}的{key}")


# ---------------------------------------------------------------------------------------------------------------------
# Inputs a scheme needs (for building forms and for the missing-actuals error)
# ---------------------------------------------------------------------------------------------------------------------


def required_inputs(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Everything score_scheme() needs in `actuals` and `context`, in order:
    {"key", "label", "source": "item"|"input"|"series"|"history", "type", "unit", "fields"?}."""
    out: list[dict[str, Any]] = []
    for item in definition.get("items") or []:
        entry: dict[str, Any] = {"key": item["code"], "label": item["name"], "source": "item", "type": item["type"],
                                 "unit": item.get("unit", "")}
        if item["type"] == "deductions":
            entry["fields"] = [dict(f) for f in item.get("fields", [])]
        elif item["type"] in ("pro_rata", "weighted", "step") and item.get("target") is None:
            entry["target_required"] = True
        out.append(entry)
    seen: set[tuple[str, str]] = set()
    for w in definition.get("warnings") or []:
        metric = w.get("metric")
        if metric == "input":
            key = ("input", w["key"])
            entry = {"key": w["key"], "label": w.get("label", w["key"]), "source": "input",
                     "type": "bool" if w["op"] in BOOL_OPS else "number", "unit": w.get("unit", "")}
        elif metric == "run":
            key = ("series", w["series"])
            entry = {"key": w["series"], "label": w.get("label", w["series"]), "source": "series", "type": "series",
                     "unit": w.get("unit", "")}
        elif metric == "repeat":
            key = ("history", "history")
            entry = {"key": "history", "label": "以往考核期结果", "source": "history", "type": "history", "unit": ""}
        else:
            continue
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Warnings / actions
# ---------------------------------------------------------------------------------------------------------------------


def _warning_reason(w: Mapping[str, Any], core: str) -> str:
    return f"{core}（{w['rule']}）：{ACTIONS[w['action']]}" if w.get("rule") else f"{core}：{ACTIONS[w['action']]}"


def _eval_warning(w: Mapping[str, Any], definition: Mapping[str, Any], result_items: Mapping[str, ItemScore],
                  total: Decimal, actuals: Mapping[str, Any], context: Mapping[str, Any]) -> str | None:
    """Return the reason text if the rule fires, else None. Operators default to strict "lt" (A-21)."""
    metric = w["metric"]
    op = w.get("op", "lt")
    unit = w.get("unit", "")
    if metric == "total":
        limit = to_dec(w["value"])
        if compare(op, total, limit):
            label = w.get("label") or f"{PERIODS.get(definition.get('period', ''), '')}综合得分"
            return _warning_reason(w, f"{label}{fmt_num(total)}分，{_op_phrase(op, limit, '分')}")
        return None
    if metric == "item":
        it = result_items[w["item"]]
        limit = to_dec(w["value"])
        item_def = next(i for i in definition["items"] if i["code"] == w["item"])
        unit = unit or item_def.get("unit", "")
        if compare(op, it.actual, limit):
            label = w.get("label") or _label(item_def)
            return _warning_reason(w, f"{label}{fmt_val(it.actual, unit)}，{_op_phrase(op, limit, unit)}")
        return None
    if metric == "completion":
        limit = to_dec(w["value"])
        hits = []
        for code in w["items"]:
            it = result_items[code]
            if it.completion is not None and compare(op, it.completion, limit):
                item_def = next(i for i in definition["items"] if i["code"] == code)
                hits.append(f"{_label(item_def)}完成率{_pct_of(it.completion / HUNDRED)}")
        if hits:
            return _warning_reason(w, f"{'、'.join(hits)}，{_op_phrase(op, limit, '%')}")
        return None
    if metric == "input":
        raw = actuals[w["key"]]
        label = w.get("label", w["key"])
        if op in BOOL_OPS:
            if not isinstance(raw, bool):
                raise BadActualError(f"{label}必须填写“是”或“否”")
            return _warning_reason(w, label if op == "is_true" else f"未{label}") if compare(op, raw) else None
        value = to_dec(raw, label)
        limit = to_dec(w["value"])
        if compare(op, value, limit):
            return _warning_reason(w, f"{label}{fmt_val(value, unit)}，{_op_phrase(op, limit, unit)}")
        return None
    if metric == "run":
        return _eval_run(w, context)
    raise SchemeError(f"未知的预警指标：{metric}")


def _eval_run(w: Mapping[str, Any], context: Mapping[str, Any]) -> str | None:
    """R-81: value below ratio% of its base for `count` consecutive periods (any run in the series, oldest first).
    A period exactly at the ratio breaks the run with the default strict "lt" (A-21)."""
    series = context["series"][w["series"]]
    ratio = to_dec(w["ratio"])
    count = int(w["count"])
    op = w.get("op", "lt")
    run: list[str] = []
    label = w.get("label", "考核值")
    for n, row in enumerate(series):
        value = to_dec(row["value"], f"{label}（第{n + 1}期）")
        base = to_dec(row["base"], f"{w.get('base_label', '基数')}（第{n + 1}期）")
        if compare(op, value, base * ratio / HUNDRED):
            run.append(str(row.get("period", n + 1)))
            if len(run) >= count:
                when = "、".join(run[-count:])
                return _warning_reason(w, f"{label}连续{count}个月{_OP_WORDS[op]}{w.get('base_label', '基数')}的"
                                          f"{fmt_num(ratio)}%（{when}）")
        else:
            run = []
    return None


def _eval_repeat(w: Mapping[str, Any], fired: Sequence[ScoreWarning], context: Mapping[str, Any],
                 period: str) -> str | None:
    """R-80: demoted two consecutive years → terminated. Fires when this period's result carries the action `of`
    and each of the last count−1 history entries ({"period", "actions": [...]} or {"period", "action"}, oldest
    first) carried it too."""
    of = w.get("of", "demote")
    count = int(w["count"])
    if not any(f.action == of for f in fired):
        return None
    history = context["history"]
    previous = history[-(count - 1):] if count > 1 else []
    if len(previous) < count - 1 or not all(of in _history_actions(h) for h in previous):
        return None
    periods = [str(h.get("period", "")) for h in previous] + [str(context.get("period", "本期"))]
    span = _PERIOD_SPAN.get(period, "期")
    return _warning_reason(w, f"连续{count}{span}{ACTIONS[of]}（{'、'.join(periods)}）")


_PERIOD_SPAN = {"year": "年", "quarter": "个季度", "month": "个月"}


def _history_actions(entry: Mapping[str, Any]) -> list[str]:
    """A history entry carries "actions" (list, as in SchemeScore.warnings) or a single stored "action"."""
    actions = entry.get("actions")
    if actions is None:
        actions = [entry.get("action")]
    return [a for a in actions if a]


def _missing_context(definition: Mapping[str, Any], actuals: Mapping[str, Any],
                     context: Mapping[str, Any]) -> list[str]:
    missing: list[str] = []
    for w in definition.get("warnings") or []:
        metric = w.get("metric")
        if metric == "input" and w["key"] not in actuals:
            missing.append(f"{w.get('label', w['key'])}（{w['key']}，{w.get('rule', '')}预警所需）")
        elif metric == "run" and w["series"] not in (context.get("series") or {}):
            missing.append(f"{w.get('label', w['series'])}逐月数据（context.series.{w['series']}，"
                           f"{w.get('rule', '')}预警所需）")
        elif metric == "repeat" and "history" not in context:
            missing.append(f"以往考核期结果（context.history，{w.get('rule', '')}预警所需）")
    return list(dict.fromkeys(missing))


# ---------------------------------------------------------------------------------------------------------------------
# Scheme scoring
# ---------------------------------------------------------------------------------------------------------------------


def score_scheme(definition: Mapping[str, Any], actuals: Mapping[str, Any], *,
                 context: Mapping[str, Any] | None = None, checked: bool = False,
                 fingerprint: str | None = None) -> SchemeScore:
    """Score a "scorecard" scheme.

    actuals: {item code: number | {"value", "target"} | {field: count/bool} (deductions), input key: value}.
    context: {"period": "2024年", "history": [{"period", "actions": [...]}, ...] (oldest first),
              "series": {name: [{"period", "value", "base"}, ...]}} — needed only by warnings that use them.
    Raises InvalidSchemeError for an invalid definition and MissingActualsError listing every missing item/input —
    a missing actual never counts as 0."""
    # `checked=True`: the caller validated this definition already (a month's computation validates each scheme
    # once, not once per person).
    errors = [] if checked else validate_scheme(definition)
    if errors:
        raise InvalidSchemeError(errors)
    if definition["kind"] not in SCORED_KINDS:
        raise SchemeError(f"方案“{definition['name']}”只包含参数，不能直接计分")
    context = context or {}
    missing = [f"{i['name']}（{i['code']}）" for i in definition["items"] if i["code"] not in actuals]
    missing += _missing_context(definition, actuals, context)
    if missing:
        raise MissingActualsError(missing)
    items = [score_item(i, actuals[i["code"]]) for i in definition["items"]]
    item_sum = sum((i.points for i in items), ZERO)
    adjustments = sum((i.total_adjustment for i in items), ZERO)
    total = item_sum + adjustments
    lines = [i.line() for i in items]
    summary = f"各项得分合计{fmt_num(item_sum)}分"
    if not adjustments.is_zero():
        summary += f"，直接计入总分{fmt_signed(adjustments)}分"
    bounds = definition.get("total") or {}
    tmin, tmax = _opt_dec(bounds, "min"), _opt_dec(bounds, "max")
    if tmin is not None and total < tmin:
        summary += f"，低于总分下限按{fmt_num(tmin)}分计"
        total = tmin
    elif tmax is not None and total > tmax:
        summary += f"，高于总分上限按{fmt_num(tmax)}分计"
        total = tmax
    lines.append(f"{summary}，总分{fmt_num(total)}分")
    by_code = {i.code: i for i in items}
    fired: list[ScoreWarning] = []
    rules = definition.get("warnings") or []
    for w in (r for r in rules if r["metric"] != "repeat"):
        reason = _eval_warning(w, definition, by_code, total, actuals, context)
        if reason:
            fired.append(ScoreWarning(w.get("rule", ""), w["action"], reason))
    for w in (r for r in rules if r["metric"] == "repeat"):
        reason = _eval_repeat(w, fired, context, definition["period"])
        if reason:
            fired.append(ScoreWarning(w.get("rule", ""), w["action"], reason))
    lines.extend(f.reason for f in fired)
    action = max((f.action for f in fired), key=ACTION_RANK.__getitem__, default="keep")
    return SchemeScore(definition["code"], fingerprint or scheme_fingerprint(definition), items, item_sum,
                       adjustments, total, fired, action, lines)


# ---------------------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------------------


def _s(value: Any) -> str | None:
    """The value if it is text, else None (so that lists/dicts in a hand-edited JSON never crash a lookup)."""
    return value if isinstance(value, str) else None


def _list(value: Any, c: _Checker | None = None, where: str = "") -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if c is not None:
        c.add(f"{where}必须是列表")
    return []


class _Checker:
    """Collects Chinese error messages while walking a definition."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, message: str) -> None:
        self.errors.append(message)

    def num(self, obj: Mapping[str, Any], key: str, where: str, *, required: bool = True,
            positive: bool = False, non_negative: bool = False, non_positive: bool = False) -> Decimal | None:
        if key not in obj or obj[key] is None:
            if required:
                self.add(f"{where}缺少“{key}”")
            return None
        raw = obj[key]
        if not isinstance(raw, (str, int)) or isinstance(raw, bool):
            self.add(f"{where}的“{key}”必须写成数字字符串（如\"30\"），不能是{type(raw).__name__}")
            return None
        value = _try_dec(raw)
        if value is None:
            self.add(f"{where}的“{key}”不是有效数值：{raw!r}")
            return None
        if positive and value <= 0:
            self.add(f"{where}的“{key}”必须大于0")
        if non_negative and value < 0:
            self.add(f"{where}的“{key}”不能为负数")
        if non_positive and value > 0:
            self.add(f"{where}的“{key}”不能为正数")
        return value


def _validate_bands(c: _Checker, item: Mapping[str, Any], where: str) -> None:
    bands = item.get("bands")
    if not isinstance(bands, list) or not bands:
        c.add(f"{where}缺少计分档次（bands）")
        return
    unit = item.get("unit", "")
    intervals = []
    for n, band in enumerate(bands, 1):
        bw = f"{where}第{n}档"
        if not isinstance(band, Mapping):
            c.add(f"{bw}格式错误")
            return
        ops = [k for k in band if k != "points" and k != "label"]
        unknown = [k for k in ops if k not in COMPARE_OPS]
        if unknown:
            c.add(f"{bw}有未知的比较方式：{'、'.join(unknown)}（可选 eq/lt/le/gt/ge）")
            return
        if not ops:
            c.add(f"{bw}没有边界条件")
            return
        if "eq" in band and len(ops) > 1:
            c.add(f"{bw}的“等于”不能与其他条件同时使用")
            return
        if ("gt" in band and "ge" in band) or ("lt" in band and "le" in band):
            c.add(f"{bw}的下限或上限重复")
            return
        c.num(band, "points", bw)
        if any(c.num(band, k, bw) is None for k in ops):
            return
        lo, lo_closed, hi, hi_closed = _band_bounds(band)
        if lo is not None and hi is not None and (lo > hi or (lo == hi and not (lo_closed and hi_closed))):
            c.add(f"{bw}的下限高于上限，是空档")
            return
        intervals.append((lo, lo_closed, hi, hi_closed, n))
    # Sort by lower bound (−∞ first; at equal bounds the closed one starts first) and walk the coverage.
    intervals.sort(key=lambda t: (t[0] is not None, t[0] if t[0] is not None else ZERO, not t[1]))
    domain_min = _try_dec(item.get("min")) if item.get("min") is not None else None
    first = intervals[0]
    if first[0] is not None and (domain_min is None or first[0] > domain_min
                                 or (first[0] == domain_min and not first[1])):
        c.add(f"{where}的计分档次有空档：{'低于' if first[1] else '不高于'}{fmt_val(first[0], unit)}的值不在任何档次内")
    cur_hi, cur_closed, cur_n = first[2], first[3], first[4]
    for lo, lo_closed, hi, hi_closed, n in intervals[1:]:
        if cur_hi is None or lo is None or lo < cur_hi or (lo == cur_hi and lo_closed and cur_closed):
            point = fmt_val(lo, unit) if lo is not None else "下限"
            c.add(f"{where}第{cur_n}档与第{n}档重叠（{point}同时落在两个档次）")
        elif lo > cur_hi or (lo == cur_hi and not lo_closed and not cur_closed):
            gap = fmt_val(cur_hi, unit) if lo == cur_hi else f"{fmt_val(cur_hi, unit)}至{fmt_val(lo, unit)}之间"
            c.add(f"{where}的计分档次有空档：{gap}不在任何档次内")
        if cur_hi is not None and (hi is None or hi > cur_hi or (hi == cur_hi and hi_closed)):
            cur_hi, cur_closed, cur_n = hi, hi_closed, n
    if cur_hi is not None:
        c.add(f"{where}的计分档次有空档：{'超过' if cur_closed else '不低于'}{fmt_val(cur_hi, unit)}的值不在任何档次内")


def _validate_deductions(c: _Checker, item: Mapping[str, Any], where: str) -> None:
    c.num(item, "base", where, non_negative=True)
    floor = c.num(item, "floor", where, required=False)
    base = _try_dec(item.get("base"))
    if floor is not None and base is not None and floor > base:
        c.add(f"{where}的下限（floor）不能高于基础分")
    if "spill" in item and not isinstance(item["spill"], bool):
        c.add(f"{where}的“spill”必须是true或false")
    fields = item.get("fields")
    if not isinstance(fields, list) or not fields:
        c.add(f"{where}缺少计分事项（fields）")
        return
    kinds: dict[str, str] = {}
    for n, f in enumerate(fields, 1):
        fw = f"{where}第{n}个事项"
        if not isinstance(f, Mapping) or not f.get("key") or not f.get("label"):
            c.add(f"{fw}缺少key或label")
            continue
        if not isinstance(f["key"], str):
            c.add(f"{fw}的key必须是文字")
            continue
        if f["key"] in kinds:
            c.add(f"{where}的事项代码重复：{f['key']}")
        kind = f.get("kind", "count")
        if kind not in FIELD_KINDS:
            c.add(f"{fw}的类型“{kind}”未知（可选 count/bool/number）")
        for k in ("max", "min"):
            c.num(f, k, fw, required=False)
        kinds[f["key"]] = kind
    for n, ev in enumerate(_list(item.get("events"), c, f"{where}的加扣分规则（events）"), 1):
        ew = f"{where}第{n}条加扣分规则"
        if not isinstance(ev, Mapping):
            c.add(f"{ew}格式错误")
            continue
        if _s(ev.get("field")) not in kinds:
            c.add(f"{ew}引用了不存在的事项：{ev.get('field')}")
        elif kinds[ev["field"]] == "bool":
            c.add(f"{ew}不能按“是/否”事项计次")
        pts = c.num(ev, "points", ew)
        if pts is not None and pts.is_zero():
            c.add(f"{ew}的每次分值不能为0")
        if ev.get("to", "item") not in ("item", "total"):
            c.add(f"{ew}的“to”只能是item（计入本项）或total（直接计入总分）")
    for n, cond in enumerate(_list(item.get("zero_if"), c, f"{where}的不得分条件（zero_if）"), 1):
        zw = f"{where}第{n}个不得分条件"
        if not isinstance(cond, Mapping):
            c.add(f"{zw}格式错误")
            continue
        op = cond.get("op")
        if "ratio" in cond:
            pair = cond["ratio"]
            if not (isinstance(pair, list) and len(pair) == 2 and all(_s(p) in kinds for p in pair)):
                c.add(f"{zw}的比率必须引用两个已定义的事项")
            if op not in COMPARE_OPS:
                c.add(f"{zw}的比较方式“{op}”未知")
            c.num(cond, "value", zw)
        elif _s(cond.get("field")) in kinds:
            if kinds[cond["field"]] == "bool":
                if op not in BOOL_OPS:
                    c.add(f"{zw}对“是/否”事项只能用is_true或is_false")
            else:
                if op not in COMPARE_OPS:
                    c.add(f"{zw}的比较方式“{op}”未知")
                c.num(cond, "value", zw)
        else:
            c.add(f"{zw}引用了不存在的事项：{cond.get('field')}")


def _validate_item(c: _Checker, item: Any, n: int) -> None:
    if not isinstance(item, Mapping):
        c.add(f"第{n}个考核项目格式错误")
        return
    where = f"考核项目“{_s(item.get('name')) or _s(item.get('code')) or n}”"
    if not _s(item.get("code")):
        c.add(f"第{n}个考核项目缺少代码（code）")
    if not _s(item.get("name")):
        c.add(f"第{n}个考核项目缺少名称（name）")
    kind = _s(item.get("type"))
    if kind not in ITEM_TYPES:
        c.add(f"{where}的计分方式“{kind}”未知（可选 {'/'.join(ITEM_TYPES)}）")
        return
    if kind == "step":
        base = c.num(item, "base", where, non_negative=True)
        c.num(item, "target", where, required=False)
        c.num(item, "step", where, positive=True)
        c.num(item, "points_per_step", where, positive=True)
        c.num(item, "cap", where, required=False, non_negative=True)
        floor = c.num(item, "floor", where, required=False, non_positive=True)
        if base is not None and floor is not None and base + floor < 0:
            c.add(f"{where}的基础分加下限小于0，本项可能得负分")
    elif kind == "bands":
        c.num(item, "base", where, non_negative=True)
        c.num(item, "min", where, required=False)
        _validate_bands(c, item, where)
    elif kind == "pro_rata":
        c.num(item, "base", where, non_negative=True)
        c.num(item, "target", where, required=False, positive=True)
        c.num(item, "cap_ratio", where, required=False, positive=True)
    elif kind == "weighted":
        c.num(item, "weight", where, non_negative=True)
        c.num(item, "target", where, required=False, positive=True)
        cap = c.num(item, "cap_ratio", where, required=False, positive=True)
        floor = c.num(item, "floor_ratio", where, required=False, non_negative=True)
        if cap is not None and floor is not None and floor > cap:
            c.add(f"{where}的完成率下限高于上限")
    elif kind == "deductions":
        _validate_deductions(c, item, where)
    elif kind == "value":
        top = c.num(item, "max", where, positive=True)
        low = c.num(item, "min", where, required=False, non_negative=True)
        if top is not None and low is not None and low > top:
            c.add(f"{where}的最低分高于满分")


def _validate_warnings(c: _Checker, definition: Mapping[str, Any]) -> None:
    rules = definition.get("warnings") or []
    if not isinstance(rules, list):
        c.add("预警规则（warnings）必须是列表")
        return
    items = {_s(i.get("code")): i for i in _list(definition.get("items")) if isinstance(i, Mapping)}
    for n, w in enumerate(rules, 1):
        ww = f"第{n}条预警规则"
        if not isinstance(w, Mapping):
            c.add(f"{ww}格式错误")
            continue
        ww = f"{ww}（{w.get('rule', '')}）"
        if _s(w.get("action")) not in ACTIONS:
            c.add(f"{ww}的处理方式“{w.get('action')}”未知（可选 warn/demote/terminate）")
        metric = _s(w.get("metric"))
        if metric not in WARNING_METRICS:
            c.add(f"{ww}的指标“{metric}”未知（可选 {'/'.join(WARNING_METRICS)}）")
            continue
        op = w.get("op", "lt")
        if metric == "repeat":
            if _s(w.get("of", "demote")) not in ACTIONS:
                c.add(f"{ww}的“of”未知")
            if not isinstance(w.get("count"), int) or isinstance(w.get("count"), bool) or w["count"] < 2:
                c.add(f"{ww}的连续次数（count）必须是不小于2的整数")
            continue
        if metric == "input" and op in BOOL_OPS:
            if not _s(w.get("key")):
                c.add(f"{ww}缺少数据项（key）")
            continue
        if op not in COMPARE_OPS:
            c.add(f"{ww}的比较方式“{op}”未知（可选 eq/lt/le/gt/ge）")
        if metric == "run":
            c.num(w, "ratio", ww, positive=True)
            if not _s(w.get("series")):
                c.add(f"{ww}缺少逐月数据名称（series）")
            if not isinstance(w.get("count"), int) or isinstance(w.get("count"), bool) or w["count"] < 1:
                c.add(f"{ww}的连续月数（count）必须是正整数")
            continue
        c.num(w, "value", ww)
        if metric == "item":
            target = items.get(_s(w.get("item")))
            if target is None:
                c.add(f"{ww}引用了不存在的考核项目：{w.get('item')}")
            elif target.get("type") == "deductions":
                c.add(f"{ww}不能对扣分类项目的实际值设预警")
        elif metric == "completion":
            codes = w.get("items")
            if not isinstance(codes, list) or not codes:
                c.add(f"{ww}缺少考核项目列表（items）")
            else:
                for code in codes:
                    if _s(code) not in items:
                        c.add(f"{ww}引用了不存在的考核项目：{code}")
                    elif items[code].get("type") not in ("step", "pro_rata", "weighted"):
                        c.add(f"{ww}的项目“{code}”没有目标值，无法计算完成率")
        elif metric == "input" and not _s(w.get("key")):
            c.add(f"{ww}缺少数据项（key）")


# Parameter schemas for the parameter-only kinds and the optional params of scorecards.
# "ratio" = Decimal in [0, 1]; "dec" = any Decimal; "pos" = Decimal > 0; "nonneg" = Decimal ≥ 0; "int" = integer ≥ 0;
# "md" = "MM-DD"; "date" = "YYYY-MM-DD"; "bool"; nested dicts by schema.
PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "eva": {"rate_stock": "ratio", "rate_incr": "ratio", "scale": "pos", "floor": "nonneg",
            "base_period": "date"},
    "rewards": {"personal_share": "ratio", "info_share": "ratio", "exec_share": "ratio",
                "process_pool": "nonneg", "process_pool_unit": ("outlet",), "base_coef": "pos",
                "deputy_ratio": "ratio"},
    "bancassurance": {"kaimenhong_start": "md", "kaimenhong_end": "md",
                      "targets": {"single_kaimenhong": "nonneg", "single_full_year": "nonneg",
                                  "regular_kaimenhong": "nonneg", "regular_full_year": "nonneg"},
                      "headcount": {"district_managers": "int", "dept_managers": "int", "rms": "int"},
                      "min_new_areas": "int", "staffing_norm": "int", "daily_visits_target": "int",
                      "exclude_cancelled": "bool"},
}
SCORECARD_PARAMS: dict[str, Any] = {"base_coef": "pos", "deputy_ratio": "ratio"}
_MD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def _validate_params(c: _Checker, params: Mapping[str, Any], schema: Mapping[str, Any], where: str,
                     *, require_all: bool) -> None:
    for key, rule in schema.items():
        pw = f"{where}“{key}”"
        if key not in params:
            if require_all:
                c.add(f"{where}缺少“{key}”")
            continue
        value = params[key]
        if isinstance(rule, Mapping):
            if not isinstance(value, Mapping):
                c.add(f"{pw}格式错误")
            else:
                _validate_params(c, value, rule, f"{where}{key}.", require_all=require_all)
        elif isinstance(rule, tuple):
            if value not in rule:
                c.add(f"{pw}只能是{'/'.join(rule)}")
        elif rule == "bool":
            if not isinstance(value, bool):
                c.add(f"{pw}必须是true或false")
        elif rule == "int":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                c.add(f"{pw}必须是非负整数")
        elif rule == "md":
            if not (isinstance(value, str) and _MD.match(value)):
                c.add(f"{pw}必须是“MM-DD”格式的日期")
        elif rule == "date":
            if not (isinstance(value, str) and _DATE.match(value)):
                c.add(f"{pw}必须是“YYYY-MM-DD”格式的日期")
        else:
            d = c.num(params, key, where)
            if d is None:
                continue
            if rule == "ratio" and not (ZERO <= d <= ONE):
                c.add(f"{pw}必须在0至1之间")
            elif rule == "pos" and d <= 0:
                c.add(f"{pw}必须大于0")
            elif rule == "nonneg" and d < 0:
                c.add(f"{pw}不能为负数")


def _validate_param_consistency(c: _Checker, kind: str, params: Mapping[str, Any]) -> None:
    def dec(v: Any) -> Decimal | None:
        return _try_dec(v) if isinstance(v, (str, int)) and not isinstance(v, bool) else None

    if kind == "rewards":
        info, exe = dec(params.get("info_share")), dec(params.get("exec_share"))
        if info is not None and exe is not None and info + exe != ONE:
            c.add(f"联合营销信息获取与营销实施比例合计{fmt_num((info + exe) * HUNDRED)}%，应为100%（R-89）")
    elif kind == "bancassurance":
        targets = params.get("targets")
        if isinstance(targets, Mapping):
            for mode, label in (("single", "趸交"), ("regular", "期缴")):
                early, year = dec(targets.get(f"{mode}_kaimenhong")), dec(targets.get(f"{mode}_full_year"))
                if early is not None and year is not None and early > year:
                    c.add(f"{label}开门红目标高于全年目标（开门红计入全年，A-14）")
        start, end = params.get("kaimenhong_start"), params.get("kaimenhong_end")
        if isinstance(start, str) and isinstance(end, str) and _MD.match(start) and _MD.match(end) and start > end:
            c.add("开门红开始日期晚于结束日期")


def validate_scheme(definition: Any) -> list[str]:
    """All problems of a definition, in Chinese; an empty list means valid. Checks kinds, types, operators, numbers
    (as strings), caps ≥ 0 and floors ≤ 0, band overlaps and gaps, warning references, parameter schemas and that
    the parts add up to "expected_total" (T-61: "五个部分合计190分，应为200分")."""
    c = _Checker()
    if not isinstance(definition, Mapping):
        return ["考核方案格式错误"]
    for key in ("code", "name", "kind"):
        if not definition.get(key):
            c.add(f"考核方案缺少“{key}”")
    kind = _s(definition.get("kind"))
    if definition.get("kind") and kind not in KINDS:
        c.add(f"方案类型“{kind}”未知（可选 {'/'.join(KINDS)}）")
    try:
        json.dumps(definition, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        c.add("考核方案只能包含文字、整数、真假值、列表和字典（小数请写成字符串）")
    if kind in PARAM_KINDS:
        params = definition.get("params")
        if not isinstance(params, Mapping):
            c.add("参数方案缺少参数（params）")
        else:
            _validate_params(c, params, PARAM_SCHEMAS[kind], "参数", require_all=True)
            _validate_param_consistency(c, kind, params)
        return c.errors
    if kind not in SCORED_KINDS:
        return c.errors
    if _s(definition.get("subject")) not in SUBJECTS:
        c.add("考核对象（subject）只能是staff（员工）或outlet（网点）")
    if _s(definition.get("period")) not in PERIODS:
        c.add("考核周期（period）只能是month、quarter或year")
    items = definition.get("items")
    if not isinstance(items, list) or not items:
        c.add("考核方案至少要有一个考核项目")
        return c.errors
    codes = [_s(i.get("code")) for i in items if isinstance(i, Mapping)]
    for dup in sorted({x for x in codes if x and codes.count(x) > 1}):
        c.add(f"考核项目代码重复：{dup}")
    for n, item in enumerate(items, 1):
        _validate_item(c, item, n)
    bounds = definition.get("total")
    if bounds is not None:
        if not isinstance(bounds, Mapping):
            c.add("总分范围（total）格式错误")
        else:
            tmin = c.num(bounds, "min", "总分范围", required=False)
            tmax = c.num(bounds, "max", "总分范围", required=False)
            if tmin is not None and tmax is not None and tmin > tmax:
                c.add("总分下限高于上限")
    params = definition.get("params")
    if params is not None:
        if not isinstance(params, Mapping):
            c.add("参数（params）格式错误")
        else:
            _validate_params(c, params, SCORECARD_PARAMS, "参数", require_all=False)
    expected = c.num(definition, "expected_total", "考核方案", required=False, positive=True)
    nominal = [_try_dec(i.get({"weighted": "weight", "value": "max"}.get(_s(i.get("type")), "base")))
               if isinstance(i, Mapping) else None for i in items]
    if expected is not None and all(v is not None for v in nominal):
        total = sum(nominal, ZERO)
        if total != expected:
            c.add(f"{_cn_count(len(items))}个部分合计{fmt_num(total)}分，应为{fmt_num(expected)}分")
    _validate_warnings(c, definition)
    return c.errors
