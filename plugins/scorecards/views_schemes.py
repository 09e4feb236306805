"""Scheme pages of the scorecards plugin: the list of the 分行's schemes, one scheme explained in words with its
version history, and a structured edit form that stores a new version (R-78–R-98, A-18–A-25, T-61)."""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from crm.access import can, policy
from crm.extensions import db
from crm.models import User
from crm.roles import GRADES, POSTS, SCOPE_ALL, grade_label, post_label
from crm.web import toast
from plugins.scorecards import engine, services
from plugins.scorecards.models import PERIOD_KINDS, ScorecardScheme
from plugins.scorecards.services import ServiceError
from plugins.scorecards.views import bp

VIEW, SCHEMES = "scorecards.view", "scorecards.schemes"
HUNDRED = Decimal(100)
MAX_NUMBER = Decimal("1e15")

# The scheme groups of the list page (issue 7): the 003(a) KPI tables, the 003(e) monthly appraisal, the 002
# balanced scorecards (with the 200-point and 千分制 templates) and the parameter-only schemes.
GROUPS = (("kpi", _l("KPI积分表")), ("monthly", _l("月度考核")), ("bsc", _l("平衡计分卡")), ("params", _l("参数")))
# Rule ids of the parameter schemes, which carry no per-item "rule".
PARAM_RULES = {"003f-eva": ("R-84", "R-85", "R-86"), "002-rewards": ("R-88", "R-89", "R-90", "R-93"),
               "000-bancassurance": ("R-95", "R-96", "R-97", "R-98")}

# every comparison is a choice; "X以下" reads as the strict 低于 by default.
OP_LABELS = {"lt": _l("低于"), "le": _l("不高于"), "gt": _l("高于"), "ge": _l("不低于"), "eq": _l("等于")}
OP_SYMBOLS = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥", "eq": "="}
ACTION_LABELS = {"warn": _l("提示"), "demote": _l("降级"), "terminate": _l("解除劳动合同")}
TYPE_LABELS = {"step": _l("按档加减分"), "bands": _l("分档计分"), "pro_rata": _l("按完成比例计分"),
               "weighted": _l("权重×完成率"), "deductions": _l("基础分加扣分"), "value": _l("评定得分")}

# The numeric fields of each item type the form edits: (key, label, required, percent). Percent fields are
# stored as fractions ("1.2") and typed as percent ("120").
# Items whose figure may come from the CRM instead of entry (the editor's 数据来源 select).
SOURCED_TYPES = ("step", "pro_rata", "weighted", "bands")
ITEM_FIELDS: dict[str, tuple[tuple[str, Any, bool, bool], ...]] = {
    "step": (("base", _l("基础分"), True, False), ("target", _l("目标"), False, False),
             ("step", _l("每档幅度"), True, False), ("points_per_step", _l("每档分值"), True, False),
             ("cap", _l("加分上限"), False, False), ("floor", _l("扣分下限（负数）"), False, False)),
    "bands": (("base", _l("满分"), True, False), ("min", _l("取值下限"), False, False)),
    "pro_rata": (("base", _l("基础分"), True, False), ("target", _l("目标"), False, False),
                 ("cap_ratio", _l("完成率上限（%）"), False, True)),
    "weighted": (("weight", _l("权重（分）"), True, False), ("target", _l("目标"), False, False),
                 ("cap_ratio", _l("完成率上限（%）"), False, True),
                 ("floor_ratio", _l("完成率下限（%）"), False, True)),
    "deductions": (("base", _l("基础分"), True, False), ("floor", _l("本项最低分"), False, False)),
    "value": (("max", _l("满分"), True, False), ("min", _l("最低分"), False, False)),
}

# Parameter labels; ratios are shown and typed in percent.
PARAM_LABELS = {
    "rate_stock": _l("存量EVA计提比例"), "rate_incr": _l("增量EVA计提比例"), "scale": _l("系数换算倍数（÷100%×N）"),
    "floor": _l("系数下限"), "base_period": _l("基期（YYYY-MM-DD）"),
    "personal_share": _l("个人营销奖励兑现给个人的比例"), "info_share": _l("联合营销：信息获取比例"),
    "exec_share": _l("联合营销：营销实施比例"), "process_pool": _l("过程管理工资（元/月）"),
    "process_pool_unit": _l("过程管理工资计提单位"), "base_coef": _l("千分制基准系数"),
    "deputy_ratio": _l("副职系数占负责人系数的比例"),
    "kaimenhong_start": _l("开门红开始日（MM-DD）"), "kaimenhong_end": _l("开门红结束日（MM-DD）"),
    "targets": _l("保费目标（元）"), "single_kaimenhong": _l("趸交开门红"), "single_full_year": _l("趸交全年"),
    "regular_kaimenhong": _l("期缴开门红"), "regular_full_year": _l("期缴全年"),
    "headcount": _l("人力目标（人）"), "district_managers": _l("营业区经理"), "dept_managers": _l("营业部经理"),
    "rms": _l("客户经理"), "min_new_areas": _l("新开营业区不少于（个）"), "staffing_norm": _l("每网点银保有效人力（人）"),
    "daily_visits_target": _l("日访量目标（次）"), "exclude_cancelled": _l("契撤保单不计入业绩"),
}
CHOICE_LABELS = {"outlet": _l("每个网点")}


def _rule_key(rule: str) -> tuple[int, str]:
    match = re.match(r"R-(\d+)", rule)
    return (int(match.group(1)) if match else 9999, rule)


# ---------------------------------------------------------------- numbers

def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _plain(number: Decimal) -> str:
    """A Decimal as the string a scheme stores: "25", "0.1", "-40" (no exponent, no trailing zeros)."""
    return "0" if number.is_zero() else format(number.normalize(), "f")


def _show(value: Any, percent: bool = False) -> str:
    """A stored value as the form shows it (fractions as percent for percent fields)."""
    if value is None:
        return ""
    number = _dec(value)
    if number is None:
        return str(value)
    return _plain(number * HUNDRED) if percent else str(value)


def _num(value: Any, unit: str = "") -> str:
    number = _dec(value)
    return str(value) if number is None else engine.fmt_val(number, unit)


def _signed(value: Any) -> str:
    number = _dec(value)
    return str(value) if number is None else engine.fmt_signed(number)


def _pct(value: Any) -> str:
    number = _dec(value)
    return str(value) if number is None else engine.fmt_num(number * HUNDRED) + "%"


def _parse(raw: str | None, old: Any, *, percent: bool = False) -> tuple[str | None, str | None]:
    """Typed text → (stored string or None when blank, error). An unchanged number keeps its stored spelling, so
    saving an untouched form changes nothing (no spurious "0.70 → 0.7")."""
    text = unicodedata.normalize("NFKC", raw or "").strip().replace("\u2212", "-").replace(",", "")
    text = text.rstrip("%").strip()
    if not text:
        return None, None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None, _("须为数字")
    if not number.is_finite() or abs(number) >= MAX_NUMBER:
        return None, _("须为数字")
    if percent:
        number = number / HUNDRED
    before = _dec(old)
    if before is not None and before == number and isinstance(old, str):
        return old, None
    return _plain(number), None


def _parse_int(raw: str | None) -> tuple[int | None, str | None]:
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return None, None
    if not text.isdigit() or len(text) > 9:
        return None, _("须为非负整数")
    return int(text), None


# ---------------------------------------------------------------- explaining a scheme (read view)

def _step_text(step: Any, unit: str) -> str:
    number = _dec(step)
    if number is None:
        return str(step)
    return f"{engine.fmt_num(number)}个百分点" if unit == "%" else engine.fmt_val(number, unit)


def band_text(band: dict[str, Any], unit: str) -> str:
    """A band in words (R-78 NPL, A-19): "等于0", "0（不含）至1%（不含）", "1（含）至5%（含）", "高于5%"."""
    if "eq" in band:
        return _("等于%(v)s", v=_num(band["eq"], unit))
    lower = next(((k, band[k]) for k in ("gt", "ge") if k in band), None)
    upper = next(((k, band[k]) for k in ("lt", "le") if k in band), None)
    if lower and upper:
        low = _dec(lower[1])  # "0（不含）至1%（不含）": the unit once, after the upper bound (as the engine says it)
        return _("%(a)s（%(ac)s）至%(b)s（%(bc)s）", a=engine.fmt_num(low, group=unit == "元") if low is not None
                 else lower[1], b=_num(upper[1], unit),
                 ac=_("含") if lower[0] == "ge" else _("不含"), bc=_("含") if upper[0] == "le" else _("不含"))
    op, value = lower or upper or ("", "")
    return f"{OP_LABELS.get(op, op)}{_num(value, unit)}"


def band_ops(band: dict[str, Any]) -> str:
    """The band's conditions as symbols: "> 0 且 < 1"."""
    parts = [f"{OP_SYMBOLS[k]} {band[k]}" for k in ("eq", "gt", "ge", "lt", "le") if k in band]
    return _(" 且 ").join(parts)


def item_rule_text(item: dict[str, Any]) -> str:
    """One item's rule in words, e.g. R-78 deposits: "基础40分；目标30%，每±1个百分点±2分，加分上限+20，扣分下限−40"."""
    kind, unit = item.get("type"), item.get("unit", "")
    if kind == "step":
        target = _("目标%(t)s", t=_num(item["target"], unit)) if item.get("target") is not None \
            else _("目标按人按期设定")
        limits = [_("加分上限%(c)s", c=_signed(item["cap"])) if item.get("cap") is not None else _("加分不设上限"),
                  _("扣分下限%(f)s", f=_signed(item["floor"])) if item.get("floor") is not None
                  else _("扣分不设下限")]
        return _("基础%(b)s分；%(t)s，每±%(s)s±%(p)s分，%(l)s（不足一档不计，A-18）", b=_num(item.get("base")), t=target,
                 s=_step_text(item.get("step"), unit), p=_num(item.get("points_per_step")), l="，".join(limits))
    if kind == "bands":
        return _("满分%(b)s分，按实际值所在档次计分（见下表，A-19）", b=_num(item.get("base")))
    if kind == "pro_rata":
        target = _num(item["target"], unit) if item.get("target") is not None else _("按人按期设定")
        cap = _dec(item.get("cap_ratio")) or Decimal(1)
        tail = _("完成目标后不另加分") if cap == 1 else _("完成率最高按%(c)s计", c=_pct(cap))
        return _("基础%(b)s分，目标%(t)s，按完成比例计分（%(b)s×实际÷目标，保留两位小数），%(tail)s",
                 b=_num(item.get("base")), t=target, tail=tail)
    if kind == "weighted":
        target = _num(item["target"], unit) if item.get("target") is not None else _("按人按月设定")
        parts = [_("权重%(w)s分，目标%(t)s，得分＝权重×完成率", w=_num(item.get("weight")), t=target)]
        if item.get("cap_ratio") is not None:
            parts.append(_("完成率最高按%(c)s计", c=_pct(item["cap_ratio"])))
        if item.get("floor_ratio") is not None:
            parts.append(_("最低按%(f)s计", f=_pct(item["floor_ratio"])))
        return "，".join(parts)
    if kind == "deductions":
        text = _("基础%(b)s分", b=_num(item.get("base")))
        if item.get("scored") == "quarter":
            text += _("（按季度考核，季度内各月用本季度数据，A-23）")
        if item.get("floor") is not None:
            text += _("，扣至%(f)s分为止", f=_num(item["floor"]))
        if item.get("spill"):
            text += _("，不足部分从综合考核总分中扣除")
        return text
    if kind == "value":
        low = item.get("min")
        return _("评定得分，满分%(m)s分", m=_num(item.get("max"))) + (
            _("，最低%(n)s分", n=_num(low)) if low is not None else "")
    return ""


def source_text(item: dict[str, Any]) -> str:
    """Where an item's figure comes from, in words."""
    label = services.SOURCE_LABELS.get(item.get("source", ""))
    return str(label) if label else ""


def event_rows(item: dict[str, Any]) -> list[dict[str, str]]:
    """R-83: each counted matter with its points per event and where they go (the item or the total)."""
    fields = {f["key"]: f for f in item.get("fields", [])}
    rows = []
    for ev in item.get("events") or []:
        f = fields.get(ev.get("field"), {})
        unit = ev.get("per") or f.get("unit", "次")
        limit = _("，最多%(m)s", m=_num(f["max"])) if f.get("max") is not None else ""
        rows.append({"label": f.get("label", ev.get("field", "")),
                     "text": _("每%(u)s%(p)s分", u=unit, p=_signed(ev.get("points"))) + limit,
                     "to": _("直接计入总分") if ev.get("to") == "total" else _("计入本项")})
    return rows


def zero_rows(item: dict[str, Any]) -> list[str]:
    labels = {f["key"]: f["label"] for f in item.get("fields", [])}
    out = []
    for cond in item.get("zero_if") or []:
        if "ratio" in cond:
            num, den = cond["ratio"]
            label = cond.get("label") or f"{labels.get(num, num)}÷{labels.get(den, den)}"
            out.append(f"{label}{OP_LABELS.get(cond['op'], cond['op'])}{_num(cond.get('value'), '%')}")
        elif cond.get("op") in engine.BOOL_OPS:
            out.append(labels.get(cond.get("field"), cond.get("field", "")))
        else:
            out.append(f"{labels.get(cond.get('field'), cond.get('field'))}{OP_LABELS.get(cond.get('op'), '')}"
                       f"{_num(cond.get('value'), cond.get('unit', ''))}")
    return out


def warning_text(w: dict[str, Any], definition: dict[str, Any]) -> str:
    """R-80/R-81 in words: "年度综合得分低于90分：降级（R-80）"."""
    items = {i["code"]: i for i in definition.get("items", [])}
    op = str(OP_LABELS.get(w.get("op", "lt"), w.get("op", "")))
    metric = w.get("metric")
    if metric == "total":
        label = w.get("label") or _("%(p)s综合得分", p=PERIOD_KINDS.get(definition.get("period", ""), ""))
        core = f"{label}{op}{_num(w.get('value'), '分')}"
    elif metric == "item":
        item = items.get(w.get("item"), {})
        core = f"{w.get('label') or item.get('label') or item.get('name', w.get('item'))}{op}" \
               f"{_num(w.get('value'), w.get('unit') or item.get('unit', ''))}"
    elif metric == "completion":
        names = "、".join(items.get(c, {}).get("label") or items.get(c, {}).get("name", c) for c in w.get("items", []))
        core = _("%(n)s任一项完成率（实际÷目标，A-22）%(o)s%(v)s", n=names, o=op, v=_num(w.get("value"), "%"))
    elif metric == "input":
        label = w.get("label", w.get("key", ""))
        core = label if w.get("op") in engine.BOOL_OPS else f"{label}{op}{_num(w.get('value'), w.get('unit', ''))}"
    elif metric == "run":
        core = _("%(l)s连续%(c)s个月%(o)s%(b)s的%(r)s%%", l=w.get("label", ""), c=w.get("count"), o=op,
                 b=w.get("base_label", _("基数")), r=_num(w.get("ratio")))
    elif metric == "repeat":
        span = {"year": _("年"), "quarter": _("个季度"), "month": _("个月")}.get(definition.get("period", ""), "")
        core = _("连续%(c)s%(s)s%(a)s", c=w.get("count"), s=span, a=ACTION_LABELS.get(w.get("of", "demote"), ""))
    else:
        core = str(metric)
    return f"{core}：{ACTION_LABELS.get(w.get('action'), w.get('action'))}"


def group_of(scheme: ScorecardScheme) -> str:
    if scheme.kind in engine.PARAM_KINDS:
        return "params"
    if scheme.code.startswith("003a"):
        return "kpi"
    if scheme.code.startswith("002"):
        return "bsc"
    if scheme.code.startswith("003e"):
        return "monthly"
    return "kpi" if (scheme.definition or {}).get("period") == "year" else "monthly"


def rule_ids(scheme: ScorecardScheme) -> list[str]:
    d = scheme.definition or {}
    found = {i.get("rule") for i in d.get("items", []) if i.get("rule")}
    found |= {w.get("rule") for w in d.get("warnings", []) if w.get("rule")}
    found |= set(PARAM_RULES.get(scheme.code, ()))
    return sorted(found, key=_rule_key)


def assesses(scheme: ScorecardScheme) -> str:
    """Whom a scheme assesses, in words: posts (and grades), outlets, or nobody yet."""
    if scheme.kind in engine.PARAM_KINDS:
        return _("参数方案，不直接计分")
    if scheme.subject == "outlet":
        return _("网点")
    if not scheme.posts:
        return _("未指定岗位（不参与计算）")
    text = "、".join(post_label(p) for p in scheme.posts)
    if scheme.grades:
        text += "（" + "、".join(grade_label(g) for g in scheme.grades) + "）"
    return text


def param_fields(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every parameter of a scheme as a form field: name p_<path>, label, kind (num/pct/int/text/bool/choice)."""
    kind = definition.get("kind")
    schema = engine.PARAM_SCHEMAS.get(kind, engine.SCORECARD_PARAMS)
    out: list[dict[str, Any]] = []

    def walk(params: dict[str, Any], rules: dict[str, Any], prefix: str, group: str) -> None:
        for key, value in params.items():
            rule = rules.get(key)
            path = f"{prefix}{key}"
            label = str(PARAM_LABELS.get(key, key))
            if isinstance(value, dict):
                walk(value, rule if isinstance(rule, dict) else {}, path + ".", label)
                continue
            if isinstance(rule, tuple):
                field_kind = "choice"
            elif rule == "bool" or isinstance(value, bool):
                field_kind = "bool"
            elif rule == "int" or (isinstance(value, int) and rule is None):
                field_kind = "int"
            elif rule in ("md", "date"):
                field_kind = "text"
            elif rule == "ratio":
                field_kind = "pct"
            elif rule is None and not isinstance(value, str):
                continue  # an unknown non-text value: shown, not edited
            else:
                field_kind = "num"
            out.append({"name": f"p_{path}", "path": path, "key": key, "group": group, "kind": field_kind,
                        "label": label + ("（%）" if field_kind == "pct" else ""), "value": value,
                        "choices": [(c, str(CHOICE_LABELS.get(c, c))) for c in rule] if field_kind == "choice"
                        else []})

    walk(definition.get("params") or {}, schema, "", "")
    return out


def param_display(field: dict[str, Any]) -> str:
    value = field["value"]
    if field["kind"] == "pct":
        return _pct(value)
    if field["kind"] == "bool":
        return _("是") if value else _("否")
    if field["kind"] == "choice":
        return str(CHOICE_LABELS.get(value, value))
    if field["kind"] == "num":
        number = _dec(value)
        return str(value) if number is None else engine.fmt_num(number, group=True)
    return str(value)


# ---------------------------------------------------------------- the form: definition ⇄ typed values

def _lower_upper(band: dict[str, Any]) -> tuple[tuple[str, Any], tuple[str, Any]]:
    ops = [k for k in ("eq", "gt", "ge", "lt", "le") if k in band]
    first = (ops[0], band[ops[0]]) if ops else ("", "")
    second = (ops[1], band[ops[1]]) if len(ops) > 1 else ("", "")
    return first, second


def form_values(definition: dict[str, Any]) -> dict[str, Any]:
    """The stored definition as the values of the edit form (field name → text; "posts" → list)."""
    v: dict[str, Any] = {"name": definition.get("name", ""), "posts": list(definition.get("posts") or [])}
    total = definition.get("total")
    if isinstance(total, dict):
        v["total_min"], v["total_max"] = _show(total.get("min")), _show(total.get("max"))
    for n, item in enumerate(definition.get("items") or []):
        for key, _label, _req, percent in ITEM_FIELDS.get(item.get("type"), ()):
            v[f"i{n}_{key}"] = _show(item.get(key), percent)
        if item.get("type") in SOURCED_TYPES:
            v[f"i{n}_source"] = item.get("source", "")
        for k, band in enumerate(item.get("bands") or []):
            (op1, v1), (op2, v2) = _lower_upper(band)
            v.update({f"i{n}_b{k}_op1": op1, f"i{n}_b{k}_v1": _show(v1), f"i{n}_b{k}_op2": op2,
                      f"i{n}_b{k}_v2": _show(v2), f"i{n}_b{k}_points": _show(band.get("points"))})
        for k, ev in enumerate(item.get("events") or []):
            v[f"i{n}_e{k}_points"] = _show(ev.get("points"))
        for k, cond in enumerate(item.get("zero_if") or []):
            if cond.get("op") not in engine.BOOL_OPS:
                v[f"i{n}_z{k}_op"], v[f"i{n}_z{k}_value"] = cond.get("op", ""), _show(cond.get("value"))
    for k, w in enumerate(definition.get("warnings") or []):
        v[f"w{k}_action"] = w.get("action", "")
        v[f"w{k}_op"] = w.get("op", "lt")
        for key in ("value", "ratio", "count"):
            if key in w:
                v[f"w{k}_{key}"] = _show(w[key])
    for field in param_fields(definition):
        value = field["value"]
        if field["kind"] == "bool":
            v[field["name"]] = "1" if value else "0"
        else:
            v[field["name"]] = _show(value, field["kind"] == "pct")
    return v


def warning_fields(w: dict[str, Any]) -> tuple[str, ...]:
    """Which parts of a warning the form edits (R-80/R-81; A-21 the operator)."""
    metric = w.get("metric")
    if metric == "repeat":
        return ("count",)
    if metric == "input" and w.get("op") in engine.BOOL_OPS:
        return ()
    if metric == "run":
        return ("op", "ratio", "count")
    return ("op", "value")


def build_definition(old: dict[str, Any], form: MultiDict) -> tuple[dict[str, Any], dict[str, str]]:
    """The new definition from the old one and the typed values. Only known keys change (a field the form did not
    send keeps its stored value); the engine validates the result afterwards (T-61)."""
    new = copy.deepcopy(old)
    errors: dict[str, str] = {}

    def number(name: str, label: Any, old_value: Any, *, required: bool = False, percent: bool = False
               ) -> tuple[bool, str | None]:
        """(sent, value) for one numeric field; records the error."""
        if name not in form:
            return False, old_value
        value, error = _parse(form.get(name), old_value, percent=percent)
        if error:
            errors[name] = _("%(f)s%(e)s", f=str(label), e=error)
        elif value is None and required:
            errors[name] = _("请填写%(f)s", f=str(label))
        return True, value

    if "name" in form:
        name = (form.get("name") or "").strip()
        if not name:
            errors["name"] = _("请填写方案名称")
        new["name"] = name[:100]
    if new.get("kind") in engine.SCORED_KINDS and "posts_sent" in form:
        posts = [p.code for p in POSTS if p.code in form.getlist("posts")]
        if posts or "posts" in new:
            new["posts"] = posts
    if isinstance(new.get("total"), dict):
        for key, label in (("min", _("总分下限")), ("max", _("总分上限"))):
            sent, value = number(f"total_{key}", label, new["total"].get(key))
            if sent:
                _put(new["total"], key, value)
    for n, item in enumerate(new.get("items") or []):
        for key, label, required, percent in ITEM_FIELDS.get(item.get("type"), ()):
            sent, value = number(f"i{n}_{key}", f"{item.get('name', '')}的{label}", item.get(key),
                                 required=required, percent=percent)
            if sent:
                _put(item, key, value)
        if item.get("type") in SOURCED_TYPES and f"i{n}_source" in form:
            source = form.get(f"i{n}_source") or ""
            if source and source not in services.SOURCE_LABELS:
                errors[f"i{n}_source"] = _("%(i)s：请选择数据来源", i=item.get("name", ""))
            elif source:
                item["source"] = source
            else:
                item.pop("source", None)
        if item.get("type") == "bands" and f"i{n}_b0_points" in form:
            item["bands"] = _bands(n, item, form, errors)
        for k, ev in enumerate(item.get("events") or []):
            sent, value = number(f"i{n}_e{k}_points", _("%(i)s第%(k)d条加扣分的分值", i=item.get("name", ""), k=k + 1),
                                 ev.get("points"), required=True)
            if sent and value is not None:
                ev["points"] = value
        for k, cond in enumerate(item.get("zero_if") or []):
            if cond.get("op") in engine.BOOL_OPS or f"i{n}_z{k}_op" not in form:
                continue
            op = form.get(f"i{n}_z{k}_op")
            if op not in engine.COMPARE_OPS:
                errors[f"i{n}_z{k}_op"] = _("请选择比较方式")
            else:
                cond["op"] = op
            sent, value = number(f"i{n}_z{k}_value", _("%(i)s不得分条件的数值", i=item.get("name", "")),
                                 cond.get("value"), required=True)
            if sent and value is not None:
                cond["value"] = value
    for k, w in enumerate(new.get("warnings") or []):
        where = _("第%(k)d条预警规则", k=k + 1)
        action = form.get(f"w{k}_action")
        if action is not None:
            if action in engine.ACTIONS:
                w["action"] = action
            else:
                errors[f"w{k}_action"] = _("%(w)s：请选择处理方式", w=where)
        parts = warning_fields(w)
        if "op" in parts and f"w{k}_op" in form:
            op = form.get(f"w{k}_op")
            if op in engine.COMPARE_OPS:
                w["op"] = op
            else:
                errors[f"w{k}_op"] = _("%(w)s：请选择比较方式", w=where)
        for key, label in (("value", _("的数值")), ("ratio", _("的比例（%）"))):
            if key in parts:
                sent, value = number(f"w{k}_{key}", f"{where}{label}", w.get(key), required=True)
                if sent and value is not None:
                    w[key] = value
        if "count" in parts and f"w{k}_count" in form:
            count, error = _parse_int(form.get(f"w{k}_count"))
            if error or count is None:
                errors[f"w{k}_count"] = _("%(w)s的次数%(e)s", w=where, e=error or _("须填写"))
            else:
                w["count"] = count
    _params(new, form, errors)
    return new, errors


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Store a typed value; a blank optional field removes the key (or keeps an explicit null, e.g. a per-person
    target)."""
    if value is None:
        if target.get(key) is not None:
            target.pop(key, None)
    else:
        target[key] = value


def _bands(n: int, item: dict[str, Any], form: MultiDict, errors: dict[str, str]) -> list[dict[str, Any]]:
    """The band rows of item n (A-19: each band's bounds and operators are editable); a row left empty is dropped,
    the spare last row adds a band."""
    old = item.get("bands") or []
    bands = []
    for k in range(len(old) + 1):
        key = f"i{n}_b{k}_"
        before = old[k] if k < len(old) else {}
        typed = [form.get(key + s, "").strip() for s in ("op1", "v1", "op2", "v2", "points")]
        if not any(typed):
            continue
        band: dict[str, Any] = {k2: v for k2, v in before.items() if k2 == "label"}
        ops = []
        for slot in ("1", "2"):
            op = form.get(f"{key}op{slot}", "")
            raw = form.get(f"{key}v{slot}", "")
            if not op:
                if raw.strip():
                    errors[f"{key}op{slot}"] = _("%(i)s第%(k)d档：请选择比较方式", i=item.get("name", ""), k=k + 1)
                continue
            if op not in engine.COMPARE_OPS:
                errors[f"{key}op{slot}"] = _("%(i)s第%(k)d档：比较方式无效", i=item.get("name", ""), k=k + 1)
                continue
            if op in ops:
                errors[f"{key}op{slot}"] = _("%(i)s第%(k)d档：两个条件不能相同", i=item.get("name", ""), k=k + 1)
                continue
            value, error = _parse(raw, before.get(op))
            if error or value is None:
                errors[f"{key}v{slot}"] = _("%(i)s第%(k)d档的数值%(e)s", i=item.get("name", ""), k=k + 1,
                                            e=error or _("须填写"))
                continue
            ops.append(op)
            band[op] = value
        if not ops and not any(e.startswith(key) for e in errors):
            errors[f"{key}op1"] = _("%(i)s第%(k)d档：请选择比较方式", i=item.get("name", ""), k=k + 1)
        points, error = _parse(form.get(key + "points"), before.get("points"))
        if error or points is None:
            errors[key + "points"] = _("%(i)s第%(k)d档的分值%(e)s", i=item.get("name", ""), k=k + 1,
                                       e=error or _("须填写"))
        else:
            band["points"] = points
        bands.append(band)
    return bands


def _params(new: dict[str, Any], form: MultiDict, errors: dict[str, str]) -> None:
    """Every parameter the form sent (R-84–R-98): numbers, percent ratios, whole numbers, dates, yes/no, choices."""
    for field in param_fields(new):
        name = field["name"]
        if name not in form:
            continue
        *parents, key = field["path"].split(".")
        target = new["params"]
        for p in parents:
            target = target[p]
        raw = form.get(name)
        label = field["label"]
        if field["kind"] in ("num", "pct"):
            value, error = _parse(raw, target.get(key), percent=field["kind"] == "pct")
            if error or value is None:
                errors[name] = _("%(f)s%(e)s", f=label, e=error or _("须填写"))
            else:
                target[key] = value
        elif field["kind"] == "int":
            value, error = _parse_int(raw)
            if error or value is None:
                errors[name] = _("%(f)s%(e)s", f=label, e=error or _("须填写"))
            else:
                target[key] = value
        elif field["kind"] == "bool":
            target[key] = raw == "1"
        elif field["kind"] == "choice":
            if raw in [c for c, _label in field["choices"]]:
                target[key] = raw
            else:
                errors[name] = _("%(f)s：请选择", f=label)
        else:
            text = unicodedata.normalize("NFKC", raw or "").strip()
            if not text:
                errors[name] = _("请填写%(f)s", f=label)
            else:
                target[key] = text[:20]


# ---------------------------------------------------------------- pages

def _current_codes() -> dict[str, ScorecardScheme]:
    """The versions the user's 分行 computes with (the system administrator: the 全行 defaults)."""
    return {s.code: s for s in services.current_schemes(current_user.root_branch_id, include_inactive=True)}


@bp.route("/schemes")
@policy(permission=VIEW)
def schemes():
    """All current schemes of the 分行, grouped (KPI积分表 / 月度考核 / 平衡计分卡 / 参数)."""
    rows = services.current_schemes(current_user.root_branch_id, include_inactive=True)
    groups = [(key, label, [s for s in rows if group_of(s) == key]) for key, label in GROUPS]
    return render_template("scorecards/schemes.html", groups=[g for g in groups if g[2]], total=len(rows),
                           rule_ids=rule_ids, assesses=assesses, periods=PERIOD_KINDS, can_edit=can(SCHEMES))


def _history(scheme: ScorecardScheme) -> list[dict[str, Any]]:
    """Every version of the scheme's line (the 分行's copy and the 全行 default it started from), newest first,
    each with who saved it, the note and what changed against the version it was based on."""
    rows = list(services.scheme_history(scheme))
    if scheme.branch_id is not None:  # the 全行 default versions this copy started from
        rows += db.session.execute(select(ScorecardScheme).where(
            ScorecardScheme.code == scheme.code, ScorecardScheme.branch_id.is_(None))
            .order_by(ScorecardScheme.revision.desc())).scalars().all()
    ids = {r.based_on_id for r in rows if r.based_on_id} - {r.id for r in rows}
    bases = {r.id: r for r in rows}
    if ids:
        bases.update({r.id: r for r in db.session.execute(
            select(ScorecardScheme).where(ScorecardScheme.id.in_(ids))).scalars()})
    users = {r.created_by_id for r in rows if r.created_by_id}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(users))).all()) if users else {}
    out = []
    for row in rows:
        before = bases.get(row.based_on_id) if row.based_on_id else None
        changes = services.describe_changes(before.definition, row.definition) if before is not None else []
        out.append({"row": row, "by": names.get(row.created_by_id, ""), "changes": changes,
                    "based_on": before})
    return out


def _scheme_page(scheme: ScorecardScheme, status: int = 200, *, values: dict[str, Any] | None = None,
                 errors: dict[str, str] | None = None, general: list[str] | None = None, note: str = "",
                 raw: str | None = None):
    current = _current_codes().get(scheme.code)
    is_current = current is not None and current.id == scheme.id
    can_edit = can(SCHEMES) and is_current and not (
        scheme.branch_id is not None and current_user.scope == SCOPE_ALL)
    definition = scheme.definition or {}
    return render_template(
        "scorecards/scheme.html", scheme=scheme, d=definition, current=current, is_current=is_current,
        can_edit=can_edit, history=_history(scheme), values=values if values is not None else form_values(definition),
        errors=errors or {}, general=general or [], note=note, open_form=status != 200 or request.args.get("edit"),
        item_fields=ITEM_FIELDS, type_labels=TYPE_LABELS, op_labels=OP_LABELS, action_labels=ACTION_LABELS,
        item_rule_text=item_rule_text, band_text=band_text, band_ops=band_ops, event_rows=event_rows,
        source_text=source_text, source_labels=services.available_sources(), sourced_types=SOURCED_TYPES,
        zero_rows=zero_rows, warning_text=warning_text, warning_fields=warning_fields,
        params=param_fields(definition), param_display=param_display, posts=POSTS, assesses=assesses,
        rule_ids=rule_ids(scheme), periods=PERIOD_KINDS, group_label=dict(GROUPS)[group_of(scheme)],
        grades={g.code: g for g in GRADES}, nominal=_nominal(definition), raw_allowed=current_user.scope == SCOPE_ALL,
        raw=raw if raw is not None else json.dumps(definition, ensure_ascii=False, indent=2)), status


def _nominal(definition: dict[str, Any]) -> str | None:
    """The sum of the parts (R-92: a 200-point template's five parts), for the read view."""
    items = definition.get("items") or []
    if not items:
        return None
    parts = [_dec(i.get({"weighted": "weight", "value": "max"}.get(i.get("type"), "base"))) for i in items]
    return None if any(p is None for p in parts) else engine.fmt_num(sum(parts, Decimal(0)))


def _raw_definition(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The system administrator's raw JSON: parsed (numbers stay as typed: a float is refused by the engine's
    validation, which asks for strings), checked to be an object; validation follows in save_scheme."""
    if len(text) > 200_000:
        return {}, {"raw_json": _("方案定义过长")}
    try:
        definition = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        return {}, {"raw_json": _("JSON格式错误（第%(n)s行）", n=line) if line else _("JSON格式错误")}
    if not isinstance(definition, dict):
        return {}, {"raw_json": _("方案定义必须是一个JSON对象")}
    floats = _decimals(definition)
    if floats:
        return {}, {"raw_json": _("数值请写成字符串（如\"30\"）：%(k)s", k="、".join(floats[:5]))}
    return definition, {}


def _decimals(value: Any, path: str = "") -> list[str]:
    """Where a parsed JSON holds a decimal number (money and rates are strings in a scheme)."""
    if isinstance(value, Decimal):
        return [path or "（根）"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _decimals(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for n, v in enumerate(value) for p in _decimals(v, f"{path}[{n}]")]
    return []


def _visible_or_404(scheme_id: int) -> ScorecardScheme:
    scheme = services.visible_scheme(scheme_id, current_user)
    if scheme is None:
        abort(404)
    return scheme


def _editor_or_403() -> None:
    """Viewing needs scorecards.view (the route policy); changing a scheme needs scorecards.schemes."""
    if not can(SCHEMES):
        abort(403)


@bp.route("/schemes/<int:scheme_id>")
@policy(permission=VIEW)
def scheme(scheme_id: int):
    """One scheme explained: items and their rules in words, warnings, parameters, versions; the edit form for
    holders of scorecards.schemes."""
    return _scheme_page(_visible_or_404(scheme_id))


@bp.route("/schemes/<int:scheme_id>", methods=["POST"])
@policy(permission=VIEW)
def scheme_save(scheme_id: int):
    """Save the edited scheme as a NEW version (of the 分行's copy when it was a 全行 default); a scheme whose parts
    do not add up is refused with 422 and nothing stored (T-61)."""
    _editor_or_403()
    scheme = _visible_or_404(scheme_id)
    current = _current_codes().get(scheme.code)
    values = request.form.to_dict()
    values["posts"] = request.form.getlist("posts")
    note = (request.form.get("note") or "").strip()
    if current is None or current.id != scheme.id:
        return _scheme_page(scheme, 409, values=values, note=note,
                            general=[_("这是历史版本，不能修改；请在当前版本上修改")])
    if "raw_json" in request.form:
        if current_user.scope != SCOPE_ALL:
            abort(403)  # the raw definition is for the system administrator only; everyone else uses the form
        definition, errors = _raw_definition(request.form.get("raw_json") or "")
        if errors:
            return _scheme_page(scheme, 422, errors=errors, note=note, general=list(errors.values()),
                                raw=request.form.get("raw_json") or "")
        values = None
    else:
        definition, errors = build_definition(scheme.definition or {}, request.form)
    if errors:
        return _scheme_page(scheme, 422, values=values, errors=errors, note=note, general=list(errors.values()))
    try:
        row = services.save_scheme(current_user, scheme.id, definition, note or None)
    except ServiceError as exc:
        db.session.rollback()
        return _scheme_page(db.session.get(ScorecardScheme, scheme_id), 422, values=values, note=note,
                            general=[m for m in str(exc).split("；") if m], raw=request.form.get("raw_json"))
    toast(_("已保存为第%(n)d版", n=row.revision))
    return redirect(url_for("scorecards.scheme", scheme_id=row.id))


@bp.route("/schemes/<int:scheme_id>/active", methods=["POST"])
@policy(permission=VIEW)
def scheme_active(scheme_id: int):
    """Switch a scheme off (not computed) or back on for the 分行 — stored as a new version like any edit."""
    _editor_or_403()
    scheme = _visible_or_404(scheme_id)
    active = request.form.get("active") == "1"
    try:
        row = services.set_scheme_active(current_user, scheme.id, active)
    except ServiceError as exc:
        db.session.rollback()
        return _scheme_page(db.session.get(ScorecardScheme, scheme_id), 422, general=[str(exc)])
    toast(_("已启用方案（第%(n)d版）", n=row.revision) if active else _("已停用方案（第%(n)d版），不再参与计算",
                                                                      n=row.revision))
    return redirect(url_for("scorecards.scheme", scheme_id=row.id))
