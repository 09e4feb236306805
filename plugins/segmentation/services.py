"""Segmentation services: ladders, parameters, custom rules, and the set-based recompute (no request object)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import DateTime, Integer, String, and_, delete, func, insert, literal, select, update
from sqlalchemy.sql import ColumnElement

from crm import audit
from crm.access import scope_filter, scoped
from crm.extensions import db
from crm.models import Branch, Customer, Outlet
from crm.roles import SCOPE_ALL, SCOPE_BRANCH
from crm.timeutil import utcnow
from plugins.segmentation import rules
from plugins.segmentation.models import (
    SegmentationCustomRule,
    SegmentationMember,
    SegmentationRun,
    SegmentationTier,
    SegmentationTierChange,
)
from plugins.segmentation.rules import BUILTIN_RULES, CUSTOM_RULE, RuleError, Tier

log = logging.getLogger(__name__)
NAME = "segmentation"


class SegmentationError(ValueError):
    """Refused: the message (Chinese) is shown to the user."""


@dataclass(frozen=True)
class Segment:
    key: str  # stored in segmentation_member.segment
    label: str
    expr: ColumnElement[bool]
    source: str  # builtin | custom | <other plugin's name>


def registry() -> Any:
    return current_app.extensions["crm"]


def settings(branch_id: int) -> dict[str, Any]:
    return registry().settings(NAME, branch_id)


# ---------------------------------------------------------------- tier ladder (S-12)

def ladder(branch_id: int) -> list[Tier]:
    rows = db.session.execute(select(SegmentationTier).where(SegmentationTier.branch_id == branch_id)
                              .order_by(SegmentationTier.position)).scalars().all()
    if not rows:
        return list(rules.DEFAULT_LADDER)
    return [Tier(r.code, r.name, r.min_amount) for r in rows]


def save_ladder(actor: Any, branch_id: int, rows: list[tuple[str, str, str]], basis: str) -> list[Tier]:
    """Replace the 分行's ladder (validated) and its basis. Takes effect at the next recompute."""
    if basis not in rules.BASES:
        raise RuleError(f"未知的分层依据“{basis}”")
    tiers = rules.validate_ladder(rows)
    db.session.execute(delete(SegmentationTier).where(SegmentationTier.branch_id == branch_id))
    db.session.flush()
    db.session.add_all(SegmentationTier(branch_id=branch_id, position=i, code=t.code, name=t.name,
                                        min_amount=t.min_amount) for i, t in enumerate(tiers))
    registry().set_settings(NAME, branch_id, {"tier_basis": basis}, actor.id)
    audit.record("segmentation.ladder_saved", target=("branch", branch_id), actor=actor, detail={
        "basis": basis, "tiers": [[t.code, str(t.min_amount) if t.min_amount is not None else ""] for t in tiers]})
    db.session.commit()
    return tiers


# ---------------------------------------------------------------- segment parameters

AMOUNT_PARAMS = ("affluent_aum", "freelance_aum", "small_business_revenue", "revenue_fx_rate",
                 "revenue_large", "revenue_mid", "revenue_small")
LIST_PARAMS = ("family_business_occupations", "small_business_occupations")


def save_params(actor: Any, branch_id: int, form: dict[str, str]) -> dict[str, Any]:
    """Validate and store the rule parameters of a 分行 (AUM thresholds, 80/90后 years, revenue bands…)."""
    values: dict[str, Any] = {}
    for key in AMOUNT_PARAMS:
        values[key] = rules.parse_amount(form.get(key, ""), str(PARAM_LABELS[key]))
    if values["revenue_fx_rate"] <= 0:
        raise RuleError("汇率必须大于0")
    if not values["revenue_large"] > values["revenue_mid"] > values["revenue_small"] > 0:
        raise RuleError("收入分档须满足：大客户下限 > 中型客户下限 > 中小客户下限 > 0")
    for key in ("birth_year_from", "birth_year_to"):
        raw = (form.get(key) or "").strip()
        if not raw.isdigit() or not 1900 <= int(raw) <= 2100:
            raise RuleError(f"{PARAM_LABELS[key]}应为1900至2100之间的四位数字")
        values[key] = int(raw)
    if values["birth_year_from"] > values["birth_year_to"]:
        raise RuleError("出生年份的起始年不能晚于截止年")
    currency = (form.get("revenue_currency") or "").strip()
    if currency not in CURRENCIES:
        raise RuleError("收入分档的币种只能是美元或人民币")
    values["revenue_currency"] = currency
    for key in LIST_PARAMS:
        items = [v.strip() for v in (form.get(key) or "").replace("，", ",").replace("、", ",").split(",")]
        items = [v for v in items if v]
        if any(len(v) > 50 for v in items) or len(items) > 30:
            raise RuleError(f"{PARAM_LABELS[key]}：每项不超过50个字，最多30项")
        values[key] = items
    clean = registry().set_settings(NAME, branch_id, values, actor.id)
    audit.record("segmentation.params_saved", target=("branch", branch_id), actor=actor,
                 detail={k: str(v) for k, v in clean.items()})
    db.session.commit()
    return clean


# ---------------------------------------------------------------- custom rules

def custom_rules(branch_id: int) -> list[SegmentationCustomRule]:
    return list(db.session.execute(select(SegmentationCustomRule).where(
        SegmentationCustomRule.branch_id == branch_id, SegmentationCustomRule.active)
        .order_by(SegmentationCustomRule.id)).scalars())


def save_custom_rule(actor: Any, branch_id: int, name: str, join: str,
                     conditions: list[tuple[str, str, str]]) -> SegmentationCustomRule:
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise RuleError("请填写分群名称（不超过50个字）")
    if name in {r.name for r in custom_rules(branch_id)}:
        raise RuleError(f"已有名为“{name}”的自定义分群")
    join, cleaned = rules.clean_rule(join, conditions)
    row = SegmentationCustomRule(branch_id=branch_id, name=name, join=join, conditions=cleaned,
                                 created_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    audit.record("segmentation.rule_saved", target=("segmentation_custom_rule", row.id), actor=actor,
                 detail={"name": name, "join": join, "conditions": cleaned})
    db.session.commit()
    return row


def delete_custom_rule(actor: Any, branch_id: int, rule_id: int) -> bool:
    row = db.session.execute(select(SegmentationCustomRule).where(
        SegmentationCustomRule.id == rule_id, SegmentationCustomRule.branch_id == branch_id,
        SegmentationCustomRule.active)).scalar_one_or_none()
    if row is None:
        return False
    row.active = False  # kept for the audit trail; its members go at the next recompute
    db.session.execute(delete(SegmentationMember).where(SegmentationMember.branch_id == branch_id,
                                                        SegmentationMember.segment == f"custom:{rule_id}"))
    audit.record("segmentation.rule_deleted", target=("segmentation_custom_rule", rule_id), actor=actor,
                 detail={"name": row.name})
    db.session.commit()
    return True


# ---------------------------------------------------------------- the segments of a 分行

def _customer_only(expr: ColumnElement[bool]) -> bool:
    """A rule may be evaluated per customer row only if it reads no other table outside a subquery."""
    froms = select(func.count()).where(expr).get_final_froms()
    return [getattr(f, "name", None) for f in froms] == ["customer"]


def segments_for(branch_id: int, enabled: frozenset[str] | None = None) -> list[Segment]:
    """Built-in segments with the 分行's parameters, rules contributed by other enabled plugins (with their own
    settings), and the 分行's custom rules. Rules that do not compile to a customer-only expression are skipped."""
    reg = registry()
    params = settings(branch_id)
    out = [Segment(r.name, str(r.label), r.compile(params), "builtin") for r in BUILTIN_RULES]
    enabled = enabled if enabled is not None else reg.enabled_names(branch_id)
    for plugin, rule in reg.segment_rules:
        if plugin == NAME or (plugin != "core" and plugin not in enabled):
            continue
        try:
            expr = rule.compile(reg.settings(plugin, branch_id) if plugin in reg.plugins else {})
        except Exception:  # one broken contributed rule must not stop the recompute
            log.exception("segment rule %s.%s does not compile", plugin, rule.name)
            continue
        if _customer_only(expr):
            out.append(Segment(f"{plugin}:{rule.name}"[:40], str(rule.label), expr, plugin))
        else:
            log.warning("segment rule %s.%s reads other tables; not offered", plugin, rule.name)
    for row in custom_rules(branch_id):
        out.append(Segment(f"custom:{row.id}", row.name,
                           CUSTOM_RULE.compile({"join": row.join, "conditions": row.conditions}), "custom"))
    return out


def segment_labels(branch_id: int) -> dict[str, str]:
    labels = {str(r.name): str(r.label) for r in BUILTIN_RULES}
    reg = registry()
    labels.update({f"{p}:{r.name}"[:40]: str(r.label) for p, r in reg.segment_rules if p != NAME})
    rows = db.session.execute(select(SegmentationCustomRule.id, SegmentationCustomRule.name).where(
        SegmentationCustomRule.branch_id == branch_id)).all()
    labels.update({f"custom:{i}": n for i, n in rows})
    return labels


# ---------------------------------------------------------------- recompute (set-based)

def can_recompute(actor: Any, branch_id: int) -> bool:
    """Only someone who sees the whole 分行 may re-tier it: a narrower scope would recompute part of it."""
    return actor.scope == SCOPE_ALL or (actor.scope == SCOPE_BRANCH and actor.branch_id == branch_id)


def branch_customers(actor: Any, branch_id: int) -> ColumnElement[bool]:
    """WHERE clause: the actor's scope (design §3.3) ∩ the customers of the 分行's outlets."""
    return and_(scope_filter(Customer, actor), in_branch(branch_id))


def in_branch(branch_id: int) -> ColumnElement[bool]:
    return Customer.outlet_id.in_(select(Outlet.id).where(Outlet.root_branch_id == branch_id))


def recompute(actor: Any, branch_id: int) -> SegmentationRun:
    """Re-tier and re-tag every customer of the 分行 with a fixed number of statements, whatever its size:
    history INSERT … SELECT of the rows whose tier differs, one UPDATE … CASE, one INSERT … SELECT per segment.
    No customer row is loaded into Python."""
    if not can_recompute(actor, branch_id):
        raise SegmentationError("只有能查看全分行客户的管理员才能重算分层")
    started = time.perf_counter()
    # Serialise recomputes of one 分行 (PostgreSQL row lock; SQLite has a single writer anyway).
    db.session.execute(select(Branch.id).where(Branch.id == branch_id).with_for_update())
    params = settings(branch_id)
    where = branch_customers(actor, branch_id)
    new_tier = rules.tier_case(ladder(branch_id), params["tier_basis"])
    segments = segments_for(branch_id)
    now = utcnow()

    run = SegmentationRun(branch_id=branch_id, actor_id=actor.id, started_at=now)
    db.session.add(run)
    db.session.flush()

    customers = scoped(Customer, actor).where(in_branch(branch_id))  # every read starts from the scope
    tiers_before = {(t or ""): n for t, n in db.session.execute(
        customers.with_only_columns(Customer.tier, func.count()).group_by(Customer.tier)).all()}
    segments_before = dict(db.session.execute(
        select(SegmentationMember.segment, func.count()).where(SegmentationMember.branch_id == branch_id)
        .group_by(SegmentationMember.segment)).all())

    # History first (R-08 needs to know who moved), then the UPDATE of exactly those rows.
    differs = Customer.tier.is_distinct_from(new_tier)
    db.session.execute(insert(SegmentationTierChange.__table__).from_select(
        ["run_id", "customer_id", "old_tier", "new_tier", "changed_at"],
        customers.with_only_columns(literal(run.id, Integer), Customer.id, Customer.tier, new_tier,
                                    literal(now, DateTime)).where(differs)))
    db.session.execute(update(Customer.__table__).where(where, differs).values(tier=new_tier))
    moves = db.session.execute(
        select(SegmentationTierChange.old_tier, SegmentationTierChange.new_tier, func.count())
        .where(SegmentationTierChange.run_id == run.id)
        .group_by(SegmentationTierChange.old_tier, SegmentationTierChange.new_tier)).all()
    after: Counter[str] = Counter(tiers_before)
    for old, new, n in moves:  # derived from the (small) history instead of a second full scan
        after[old or ""] -= n
        after[new or ""] += n

    db.session.execute(delete(SegmentationMember).where(SegmentationMember.branch_id == branch_id))
    segments_after: dict[str, int] = {}
    for seg in segments:
        result = db.session.execute(insert(SegmentationMember.__table__).from_select(
            ["branch_id", "segment", "customer_id"],
            customers.with_only_columns(literal(branch_id, Integer), literal(seg.key, String(40)), Customer.id)
            .where(seg.expr)),
            execution_options={"preserve_rowcount": True})  # psycopg reports -1 for INSERT … SELECT otherwise
        if result.rowcount and result.rowcount > 0:
            segments_after[seg.key] = result.rowcount

    run.changed = sum(n for _, _, n in moves)
    run.tiers_before = tiers_before
    run.tiers_after = {k: v for k, v in after.items() if v}
    run.segments_before = segments_before
    run.segments_after = segments_after
    run.duration_ms = int((time.perf_counter() - started) * 1000)
    audit.record("segmentation.recomputed", target=("branch", branch_id), actor=actor, detail={
        "run": run.id, "changed": run.changed, "customers": sum(tiers_before.values()),
        "tiers": run.tiers_after, "segments": len(segments)})
    db.session.commit()
    return run


def runs(branch_id: int, limit: int = 10) -> list[SegmentationRun]:
    return list(db.session.execute(select(SegmentationRun).where(SegmentationRun.branch_id == branch_id)
                                   .order_by(SegmentationRun.id.desc()).limit(limit)).scalars())


# ---------------------------------------------------------------- what a user sees (their scope)

def scope_tier_counts(user: Any) -> list[tuple[str, int]]:
    rows = db.session.execute(scoped(Customer, user).with_only_columns(Customer.tier, func.count())
                              .group_by(Customer.tier)).all()
    return [(t or "", n) for t, n in rows]


def scope_segment_counts(user: Any, branch_id: int) -> dict[str, int]:
    visible = scoped(Customer, user).with_only_columns(Customer.id)
    return dict(db.session.execute(
        select(SegmentationMember.segment, func.count())
        .where(SegmentationMember.branch_id == branch_id, SegmentationMember.customer_id.in_(visible))
        .group_by(SegmentationMember.segment)).all())


def customer_segments(customer_id: int, user: Any) -> list[str]:
    return list(db.session.execute(scoped(SegmentationMember, user).with_only_columns(SegmentationMember.segment)
                                   .where(SegmentationMember.customer_id == customer_id)
                                   .order_by(SegmentationMember.segment)).scalars())


def tier_history(customer_id: int, user: Any, limit: int = 10) -> list[tuple[SegmentationTierChange, Any]]:
    return list(db.session.execute(
        scoped(SegmentationTierChange, user).add_columns(SegmentationRun.actor_id)
        .join(SegmentationRun, SegmentationRun.id == SegmentationTierChange.run_id)
        .where(SegmentationTierChange.customer_id == customer_id)
        .order_by(SegmentationTierChange.id.desc()).limit(limit)).all())


def count_matching(actor: Any, branch_id: int, expr: ColumnElement[bool]) -> int:
    return db.session.execute(select(func.count()).select_from(
        scoped(Customer, actor).with_only_columns(Customer.id).where(in_branch(branch_id), expr)
        .subquery())).scalar_one()


def ordered_tiers(branch_id: int, extra: list[str]) -> list[str]:
    codes = [t.code for t in ladder(branch_id)]
    return codes + sorted(c for c in set(extra) if c not in codes)


PARAM_LABELS = {
    "affluent_aum": "退休富裕客户的金融资产门槛（元）",
    "freelance_aum": "富裕自由职业者的金融资产门槛（元）",
    "small_business_revenue": "小企业年销售收入上限（元）",
    "revenue_fx_rate": "收入币种兑人民币汇率",
    "revenue_large": "大客户年销售收入下限",
    "revenue_mid": "中型客户年销售收入下限",
    "revenue_small": "中小客户年销售收入下限",
    "birth_year_from": "80/90后出生年份起",
    "birth_year_to": "80/90后出生年份止",
    "family_business_occupations": "视为家族企业主的职业",
    "small_business_occupations": "视为小企业主/个体工商户的职业",
}
CURRENCIES = {"USD": "美元", "CNY": "人民币"}
DEFAULT_SETTINGS: dict[str, Any] = {
    "tier_basis": "deposit",
    "affluent_aum": Decimal("500000"),
    "freelance_aum": Decimal("500000"),
    "family_business_occupations": ["企业主", "私营企业主", "家族企业主"],
    "small_business_occupations": ["个体经营", "个体工商户", "小企业主", "网店店主"],
    "small_business_revenue": Decimal("20000000"),
    "birth_year_from": 1980,
    "birth_year_to": 1999,
    "revenue_currency": "USD",
    "revenue_fx_rate": Decimal("7.2"),
    "revenue_large": Decimal("2000000000"),
    "revenue_mid": Decimal("50000000"),
    "revenue_small": Decimal("2500000"),
}


