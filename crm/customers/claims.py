"""包户包效: claims (认领, R-07), duplicate resolution by the outlet head, allocation (分配, R-08/R-14), hand-over.

Reading of the rules (spec A-03, T-02): a claim on a customer nobody maintains takes it at once, through a
conditional UPDATE (two simultaneous claims: exactly one wins). A claim on a customer someone already maintains
is recorded as competing and marks the customer "duplicate"; only the outlet head decides who keeps it, with
the manager of record pre-selected first, then the earlier post in the claim order, then the earlier claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, insert, select, update

from crm import audit
from crm.access import can
from crm.extensions import db
from crm.models import Customer, CustomerClaim, User
from crm.roles import CLAIM_ORDER, claim_rank
from crm.timeutil import utcnow

MAX_ALLOCATION = 10_000  # customers one allocation may hand out (a bound on the work of one request)


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
        db.session.execute(update(Customer).where(Customer.id == customer_id)
                           .values(duplicate_claim=True, version=Customer.version + 1)
                           .execution_options(synchronize_session=False))
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


def allocate(actor: Any, *, tier: str | None, post: str, per_person: int) -> int:
    """R-08/R-14: hand the outlet's unmaintained customers of a tier to the staff of a post, round-robin,
    at most `per_person` each, largest deposits first. Returns how many were allocated."""
    _check_head(actor, actor.outlet_id)
    if per_person < 1 or per_person > MAX_ALLOCATION:
        raise ClaimError(_("每人分配数量应在 1 到 %(n)d 之间", n=MAX_ALLOCATION))
    staff = db.session.execute(select(User).where(
        User.outlet_id == actor.outlet_id, User.post == post, User.active).order_by(User.id)).scalars().all()
    if not staff:
        raise ClaimError(_("本网点没有该岗位的在岗员工"))
    pool = claim_pool(actor).where(Customer.duplicate_claim.is_(False))
    pool = pool.where(Customer.tier.is_(None) if not tier else Customer.tier == tier)
    limit = min(per_person * len(staff), MAX_ALLOCATION)
    ids = list(db.session.execute(pool.with_only_columns(Customer.id)
                                  .order_by(Customer.deposit_balance.desc(), Customer.id).limit(limit)).scalars())
    pairs = [(cid, staff[i % len(staff)].id, staff[i % len(staff)].post) for i, cid in enumerate(ids)]
    actor_id, outlet_id = actor.id, actor.outlet_id
    audit_actor = actor._get_current_object() if hasattr(actor, "_get_current_object") else actor
    _fresh_write()
    done = 0
    now = utcnow()
    claims = []
    for cid, user_id, user_post in pairs:
        # Guarded per row: a customer claimed meanwhile keeps its claimant.
        if db.session.execute(update(Customer).where(Customer.id == cid, Customer.maintainer_id.is_(None))
                              .values(maintainer_id=user_id, version=Customer.version + 1)
                              .execution_options(synchronize_session=False)).rowcount:
            done += 1
            claims.append({"customer_id": cid, "user_id": user_id, "post": user_post, "kind": "allocation",
                           "state": "done", "by_id": actor_id, "created_at": now})
    if claims:
        db.session.execute(insert(CustomerClaim), claims)
    audit.record("customer.allocated", target=("outlet", outlet_id), actor=audit_actor,
                 detail={"tier": tier or "", "post": post, "count": done, "staff": len(staff)})
    db.session.commit()
    return done


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
