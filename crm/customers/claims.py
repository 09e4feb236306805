"""包户包效: claims (认领, R-07), duplicate resolution by the outlet head, allocation (分配, R-08/R-14), hand-over.

Reading of the rules (spec A-03, T-02): a claim on a customer nobody maintains takes it at once, through a
conditional UPDATE (two simultaneous claims: exactly one wins). A claim on a customer someone already maintains
is recorded as competing and marks the customer "duplicate"; only the outlet head decides who keeps it, with
the manager of record pre-selected first, then the earlier post in the claim order, then the earlier claim.

Allocation (R-08, R-14, A-04) hands out only customers nobody maintains, so the manager of record keeps his
customers. Where a plugin supplies per-post tier quotas (hook `crm_allocation_quotas`), each staff member of a
post gets at most (quota − customers of that tier he already maintains), and a post without a quota for a tier
gets none of it; `allocate_by_quota` fills every tier × post in one action, top tier first, posts in R-07 order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, insert, select, update

from crm import audit
from crm.access import can
from crm.extensions import db
from crm.models import Branch, Customer, CustomerClaim, User
from crm.roles import CLAIM_ORDER, claim_rank, post_label
from crm.timeutil import utcnow

MAX_ALLOCATION = 10_000  # customers one allocation may hand out (a bound on the work of one request)
UPDATE_CHUNK = 500  # customer ids per guarded UPDATE (well under every SQLite's bound-parameter limit)


class ClaimError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def claim_pool(actor: Any):
    """Customers of the actor's outlet that nobody maintains yet: what staff look through to claim (R-06)."""
    return select(Customer).where(Customer.outlet_id == actor.outlet_id, Customer.maintainer_id.is_(None))


def claim(actor: Any, customer: Customer) -> str:
    """Claim a customer of one's own outlet. Returns 'won' or 'contested'."""
    if not can("customers.claim", actor) or actor.post not in CLAIM_ORDER:
        raise ClaimError(_("您的岗位不参与认领，请由网点负责人分配"))
    if customer.outlet_id != actor.outlet_id:
        raise ClaimError(_("只能认领本网点的客户"))
    if customer.maintainer_id == actor.id:
        raise ClaimError(_("您已是该客户的维护人"))
    already = db.session.execute(select(CustomerClaim.id).where(
        CustomerClaim.customer_id == customer.id, CustomerClaim.user_id == actor.id,
        CustomerClaim.state == "contested")).first()
    if already:
        raise ClaimError(_("您已认领过该客户，正等待网点负责人裁定"))
    customer_id, actor_id, post = customer.id, actor.id, actor.post
    audit_actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
    _fresh_write()
    # The conditional UPDATE is the claim: whoever's statement runs first wins; a check-then-set could
    # let two people "win" (design §9).
    won = db.session.execute(
        update(Customer).where(Customer.id == customer_id, Customer.maintainer_id.is_(None))
        .values(maintainer_id=actor_id, version=Customer.version + 1)
        .execution_options(synchronize_session=False)).rowcount == 1
    if won:
        state = "won"
    else:
        state = "contested"
        # The checks above ran before this transaction: a double click (two requests of the same person) may
        # have made him the maintainer, or recorded his contested claim, meanwhile. Writing the customer row
        # first serialises the claims of this customer (SQLite: the write lock; PostgreSQL: the row lock), so
        # the checks repeated after it see every claim committed before; a repeat is refused, not recorded.
        marked = db.session.execute(
            update(Customer).where(Customer.id == customer_id, Customer.maintainer_id.is_distinct_from(actor_id))
            .values(duplicate_claim=True, version=Customer.version + 1)
            .execution_options(synchronize_session=False)).rowcount == 1
        again = marked and db.session.execute(select(CustomerClaim.id).where(
            CustomerClaim.customer_id == customer_id, CustomerClaim.user_id == actor_id,
            CustomerClaim.state == "contested")).first() is not None
        if not marked or again:
            db.session.rollback()
            raise ClaimError(_("您已认领过该客户，正等待网点负责人裁定") if again else _("您已是该客户的维护人"))
    db.session.add(CustomerClaim(customer_id=customer_id, user_id=actor_id, post=post, kind="claim", state=state))
    audit.record("customer.claimed" if won else "customer.claim_contested", target=("customer", customer_id),
                 actor=audit_actor)
    db.session.commit()
    return state


def _fresh_write() -> None:
    """End the session's read transaction so the next statement, a write, starts a new one. On SQLite (WAL)
    a transaction that read first and writes after another writer committed fails at once with 'database is
    locked'; a transaction that starts with its write simply waits its turn (busy_timeout)."""
    db.session.commit()


@dataclass
class Candidate:
    user: User
    is_manager: bool  # the manager of record (管户人员): first in line
    rank: int  # position of the post in the R-07 claim order
    claimed_at: datetime | None

    @property
    def order(self) -> tuple:
        return (not self.is_manager, self.rank, self.claimed_at or datetime.min)


def candidates(customer: Customer) -> list[Candidate]:
    """Who may keep a duplicate-claimed customer, best first: manager of record, then claim order (T-02),
    then the earlier claim. The head's page pre-selects the first; nothing is final until the head decides."""
    found: dict[int, Candidate] = {}
    rows = db.session.execute(select(CustomerClaim).where(
        CustomerClaim.customer_id == customer.id, CustomerClaim.kind == "claim",
        CustomerClaim.state.in_(("won", "contested"))).order_by(CustomerClaim.id)).scalars().all()
    claimed_by = {r.user_id: r for r in rows}
    m = customer.maintainer
    if m is not None:
        # The manager of record is who maintained the customer before claiming began (imported, allocated or
        # handed over); someone who got it by a claim a moment ago is a claimant like the others.
        won = claimed_by.get(m.id)
        rank = claim_rank(won.post if won else m.post)
        found[m.id] = Candidate(m, won is None, 99 if rank is None else rank, won.created_at if won else None)
    for row in rows:
        if row.state == "contested" and row.user_id not in found:
            rank = claim_rank(row.post)
            found[row.user_id] = Candidate(row.user, False, 99 if rank is None else rank, row.created_at)
    return sorted(found.values(), key=lambda c: c.order)


def _check_head(actor: Any, outlet_id: int) -> None:
    if not can("customers.allocate", actor) or (actor.outlet_id is not None and actor.outlet_id != outlet_id):
        raise ClaimError(_("只有网点负责人可以裁定重复认领和分配客户"))


def resolve(actor: Any, customer: Customer, chosen_id: int) -> None:
    """The outlet head decides a duplicate claim (R-07): one maintainer; the other claims are closed."""
    _check_head(actor, customer.outlet_id)
    if not customer.duplicate_claim:
        raise ClaimError(_("该客户没有待裁定的重复认领"))
    if chosen_id not in {c.user.id for c in candidates(customer)}:
        raise ClaimError(_("只能在认领人中选择维护人"))
    contested = (CustomerClaim.customer_id == customer.id, CustomerClaim.state == "contested")
    db.session.execute(update(CustomerClaim).where(*contested, CustomerClaim.user_id == chosen_id)
                       .values(state="confirmed").execution_options(synchronize_session=False))
    db.session.execute(update(CustomerClaim).where(*contested)
                       .values(state="rejected").execution_options(synchronize_session=False))
    chosen = db.session.get(User, chosen_id)
    db.session.add(CustomerClaim(customer_id=customer.id, user_id=chosen_id, post=chosen.post, kind="resolution",
                                 state="confirmed", by_id=actor.id))
    customer.maintainer_id = chosen_id
    customer.duplicate_claim = False
    audit.record("customer.claim_resolved", target=("customer", customer.id), detail={"maintainer_id": chosen_id})
    db.session.commit()


def allocation_summary(actor: Any) -> list[tuple[str | None, int]]:
    """Unallocated customers of the head's outlet per tier (what the allocation form offers)."""
    return db.session.execute(
        select(Customer.tier, func.count()).where(
            Customer.outlet_id == actor.outlet_id, Customer.maintainer_id.is_(None))
        .group_by(Customer.tier).order_by(Customer.tier)).all()


def quotas(actor: Any) -> dict[tuple[str, str], int] | None:
    """The per-post tier quotas of the actor's 分行 from the plugins enabled there (crm_allocation_quotas):
    {(tier, post): customers each person of the post maintains}, top tier first; None when there are none."""
    registry = current_app.extensions["crm"]
    branch_id = getattr(actor, "root_branch_id", None)
    if branch_id is None or not registry.pm.hook.crm_allocation_quotas.get_hookimpls():
        return None
    caller = registry.hook_for_names("crm_allocation_quotas", registry.enabled_names(branch_id))
    result = caller(user=actor, branch=db.session.get(Branch, branch_id))
    return dict(result) if result else None


def _held(staff_ids: Sequence[int], tiers: Sequence[str]) -> dict[tuple[int, str], int]:
    """(user, tier) → customers of that tier the user maintains now: one aggregate."""
    if not staff_ids or not tiers:
        return {}
    rows = db.session.execute(select(Customer.maintainer_id, Customer.tier, func.count()).where(
        Customer.maintainer_id.in_(staff_ids), Customer.tier.in_(tiers))
        .group_by(Customer.maintainer_id, Customer.tier)).all()
    return {(uid, tier): n for uid, tier, n in rows}


def _round_robin(ids: Sequence[int], staff: Sequence[User], caps: dict[int, int]) -> list[tuple[int, User]]:
    """Deal the customers (best first) to the staff in turn, skipping whoever has reached his cap."""
    order = [u for u in staff if caps.get(u.id, 0) > 0]
    seats: list[User] = []
    turn = 0
    while len(seats) < len(ids) and order:
        order = [u for u in order if caps[u.id] > turn]
        seats.extend(order)
        turn += 1
    return list(zip(ids, seats, strict=False))


def _seats(pairs: Sequence[tuple[int, User]]) -> list[tuple[int, int, str]]:
    """(customer, user id, post), read before the write transaction starts (no reload of expired users after it)."""
    return [(cid, user.id, user.post) for cid, user in pairs]


def _write_allocation(actor_id: int, seats: Sequence[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """One guarded UPDATE … RETURNING per staff member (and per UPDATE_CHUNK customers), never one per customer:
    a customer claimed meanwhile keeps its claimant. Writes the allocation records; returns (customer, user) won."""
    by_user: dict[int, list[int]] = defaultdict(list)
    post_of: dict[int, str] = {}
    for cid, user_id, post in seats:
        by_user[user_id].append(cid)
        post_of[user_id] = post
    table = Customer.__table__
    won: list[tuple[int, int]] = []
    for user_id, ids in by_user.items():
        for start in range(0, len(ids), UPDATE_CHUNK):
            chunk = ids[start:start + UPDATE_CHUNK]
            rows = db.session.execute(
                update(table).where(table.c.id.in_(chunk), table.c.maintainer_id.is_(None))
                .values(maintainer_id=user_id, version=table.c.version + 1).returning(table.c.id)).scalars().all()
            won.extend((cid, user_id) for cid in rows)
    if won:
        now = utcnow()
        db.session.execute(insert(CustomerClaim), [
            {"customer_id": cid, "user_id": user_id, "post": post_of[user_id], "kind": "allocation", "state": "done",
             "by_id": actor_id, "created_at": now} for cid, user_id in won])
    return won


def _pool(actor: Any, tier: str | None):
    pool = claim_pool(actor).where(Customer.duplicate_claim.is_(False))
    return pool.where(Customer.tier.is_(None) if not tier else Customer.tier == tier)


def allocate(actor: Any, *, tier: str | None, post: str, per_person: int) -> int:
    """R-08/R-14: hand the outlet's unmaintained customers of a tier to the staff of a post, round-robin,
    at most `per_person` each, largest deposits first. With quotas (R-08/R-14, A-04) each person gets at most
    (quota − customers of the tier he already maintains) and `per_person` may not exceed the quota. Returns how
    many were allocated."""
    _check_head(actor, actor.outlet_id)
    if per_person < 1 or per_person > MAX_ALLOCATION:
        raise ClaimError(_("每人分配数量应在 1 到 %(n)d 之间", n=MAX_ALLOCATION))
    staff = db.session.execute(select(User).where(
        User.outlet_id == actor.outlet_id, User.post == post, User.active).order_by(User.id)).scalars().all()
    if not staff:
        raise ClaimError(_("本网点没有该岗位的在岗员工"))
    caps = {u.id: per_person for u in staff}
    table = quotas(actor) if tier else None  # customers not yet tiered are outside every quota
    if table is not None:
        quota = table.get((tier, post), 0)
        if quota == 0:
            raise ClaimError(_("按本分行的包户配额，%(post)s不维护 %(tier)s 层客户", post=post_label(post), tier=tier))
        if per_person > quota:
            raise ClaimError(_("每人分配数量不能超过配额：%(post)s每人维护 %(tier)s 层客户 %(n)d 户",
                               post=post_label(post), tier=tier, n=quota))
        held = _held([u.id for u in staff], [tier])
        caps = {u.id: min(per_person, quota - held.get((u.id, tier), 0)) for u in staff}
        if all(n <= 0 for n in caps.values()):
            raise ClaimError(_("%(post)s的 %(tier)s 层客户均已达到配额 %(n)d 户，无需再分配",
                               post=post_label(post), tier=tier, n=quota))
    limit = min(sum(n for n in caps.values() if n > 0), MAX_ALLOCATION)
    ids = list(db.session.execute(_pool(actor, tier).with_only_columns(Customer.id)
                                  .order_by(Customer.deposit_balance.desc(), Customer.id).limit(limit)).scalars())
    seats = _seats(_round_robin(ids, staff, caps))
    actor_id, outlet_id, staff_n = actor.id, actor.outlet_id, len(staff)
    audit_actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
    _fresh_write()
    done = len(_write_allocation(actor_id, seats))
    audit.record("customer.allocated", target=("outlet", outlet_id), actor=audit_actor,
                 detail={"tier": tier or "", "post": post, "count": done, "staff": staff_n,
                         "quota": table.get((tier, post)) if table else None})
    db.session.commit()
    return done


@dataclass
class QuotaCell:
    quota: int  # per person
    staff: int  # active staff of the post in the outlet
    room: int  # customers of the tier the post's staff may still be given (quota − held, summed)


def quota_overview(actor: Any, table: dict[tuple[str, str], int]) -> tuple[list[str], list[tuple[str, dict]]]:
    """For the head's page: the quota tiers (top first) and, per claim-order post with any quota, each tier's
    quota, staff count and room left. Two aggregates, whatever the outlet's size."""
    tiers = list(dict.fromkeys(t for t, _ in table))
    posts = [p for p in CLAIM_ORDER if any((t, p) in table for t in tiers)]
    staff = db.session.execute(select(User.id, User.post).where(
        User.outlet_id == actor.outlet_id, User.post.in_(posts), User.active)).all()
    held = _held([uid for uid, _ in staff], tiers)
    rows = []
    for post in posts:
        members = [uid for uid, p in staff if p == post]
        cells = {t: QuotaCell(table[(t, post)], len(members),
                              sum(max(0, table[(t, post)] - held.get((uid, t), 0)) for uid in members))
                 for t in tiers if (t, post) in table}
        rows.append((post, cells))
    return tiers, rows


def allocate_by_quota(actor: Any) -> dict[tuple[str, str], int]:
    """R-08/R-14 in one action: for every tier (top first) and post (R-07 claim order) with a quota, deal the
    outlet's unmaintained customers of the tier (largest deposits first) to the post's active staff until each
    maintains `quota` customers of that tier. Customers someone maintains stay with him (A-03). Reads first (one
    pool query per tier), then one guarded UPDATE per staff member, one INSERT of the records, one audit row.
    Returns {(tier, post): customers allocated}; at most MAX_ALLOCATION customers per action."""
    _check_head(actor, actor.outlet_id)
    table = quotas(actor)
    if not table:
        raise ClaimError(_("本分行尚未设置各岗位的包户配额"))
    tiers = list(dict.fromkeys(t for t, _ in table))
    posts = {p for _, p in table}
    staff = db.session.execute(select(User).where(
        User.outlet_id == actor.outlet_id, User.post.in_(posts), User.active).order_by(User.id)).scalars().all()
    if not staff:
        raise ClaimError(_("本网点没有设有配额岗位的在岗员工"))
    held = _held([u.id for u in staff], tiers)
    budget = MAX_ALLOCATION
    planned: list[tuple[int, int, str]] = []
    where: dict[int, tuple[str, str]] = {}
    for tier in tiers:
        shares = []
        for post in CLAIM_ORDER:
            quota = table.get((tier, post), 0)
            members = [u for u in staff if u.post == post]
            caps = {u.id: quota - held.get((u.id, tier), 0) for u in members}
            room = sum(n for n in caps.values() if n > 0)
            if quota and room:
                shares.append((post, members, caps, room))
        wanted = min(sum(room for *_, room in shares), budget)
        if wanted <= 0:
            continue
        ids = list(db.session.execute(_pool(actor, tier).with_only_columns(Customer.id)
                                      .order_by(Customer.deposit_balance.desc(), Customer.id).limit(wanted)).scalars())
        budget -= len(ids)
        offset = 0
        for post, members, caps, room in shares:  # the senior post takes the best customers of the tier first
            part = ids[offset:offset + room]
            offset += len(part)
            seats = _seats(_round_robin(part, members, caps))
            planned.extend(seats)
            where.update({cid: (tier, post) for cid, _, _ in seats})
    actor_id, outlet_id, staff_n = actor.id, actor.outlet_id, len(staff)
    audit_actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
    _fresh_write()
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for cid, _user in _write_allocation(actor_id, planned):
        counts[where[cid]] += 1
    result = {key: counts[key] for key in table if counts.get(key)}
    audit.record("customer.allocated_by_quota", target=("outlet", outlet_id), actor=audit_actor,
                 detail={"count": sum(result.values()), "staff": staff_n,
                         "by_tier_post": {f"{t}/{p}": n for (t, p), n in result.items()}})
    db.session.commit()
    return result


def handover(actor: Any, from_id: int, to_id: int) -> int:
    """A departing staff member's customers go to a colleague of the same outlet in one action."""
    _check_head(actor, actor.outlet_id)
    people = {u.id: u for u in db.session.execute(select(User).where(
        User.id.in_((from_id, to_id)), User.outlet_id == actor.outlet_id)).scalars()}
    if from_id == to_id or from_id not in people or to_id not in people:
        raise ClaimError(_("请选择本网点的两位不同员工"))
    if not people[to_id].active:
        raise ClaimError(_("接手人必须是在岗员工"))
    now = utcnow()
    moved = select(Customer.id, db.literal(to_id), db.literal(people[to_id].post), db.literal("handover"),
                   db.literal("done"), db.literal(actor.id), db.literal(now)).where(
        Customer.maintainer_id == from_id, Customer.outlet_id == actor.outlet_id)
    db.session.execute(insert(CustomerClaim).from_select(
        ["customer_id", "user_id", "post", "kind", "state", "by_id", "created_at"], moved))
    count = db.session.execute(
        update(Customer).where(and_(Customer.maintainer_id == from_id, Customer.outlet_id == actor.outlet_id))
        .values(maintainer_id=to_id, version=Customer.version + 1)
        .execution_options(synchronize_session=False)).rowcount
    audit.record("customer.handover", target=("user", from_id), detail={"to": to_id, "count": count})
    db.session.commit()
    return count


def history(customer: Customer) -> list[CustomerClaim]:
    return list(db.session.execute(select(CustomerClaim).where(CustomerClaim.customer_id == customer.id)
                                   .order_by(CustomerClaim.id.desc()).limit(20)).scalars())
