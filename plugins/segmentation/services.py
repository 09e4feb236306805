"""Segmentation services: ladders, parameters, custom rules, the set-based recompute, per-post tier quotas
(R-08/R-14) and 5C1S ratings (S-13) (no request object)."""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    String,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement

from crm import audit
from crm.access import scope_filter, scoped
from crm.extensions import db
from crm.models import Branch, Customer, Outlet, User
from crm.roles import CLAIM_ORDER, SCOPE_ALL, SCOPE_BRANCH, post_label
from crm.timeutil import utcnow
from plugins.segmentation import rules
from plugins.segmentation.models import (
    SegmentationCustomRule,
    SegmentationList,
    SegmentationListMember,
    SegmentationQuota,
    SegmentationRating,
    SegmentationRun,
    SegmentationSlot,
    SegmentationTag,
    SegmentationTier,
    SegmentationTierChange,
)
from plugins.segmentation.rules import BUILTIN_RULES, CUSTOM_RULE, PRIMARY_PRECEDENCE, RuleError, Tier

log = logging.getLogger(__name__)
NAME = "segmentation"
BITS = 63  # segmentation_tag.bits is a BIGINT; bit 63 would make it negative, so 0–62
MAX_CUSTOM_RULES = 40  # 14 built-in segments + 40 custom ones leave 9 bits for rules other plugins contribute
PRIMARY = "primary:"  # segment keys of the primary personal segment, e.g. "primary:family_business"


class SegmentationError(ValueError):
    """Refused: the message (Chinese) is shown to the user."""


@dataclass(frozen=True)
class Segment:
    key: str  # stored in segmentation_slot.segment
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
    existing = custom_rules(branch_id)
    if name in {r.name for r in existing}:
        raise RuleError(f"已有名为“{name}”的自定义分群")
    if len(existing) >= MAX_CUSTOM_RULES:
        raise RuleError(f"每个分行最多{MAX_CUSTOM_RULES}个自定义分群，请先删除不再使用的分群")
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
    row.active = False  # kept for the audit trail
    # Its members go now (counts and panels stop showing it) and its bit is free for the next rule.
    slot = db.session.execute(select(SegmentationSlot).where(
        SegmentationSlot.branch_id == branch_id, SegmentationSlot.segment == f"custom:{rule_id}")).scalar_one_or_none()
    if slot is not None:
        mask = 1 << slot.bit
        db.session.execute(update(SegmentationTag).where(SegmentationTag.branch_id == branch_id,
                                                         SegmentationTag.bits.bitwise_and(mask) != 0)
                           .values(bits=SegmentationTag.bits - mask)
                           .execution_options(synchronize_session=False))  # no RETURNING of every member
        db.session.delete(slot)
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
    labels.update({PRIMARY + k: str(_l("主标签：%(name)s", name=labels[k])) for k in PRIMARY_PRECEDENCE})
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


def slots(branch_id: int) -> dict[str, int]:
    """Segment key → its bit in segmentation_tag.bits for the 分行."""
    return dict(db.session.execute(select(SegmentationSlot.segment, SegmentationSlot.bit)
                                   .where(SegmentationSlot.branch_id == branch_id)).all())


def _assign_slots(branch_id: int, segments: list[Segment], current: dict[str, int]) -> dict[str, int]:
    """Keep the bits of segments that still exist, free the others, give new segments the lowest free bits.
    Stable bits mean a recompute rewrites only the customers whose segments changed."""
    keys = [s.key for s in segments]
    gone = [k for k in current if k not in keys]
    if gone:
        db.session.execute(delete(SegmentationSlot).where(SegmentationSlot.branch_id == branch_id,
                                                          SegmentationSlot.segment.in_(gone)))
    kept = {k: b for k, b in current.items() if k in keys}
    free = sorted(set(range(BITS)) - set(kept.values()))
    for key in keys:
        if key in kept:
            continue
        if not free:  # only other plugins' rules can get here: custom rules are capped at MAX_CUSTOM_RULES
            log.warning("segmentation: no free bit for segment %s in branch %s; not computed", key, branch_id)
            continue
        kept[key] = free.pop(0)
        db.session.add(SegmentationSlot(branch_id=branch_id, bit=kept[key], segment=key))
    db.session.flush()
    return kept


def _has_bit(bit: int) -> ColumnElement[bool]:
    return SegmentationTag.bits.bitwise_and(1 << bit) != 0


def _bit_counts(where: ColumnElement[bool], by_slot: dict[str, int], tiers: Sequence[str] = ()) -> list[int]:
    """One aggregate over the tags: [customers, per tier…, per segment…], never one query per segment. Sums of
    `(bits >> bit) & 1` and per-code sums instead of CASE and GROUP BY: cheaper per row on both databases."""
    cols = [func.count(), *(func.sum(case((SegmentationTag.tier == code, 1), else_=0)) for code in tiers),
            *(func.sum(SegmentationTag.bits.bitwise_rshift(literal(bit, Integer)).bitwise_and(1))  # PG: bigint >> int
              for bit in by_slot.values())]
    return [int(n or 0) for n in db.session.execute(select(*cols).where(where)).one()]  # PG sums bigint as numeric


def _segment_dict(by_slot: dict[str, int], counts: list[int]) -> dict[str, int]:
    return {key: n for key, n in zip(by_slot, counts[-len(by_slot):] if by_slot else [], strict=True) if n}


def _upsert_tags(select_stmt: Any, customer_ids: Any) -> Any:
    """INSERT … SELECT into segmentation_tag; a customer already tagged is rewritten only if something changed."""
    dialect = db.session.get_bind().dialect.name
    table = SegmentationTag.__table__
    columns = ["customer_id", "branch_id", "tier", "bits", "primary_segment"]
    if dialect not in ("sqlite", "postgresql"):  # no portable upsert: replace the rows
        db.session.execute(delete(table).where(table.c.customer_id.in_(customer_ids)))
        return insert(table).from_select(columns, select_stmt)
    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table).from_select(columns, select_stmt)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[table.c.customer_id],
        set_={"branch_id": new.branch_id, "tier": new.tier, "bits": new.bits, "primary_segment": new.primary_segment},
        where=(table.c.bits != new.bits) | table.c.tier.is_distinct_from(new.tier)
        | (table.c.branch_id != new.branch_id) | table.c.primary_segment.is_distinct_from(new.primary_segment))


def _tag_rows(customers: Any, branch_id: int, bits: ColumnElement[int], by_slot: dict[str, int]) -> Any:
    """SELECT customer, 分行, tier, bits, primary segment for every customer of the scope. The bits are computed
    once per customer in a derived table, and the primary personal segment is read from them: the first of
    S-03 > S-04 > S-02 > S-01 > S-05 (spec §5.1) whose bit is set, NULL when none is. OFFSET 0 keeps SQLite and
    PostgreSQL from folding the derived table into the outer SELECT, which would evaluate every rule once more for
    each reference to the bits."""
    sub = customers.with_only_columns(Customer.id.label("id"), Customer.tier.label("tier"),
                                      bits.label("bits")).offset(0).subquery("tagged")
    whens = [(sub.c.bits.bitwise_and(literal(1 << by_slot[k], BigInteger)) != 0, literal(k, String(40)))
             for k in PRIMARY_PRECEDENCE if k in by_slot]
    primary = case(*whens, else_=literal(None, String(40))) if whens else literal(None, String(40))
    # WHERE true: SQLite would otherwise read the upsert's ON CONFLICT as a join constraint of the FROM.
    return select(sub.c.id, literal(branch_id, Integer), sub.c.tier, sub.c.bits, primary).where(true())


def recompute(actor: Any, branch_id: int, progress: Callable[[str], None] | None = None) -> SegmentationRun:
    """Re-tier and re-tag every customer of the 分行 with a fixed number of statements, whatever its size:
    history INSERT … SELECT of the rows whose tier differs, an UPDATE of exactly those rows from the history,
    one INSERT … SELECT of every customer's segment bits and primary segment (rewriting only changed tags), and one
    aggregate over the tags for the counts. No customer row is loaded into Python; the customer table is read
    twice. One transaction: committed whole at the end, or nothing (no run, history, tag or audit row) if it fails.
    `progress(stage)` is told "tiers", "segments", "counting" as the work gets there (the background job's page)."""
    if not can_recompute(actor, branch_id):
        raise SegmentationError("只有能查看全分行客户的管理员才能重算分层")
    step = progress or (lambda stage: None)
    started = time.perf_counter()
    # Serialise recomputes of one 分行 (PostgreSQL row lock; SQLite has a single writer anyway).
    db.session.execute(select(Branch.id).where(Branch.id == branch_id).with_for_update())
    step("tiers")
    params = settings(branch_id)
    tiers = ladder(branch_id)
    new_tier = rules.tier_case(tiers, params["tier_basis"])
    segments = segments_for(branch_id)
    now = utcnow()

    run = SegmentationRun(branch_id=branch_id, actor_id=actor.id, started_at=now)
    db.session.add(run)
    db.session.flush()

    before_slots = slots(branch_id)
    in_tags = SegmentationTag.branch_id == branch_id
    segments_before = _segment_dict(before_slots, _bit_counts(in_tags, before_slots))
    after_slots = _assign_slots(branch_id, segments, before_slots)

    customers = scoped(Customer, actor).where(in_branch(branch_id))  # every read starts from the scope
    # History first (R-08 needs to know who moved), then the UPDATE of exactly those rows, found through the
    # history's run index instead of a second pass over the customer table.
    db.session.execute(insert(SegmentationTierChange.__table__).from_select(
        ["run_id", "customer_id", "old_tier", "new_tier", "changed_at"],
        customers.with_only_columns(literal(run.id, Integer), Customer.id, Customer.tier, new_tier,
                                    literal(now, DateTime)).where(Customer.tier.is_distinct_from(new_tier))))
    change = SegmentationTierChange.__table__
    db.session.execute(update(Customer.__table__).where(Customer.id == change.c.customer_id,
                                                        change.c.run_id == run.id).values(tier=change.c.new_tier))

    step("segments")
    # Every customer's segments as one number: CASE WHEN rule THEN 2^bit ELSE 0 END + …, evaluated in the scan.
    by_key = {s.key: s for s in segments}
    bits: Any = literal(0, BigInteger)
    for key, bit in after_slots.items():
        bits = bits + case((by_key[key].expr, literal(1 << bit, BigInteger)), else_=literal(0, BigInteger))
    customer_ids = customers.with_only_columns(Customer.id)
    db.session.execute(_upsert_tags(_tag_rows(customers, branch_id, bits, after_slots), customer_ids))

    step("counting")
    codes = [t.code for t in tiers]
    counts = _bit_counts(in_tags, after_slots, codes)
    # Every customer of the 分行 has a tag now; more tags than customers means some customers left the 分行 (moved
    # outlet): their tags go, and they are no longer counted here. Two index counts instead of an anti-join of
    # every tag against every customer at each recompute.
    if counts[0] != db.session.execute(select(func.count()).select_from(customer_ids.subquery())).scalar_one():
        db.session.execute(delete(SegmentationTag).where(in_tags, SegmentationTag.customer_id.not_in(customer_ids))
                           .execution_options(synchronize_session=False))
        counts = _bit_counts(in_tags, after_slots, codes)
    moves = db.session.execute(
        select(SegmentationTierChange.old_tier, SegmentationTierChange.new_tier, func.count())
        .where(SegmentationTierChange.run_id == run.id)
        .group_by(SegmentationTierChange.old_tier, SegmentationTierChange.new_tier)).all()
    # Every tag of the 分行 was just written with a tier of this ladder; anything else would be an untiered row.
    after: Counter[str] = Counter(dict(zip(codes, counts[1:1 + len(codes)], strict=True)))
    after[""] += counts[0] - sum(after.values())
    before: Counter[str] = Counter(after)
    for old, new, n in moves:  # the counts before, from the (small) history instead of another full scan
        before[old or ""] += n
        before[new or ""] -= n

    run.changed = sum(n for _, _, n in moves)
    run.tiers_before = {k: v for k, v in before.items() if v}
    run.tiers_after = {k: v for k, v in after.items() if v}
    run.segments_before = segments_before
    run.segments_after = _segment_dict(after_slots, counts)
    run.duration_ms = int((time.perf_counter() - started) * 1000)
    audit.record("segmentation.recomputed", target=("branch", branch_id), actor=actor, detail={
        "run": run.id, "changed": run.changed, "customers": sum(after.values()),
        "tiers": run.tiers_after, "segments": len(after_slots)})
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
    by_slot = slots(branch_id)
    if not by_slot:
        return {}
    return _segment_dict(by_slot, _bit_counts(
        and_(SegmentationTag.branch_id == branch_id, SegmentationTag.customer_id.in_(visible)), by_slot))


def scope_primary_counts(user: Any, branch_id: int) -> dict[str, int]:
    """Customers per primary personal segment ("primary:<key>") in the user's scope, one aggregate."""
    visible = scoped(Customer, user).with_only_columns(Customer.id)
    cols = [func.sum(case((SegmentationTag.primary_segment == k, 1), else_=0)) for k in PRIMARY_PRECEDENCE]
    row = db.session.execute(select(*cols).where(SegmentationTag.branch_id == branch_id,
                                                 SegmentationTag.primary_segment.is_not(None),
                                                 SegmentationTag.customer_id.in_(visible))).one()
    return {PRIMARY + k: int(n) for k, n in zip(PRIMARY_PRECEDENCE, row, strict=True) if n}


def customer_segments(customer_id: int, user: Any) -> list[str]:
    return customer_tag(customer_id, user)[0]


def customer_tag(customer_id: int, user: Any) -> tuple[list[str], str | None]:
    """The customer's segments (keys) and primary personal segment at the last recompute."""
    tag = db.session.execute(scoped(SegmentationTag, user).with_only_columns(
        SegmentationTag.branch_id, SegmentationTag.bits, SegmentationTag.primary_segment)
        .where(SegmentationTag.customer_id == customer_id)).first()
    if tag is None:
        return [], None
    keys = [key for key, bit in slots(tag.branch_id).items() if tag.bits >> bit & 1]
    order = {k: i for i, k in enumerate(PRIMARY_PRECEDENCE)}
    return sorted(keys, key=lambda k: (order.get(k, len(order)), k)), tag.primary_segment


def in_segment(branch_id: int, key: str) -> ColumnElement[bool]:
    """WHERE clause on Customer: the members of a segment at the 分行's last recompute (for lists and other
    plugins, combined with the reader's scope). "primary:<segment>" keys select the customers whose primary
    personal segment it is. An unknown segment has no members."""
    if key.startswith(PRIMARY):
        if key[len(PRIMARY):] not in PRIMARY_PRECEDENCE:
            return false()
        return Customer.id.in_(select(SegmentationTag.customer_id).where(
            SegmentationTag.branch_id == branch_id, SegmentationTag.primary_segment == key[len(PRIMARY):]))
    bit = slots(branch_id).get(key)
    if bit is None:
        return false()
    return Customer.id.in_(select(SegmentationTag.customer_id).where(SegmentationTag.branch_id == branch_id,
                                                                      _has_bit(bit)))


# ---------------------------------------------------------------- saved customer lists

LIST_KINDS = {"snapshot": _l("快照"), "live": _l("实时")}


def lists(branch_id: int) -> list[SegmentationList]:
    return list(db.session.execute(select(SegmentationList).where(SegmentationList.branch_id == branch_id)
                                   .order_by(SegmentationList.id.desc())).scalars())


def visible_list(list_id: int, user: Any) -> SegmentationList | None:
    """The list if it belongs to the user's 分行 (the system administrator's scope is every 分行); else None."""
    stmt = select(SegmentationList).where(SegmentationList.id == list_id)
    if user.root_branch_id is not None:
        stmt = stmt.where(SegmentationList.branch_id == user.root_branch_id)
    return db.session.execute(stmt).scalar_one_or_none()


def save_list(actor: Any, branch_id: int, name: str, segment: str, kind: str) -> SegmentationList:
    """Save a segment of the 分行 as a named list. A snapshot copies the segment's members at its last recompute
    with one INSERT … SELECT (no customer is loaded into Python); a live list stores only the segment key."""
    if not can_recompute(actor, branch_id):  # a snapshot must hold the whole 分行's members, not one scope's
        raise SegmentationError("只有能查看全分行客户的管理员才能保存客户名单")
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise SegmentationError("请填写名单名称（不超过50个字）")
    if kind not in LIST_KINDS:
        raise SegmentationError("请选择名单类型：快照或实时")
    computed = slots(branch_id)
    if segment not in computed and not (segment.startswith(PRIMARY) and computed
                                        and segment[len(PRIMARY):] in PRIMARY_PRECEDENCE):
        raise SegmentationError("该分群尚未计算，请先重算分层与分群")
    if db.session.execute(select(SegmentationList.id).where(
            SegmentationList.branch_id == branch_id, SegmentationList.name == name)).first() is not None:
        raise SegmentationError(f"已有名为“{name}”的客户名单")
    row = SegmentationList(branch_id=branch_id, name=name, segment=segment, kind=kind, created_by_id=actor.id,
                           created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    members = scoped(Customer, actor).where(in_branch(branch_id), in_segment(branch_id, segment))
    if kind == "snapshot":
        db.session.execute(insert(SegmentationListMember.__table__).from_select(
            ["list_id", "customer_id"], members.with_only_columns(literal(row.id, Integer), Customer.id)))
        # Counted from the members (primary-key index), not the INSERT's rowcount: psycopg reports -1 for it.
        row.size = db.session.execute(select(func.count()).where(
            SegmentationListMember.list_id == row.id)).scalar_one()
    else:
        row.size = db.session.execute(select(func.count()).select_from(
            members.with_only_columns(Customer.id).subquery())).scalar_one()
    audit.record("segmentation.list_saved", target=("segmentation_list", row.id), actor=actor,
                 detail={"name": name, "segment": segment, "kind": kind, "size": row.size})
    db.session.commit()
    return row


def delete_list(actor: Any, branch_id: int, list_id: int) -> bool:
    row = db.session.execute(select(SegmentationList).where(
        SegmentationList.id == list_id, SegmentationList.branch_id == branch_id)).scalar_one_or_none()
    if row is None:
        return False
    # Members first, in one statement: SQLite enforces ON DELETE CASCADE only with its foreign-key pragma on.
    db.session.execute(delete(SegmentationListMember).where(SegmentationListMember.list_id == row.id)
                       .execution_options(synchronize_session=False))
    audit.record("segmentation.list_deleted", target=("segmentation_list", row.id), actor=actor,
                 detail={"name": row.name, "segment": row.segment, "kind": row.kind})
    db.session.delete(row)
    db.session.commit()
    return True


def list_members_condition(lst: SegmentationList) -> ColumnElement[bool]:
    """WHERE clause on Customer: a live list's segment as of the 分行's last recompute, or a snapshot's stored
    members. Not a scope: callers always combine it with `scoped(Customer, user)`."""
    if lst.kind == "live":
        return in_segment(lst.branch_id, lst.segment)  # tags of customers who left the 分行 are removed
    return Customer.id.in_(select(SegmentationListMember.customer_id)
                           .where(SegmentationListMember.list_id == lst.id))


def customers_of_list(list_id: int, user: Any) -> Any:
    """For other plugins (e.g. a campaign inviting a list): the list's customers the user may see, as a scoped
    Select of Customer. Raises LookupError for a list of another 分行 or none at all."""
    lst = visible_list(list_id, user)
    if lst is None:
        raise LookupError(list_id)
    return scoped(Customer, user).where(list_members_condition(lst))


def list_sizes_in_scope(user: Any, rows: Sequence[SegmentationList]) -> dict[int, int]:
    """How many of each list's customers the user sees now: one aggregate for all snapshots, one for all live
    lists of a 分行 (from the tag bits), never one query per list."""
    out: dict[int, int] = {}
    snapshots = [r.id for r in rows if r.kind == "snapshot"]
    if snapshots:
        visible = scoped(Customer, user).with_only_columns(Customer.id)
        out.update(db.session.execute(
            select(SegmentationListMember.list_id, func.count())
            .where(SegmentationListMember.list_id.in_(snapshots), SegmentationListMember.customer_id.in_(visible))
            .group_by(SegmentationListMember.list_id)).all())
    for branch_id in {r.branch_id for r in rows if r.kind == "live"}:
        counts = scope_segment_counts(user, branch_id)
        if any(r.segment.startswith(PRIMARY) for r in rows if r.kind == "live" and r.branch_id == branch_id):
            counts.update(scope_primary_counts(user, branch_id))
        out.update({r.id: counts.get(r.segment, 0) for r in rows if r.kind == "live" and r.branch_id == branch_id})
    return out


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


# ---------------------------------------------------------------- per-post tier quotas (R-08, R-14, A-04, S-12)

MAX_QUOTA = 10_000  # customers of one tier one person may be given (the claims page's MAX_ALLOCATION)


def quotas(branch_id: int) -> dict[tuple[str, str], int]:
    """(tier code, post) → customers of that tier each staff member of the post maintains, for the tiers of the
    分行's current ladder; in allocation order: top tier first, then the R-07 claim order. Empty: no quotas."""
    rows = db.session.execute(select(SegmentationQuota.tier, SegmentationQuota.post, SegmentationQuota.quota)
                              .where(SegmentationQuota.branch_id == branch_id, SegmentationQuota.quota > 0)).all()
    if not rows:
        return {}
    stored = {(t, p): n for t, p, n in rows}
    return {(t.code, post): stored[(t.code, post)] for t in ladder(branch_id) for post in CLAIM_ORDER
            if (t.code, post) in stored}


def parse_quota_grid(tiers: Sequence[str], cells: dict[tuple[str, str], str]) -> dict[tuple[str, str], int]:
    """Validate the grid a user filled in: whole numbers 0–MAX_QUOTA, blank = 0 (that post gets none)."""
    out: dict[tuple[str, str], int] = {}
    for post in CLAIM_ORDER:
        for code in tiers:
            raw = (cells.get((code, post)) or "").strip().replace(",", "").replace("，", "")
            if not raw:
                continue
            if not raw.isdigit() or int(raw) > MAX_QUOTA:
                raise SegmentationError(f"“{post_label(post)} × {code}”的配额应为0到{MAX_QUOTA:,}之间的整数，"
                                        f"不能填“{raw[:20]}”")
            if int(raw):
                out[(code, post)] = int(raw)
    return out


def save_quotas(actor: Any, branch_id: int, tier_codes: Sequence[str],
                cells: dict[tuple[str, str], str]) -> dict[tuple[str, str], int]:
    """Replace the 分行's quota table (validated first, written second, one audit row). `tier_codes` are the
    columns the form was drawn with: if the ladder changed meanwhile, nothing is saved."""
    codes = [t.code for t in ladder(branch_id)]
    if list(tier_codes) != codes:
        raise SegmentationError("分层阶梯已变更，请刷新页面后重新填写配额")
    grid = parse_quota_grid(codes, cells)
    db.session.execute(delete(SegmentationQuota).where(SegmentationQuota.branch_id == branch_id))
    db.session.add_all(SegmentationQuota(branch_id=branch_id, post=post, tier=code, quota=n)
                       for (code, post), n in grid.items())
    audit.record("segmentation.quotas_saved", target=("branch", branch_id), actor=actor,
                 detail={"quotas": {f"{code}/{post}": n for (code, post), n in grid.items()}})
    db.session.commit()
    return grid


# S-12: "head/corporate RM take the top tier, counters and back office the lower tiers (following claim order
# seniority)". Supervisors and personal RMs sit in the middle: the top tier of a two-tier ladder.
SUGGESTED_LEVEL = {"outlet_head": "top", "corporate_rm": "top", "supervisor": "middle", "personal_rm": "middle",
                   "lobby_manager": "bottom", "low_counter_teller": "bottom", "high_counter_teller": "bottom",
                   "back_office": "bottom"}


def suggested_quotas(actor: Any, branch_id: int) -> dict[tuple[str, str], int]:
    """A starting point, never saved by itself: each post maintains one tier (S-12 by seniority), and each tier's
    customers of the 分行 (as the actor, who manages it, sees them) are shared evenly among the active staff of its
    posts, rounded up to a multiple of 5. Two aggregates (customers per tier, staff per post), whatever the size."""
    codes = [t.code for t in ladder(branch_id)]
    if not codes:
        return {}
    index = {"top": 0, "middle": (len(codes) - 1) // 2, "bottom": len(codes) - 1}
    tier_of_post = {post: codes[index[level]] for post, level in SUGGESTED_LEVEL.items()}
    customers = dict(db.session.execute(scoped(Customer, actor).with_only_columns(Customer.tier, func.count())
                                        .where(in_branch(branch_id)).group_by(Customer.tier)).all())
    staff = dict(db.session.execute(select(User.post, func.count()).join(Outlet, Outlet.id == User.outlet_id).where(
        Outlet.root_branch_id == branch_id, User.active, User.post.in_(CLAIM_ORDER)).group_by(User.post)).all())
    out: dict[tuple[str, str], int] = {}
    for code in codes:
        posts = [p for p in CLAIM_ORDER if tier_of_post[p] == code]
        people = sum(staff.get(p, 0) for p in posts) or len(posts)
        each = max(5, math.ceil(customers.get(code, 0) / max(people, 1) / 5) * 5)
        for post in posts:
            out[(code, post)] = min(each, MAX_QUOTA)
    return out


# ---------------------------------------------------------------- 5C1S grading (S-13, A-26)

MIN_FACTORS, MAX_FACTORS = 2, 8


def fivec_settings(branch_id: int) -> tuple[list[str], int, int]:
    """The 分行's factors and its two cut-offs (quality line, prospect line; both inclusive)."""
    params = settings(branch_id)
    return list(params["fivec_factors"]), int(params["fivec_quality"]), int(params["fivec_prospect"])


def save_fivec(actor: Any, branch_id: int, factors: Sequence[str], quality: str, prospect: str) -> None:
    """Validate and store the 分行's 5C1S factors (2–8 named factors, each scored 1–5) and cut-offs: the
    prospect line above the lowest possible total, the quality line above it and not above the highest total."""
    names = [f.strip() for f in factors if (f or "").strip()]
    if not MIN_FACTORS <= len(names) <= MAX_FACTORS:
        raise SegmentationError(f"评级因素应为{MIN_FACTORS}到{MAX_FACTORS}个")
    if any(len(n) > 20 for n in names):
        raise SegmentationError("每个评级因素的名称不能超过20个字")
    if len(set(names)) != len(names):
        raise SegmentationError("评级因素的名称不能重复")
    lines = []
    for raw, what in ((quality, "优质客户的总分下限"), (prospect, "准客户的总分下限")):
        text = (raw or "").strip()
        if not text.isdigit():
            raise SegmentationError(f"{what}应为整数，不能填“{text[:20]}”")
        lines.append(int(text))
    q, pr = lines
    low, high = len(names) * rules.SCORE_MIN, len(names) * rules.SCORE_MAX
    if not low < pr < q <= high:
        raise SegmentationError(f"分档须满足：准客户下限高于{low}分，优质客户下限高于准客户下限且不超过{high}分"
                                f"（{len(names)}个因素，每项1–5分，总分{low}–{high}分）")
    registry().set_settings(NAME, branch_id, {"fivec_factors": names, "fivec_quality": q, "fivec_prospect": pr},
                            actor.id)
    audit.record("segmentation.fivec_saved", target=("branch", branch_id), actor=actor,
                 detail={"factors": names, "quality": q, "prospect": pr})
    db.session.commit()


def rate(actor: Any, customer: Customer, raw_scores: Sequence[str], note: str = "") -> SegmentationRating:
    """Record a 5C1S rating of a customer the actor may see (the caller loaded it through the scope). Every factor
    1–5; the grade follows the 分行's cut-offs of today. Earlier ratings are kept as history."""
    branch_id = customer.outlet.root_branch_id
    factors, quality, prospect = fivec_settings(branch_id)
    if len(raw_scores) != len(factors):
        raise SegmentationError("评级因素已变更，请刷新后重新评分")
    scores: list[list[Any]] = []
    for name, raw in zip(factors, raw_scores, strict=True):
        text = (raw or "").strip()
        if not text:
            raise SegmentationError(f"请为“{name}”打分（1–5分）")
        if not text.isdigit() or not rules.SCORE_MIN <= int(text) <= rules.SCORE_MAX:
            raise SegmentationError(f"“{name}”的得分应为1到5之间的整数")
        scores.append([name, int(text)])
    note = (note or "").strip()
    if len(note) > 200:
        raise SegmentationError("备注不能超过200个字")
    total = sum(n for _, n in scores)
    row = SegmentationRating(customer_id=customer.id, branch_id=branch_id, scores=scores, total=total,
                             grade=rules.grade_of(total, quality, prospect), note=note or None,
                             rated_by_id=actor.id, rated_at=utcnow())
    db.session.add(row)
    db.session.flush()
    audit.record("segmentation.rated", target=("customer", customer.id), actor=actor,
                 detail={"rating": row.id, "total": total, "grade": row.grade, "scores": [n for _, n in scores]})
    db.session.commit()
    return row


def ratings(customer_id: int, user: Any, limit: int = 10) -> list[SegmentationRating]:
    """The customer's 5C1S ratings, newest first (through the scope: another outlet's customer has none)."""
    return list(db.session.execute(scoped(SegmentationRating, user).where(
        SegmentationRating.customer_id == customer_id).order_by(SegmentationRating.id.desc()).limit(limit)).scalars())


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
    "fivec_factors": list(rules.DEFAULT_FACTORS),
    "fivec_quality": 24,  # S-13: quality ≥ 24 of 30
    "fivec_prospect": 15,  # prospect 15–23, excluded < 15
}


