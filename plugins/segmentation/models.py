"""The segmentation plugin's tables: tier ladders, custom rules, runs, tier history, segment tags, saved lists,
per-post tier quotas (R-08/R-14) and 5C1S ratings (S-13)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.access import ScopeSpec, register_scope
from crm.extensions import db
from crm.models import Customer, User
from crm.timeutil import utcnow


class SegmentationTier(db.Model):
    """One rung of a 分行's tier ladder (S-12). `min_amount` is the inclusive lower bound ("以上"); the bottom rung
    has none and takes everybody below the next rung. A 分行 without rows uses the default ladder."""

    __tablename__ = "segmentation_tier"
    __table_args__ = (UniqueConstraint("branch_id", "code", name="uq_segmentation_tier_branch_code"),
                      UniqueConstraint("branch_id", "position", name="uq_segmentation_tier_branch_position"))

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    position: Mapped[int] = mapped_column(Integer)  # 0 = top tier
    code: Mapped[str] = mapped_column(String(20))  # written to customer.tier
    name: Mapped[str] = mapped_column(String(50))
    min_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))


class SegmentationCustomRule(db.Model):
    """A segment built in the browser: allow-listed field/operator/value conditions joined by AND or OR."""

    __tablename__ = "segmentation_custom_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    join: Mapped[str] = mapped_column(String(3), default="and")  # and | or
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)


class SegmentationRun(db.Model):
    """One recompute of a 分行: who, when, and the counts per tier and segment before and after."""

    __tablename__ = "segmentation_run"
    __table_args__ = (Index("ix_segmentation_run_branch_id", "branch_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    started_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)  # customers whose tier changed
    tiers_before: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    tiers_after: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    segments_before: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    segments_after: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship()


class SegmentationTierChange(db.Model):
    """A customer's tier changed in a recompute (written set-based, before the UPDATE)."""

    __tablename__ = "segmentation_tier_change"
    __table_args__ = (Index("ix_segmentation_tier_change_customer_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("segmentation_run.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    old_tier: Mapped[str | None] = mapped_column(String(20))
    new_tier: Mapped[str | None] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)


class SegmentationSlot(db.Model):
    """The bit of `SegmentationTag.bits` a segment holds in a 分行. Allocated at the first recompute that knows the
    segment and kept while it exists, so a recompute rewrites only the customers whose segments really changed."""

    __tablename__ = "segmentation_slot"
    __table_args__ = (UniqueConstraint("branch_id", "segment", name="uq_segmentation_slot_branch_segment"),)

    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), primary_key=True)
    bit: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0–62: bits stay positive
    segment: Mapped[str] = mapped_column(String(40))


class SegmentationTag(db.Model):
    """One row per customer: the tier and the segments (one bit each, see SegmentationSlot) the customer's last
    recompute gave. One narrow row instead of one row per customer per segment: 无贷户/有贷户 alone cover everybody."""

    __tablename__ = "segmentation_tag"
    __table_args__ = (Index("ix_segmentation_tag_branch_id", "branch_id"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True,
                                             autoincrement=False)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    tier: Mapped[str | None] = mapped_column(String(20))
    bits: Mapped[int] = mapped_column(BigInteger, default=0)
    # The one primary personal segment (S-01–S-05 by the precedence S-03 > S-04 > S-02 > S-01 > S-05), a
    # segment key such as "family_business"; NULL when the customer is in none of the five.
    primary_segment: Mapped[str | None] = mapped_column(String(40))


class SegmentationList(db.Model):
    """A segment saved as a named customer list of a 分行: `snapshot` keeps the members it had when saved (rows in
    SegmentationListMember), `live` follows the segment's membership at every recompute."""

    __tablename__ = "segmentation_list"
    __table_args__ = (Index("ix_segmentation_list_branch_id", "branch_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    name: Mapped[str] = mapped_column(String(50))
    segment: Mapped[str] = mapped_column(String(40))  # a SegmentationSlot.segment key
    kind: Mapped[str] = mapped_column(String(10))  # snapshot | live
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    size: Mapped[int] = mapped_column(Integer, default=0)  # members when saved (the whole 分行, not one scope)

    created_by: Mapped[User | None] = relationship()


class SegmentationListMember(db.Model):
    """A customer of a snapshot list, written by one INSERT … SELECT when the list is saved."""

    __tablename__ = "segmentation_list_member"
    # Deleting a customer cascades here: without this index every deletion would scan all members.
    __table_args__ = (Index("ix_segmentation_list_member_customer_id", "customer_id"),)

    list_id: Mapped[int] = mapped_column(ForeignKey("segmentation_list.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True,
                                             autoincrement=False)


class SegmentationQuota(db.Model):
    """R-08/R-14 (A-04): how many customers of a tier each staff member of a post maintains, per 分行. No row (or
    0) for a post and tier: that post gets none of the tier, once the 分行 has any quota at all."""

    __tablename__ = "segmentation_quota"

    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), primary_key=True)
    post: Mapped[str] = mapped_column(String(30), primary_key=True)
    tier: Mapped[str] = mapped_column(String(20), primary_key=True)  # a SegmentationTier.code
    quota: Mapped[int] = mapped_column(Integer)


class SegmentationRating(db.Model):
    """One 5C1S grading of a customer (S-13): the factor scores (1–5, labels as they were), the total and the
    grade given with the 分行's cut-offs of the day. Ratings are kept: the customer's latest row counts."""

    __tablename__ = "segmentation_rating"
    __table_args__ = (Index("ix_segmentation_rating_customer_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    scores: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)  # [[factor label, score], …]
    total: Mapped[int] = mapped_column(Integer)
    grade: Mapped[str] = mapped_column(String(10))  # quality | prospect | excluded
    note: Mapped[str | None] = mapped_column(String(200))
    rated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)

    rated_by: Mapped[User | None] = relationship()


def _of_visible_customers(column: Any):
    from crm.access import scoped

    return lambda user: column.in_(scoped(Customer, user).with_only_columns(Customer.id))


# History and tags are visible exactly where the customer is (design §4).
register_scope(SegmentationTierChange, ScopeSpec(custom=_of_visible_customers(SegmentationTierChange.customer_id)))
register_scope(SegmentationTag, ScopeSpec(custom=_of_visible_customers(SegmentationTag.customer_id)))
register_scope(SegmentationRating, ScopeSpec(custom=_of_visible_customers(SegmentationRating.customer_id)))
