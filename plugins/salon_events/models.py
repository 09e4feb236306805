"""The salon_events plugin's tables: campaigns, outlet rounds, study-tour routes, invitations, registrations,
steps, photos (R-28–R-34, spec §2.6) and the certificate tables (实习证明, R-30 step 4).

Every table is named ``salon_events_*`` (the plugin contract test: a plugin's tables carry its name)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.access import ScopeSpec, register_scope, subtree_branch_ids, subtree_outlet_ids
from crm.extensions import db
from crm.models import Outlet, User
from crm.roles import SCOPE_ALL, SCOPE_BRANCH
from crm.timeutil import utcnow

MONEY = Numeric(18, 2)

# Campaign types of spec §2.6 (PK赛/假日竞赛 belong to other plugins).
KINDS = {
    "kids": _l("宝贝银行家"),
    "study_tour": _l("游学"),
    "salon": _l("理财沙龙"),
    "seminar": _l("产说会"),
    "lecture": _l("理财讲座/联谊会"),
}
CAMPAIGN_STATUSES = {"draft": _l("草稿"), "open": _l("进行中"), "closed": _l("已结束")}
SESSION_STATUSES = {"open": _l("报名中"), "closed": _l("已截止")}
REGISTRATION_STATUSES = {"registered": _l("已报名"), "waitlisted": _l("候补"), "cancelled": _l("已取消")}
CLOSING_RESULTS = {"closed": _l("当场促成"), "pending": _l("待跟进"), "declined": _l("未成交")}
INVITATION_STATUSES = {"invited": _l("已邀约"), "confirmed": _l("已确认到场"), "declined": _l("婉拒")}


class SalonCampaign(db.Model):
    """A campaign of a 分行 (spec §2.6): 宝贝银行家, 游学, 理财沙龙, 产说会, 讲座/联谊会."""

    __tablename__ = "salon_events_campaign"
    __table_args__ = (Index("ix_salon_events_campaign_branch_id", "branch_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))  # the owning 分行
    code: Mapped[str] = mapped_column(String(20))  # short code, first part of certificate numbers
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    audience: Mapped[str | None] = mapped_column(String(200))
    goal: Mapped[str | None] = mapped_column(String(500))
    core_products: Mapped[str | None] = mapped_column(String(300))
    partner: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    year: Mapped[int] = mapped_column(Integer)  # the source has no year; configurable per campaign
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    # R-31 / T-12 / A-11: booked premium per customer above this warns ("不宜贪大求高"); seminars and salons.
    premium_cap: Mapped[Decimal | None] = mapped_column(MONEY)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    outlets: Mapped[list[SalonCampaignOutlet]] = relationship(cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    @property
    def kind_label(self) -> str:
        return str(KINDS.get(self.kind, self.kind))

    @property
    def status_label(self) -> str:
        return str(CAMPAIGN_STATUSES.get(self.status, self.status))


class SalonCampaignOutlet(db.Model):
    """An outlet taking part in a campaign."""

    __tablename__ = "salon_events_campaign_outlet"
    __table_args__ = (Index("ix_salon_events_campaign_outlet_outlet_id", "outlet_id"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("salon_events_campaign.id", ondelete="CASCADE"),
                                             primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"), primary_key=True)

    outlet: Mapped[Outlet] = relationship()


class SalonSession(db.Model):
    """An outlet's round (场次) of a campaign (spec §2.6 EventSession; R-30 ≤10 children, ≤180 minutes)."""

    __tablename__ = "salon_events_session"
    __table_args__ = (Index("ix_salon_events_session_campaign_id", "campaign_id", "starts_at"),
                      Index("ix_salon_events_session_outlet_id", "outlet_id", "starts_at"),
                      Index("ix_salon_events_session_starts_at", "starts_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("salon_events_campaign.id", ondelete="CASCADE"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))
    # Local wall-clock time (Asia/Shanghai) of the outlet: a round is planned in local hours, not UTC.
    starts_at: Mapped[datetime] = mapped_column(db.DateTime)
    ends_at: Mapped[datetime] = mapped_column(db.DateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    # Seats taken by registered (not wait-listed, not cancelled) registrations; changed only by a guarded UPDATE
    # (seats_taken < capacity), so two registrations for the last seat cannot both get it.
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="open")
    lobby_manager_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rm_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    president_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # 支行行长 or 零售主管行长
    wealth_manager_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    partner_teacher: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)

    campaign: Mapped[SalonCampaign] = relationship()
    outlet: Mapped[Outlet] = relationship()
    lobby_manager: Mapped[User | None] = relationship(foreign_keys=[lobby_manager_id])
    rm: Mapped[User | None] = relationship(foreign_keys=[rm_id])
    president: Mapped[User | None] = relationship(foreign_keys=[president_id])
    wealth_manager: Mapped[User | None] = relationship(foreign_keys=[wealth_manager_id])

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    @property
    def status_label(self) -> str:
        return str(SESSION_STATUSES.get(self.status, self.status))


class SalonSessionStep(db.Model):
    """A step of the day logged as done (R-30's five steps, R-32's six), strictly in order."""

    __tablename__ = "salon_events_session_step"
    __table_args__ = (UniqueConstraint("session_id", "step", name="uq_salon_events_session_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("salon_events_session.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)  # 1-based
    done_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(String(300))

    done_by: Mapped[User | None] = relationship()


class SalonRoute(db.Model):
    """A study-tour route (R-29, T-09): discount and trip length are derived, never typed."""

    __tablename__ = "salon_events_route"
    __table_args__ = (Index("ix_salon_events_route_campaign_id", "campaign_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("salon_events_campaign.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    market_price: Mapped[Decimal] = mapped_column(MONEY)
    member_price: Mapped[Decimal] = mapped_column(MONEY)
    grade_from: Mapped[str] = mapped_column(String(4), default="p6")  # SCHOOL_GRADES codes, S-15 小六至高三
    grade_to: Mapped[str] = mapped_column(String(4), default="h3")
    departure_city: Mapped[str | None] = mapped_column(String(50))
    depart_on: Mapped[date] = mapped_column(Date)
    return_on: Mapped[date] = mapped_column(Date)
    group_size: Mapped[int] = mapped_column(Integer)  # 成团规模; beyond it registrations are wait-listed
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    hotline: Mapped[str | None] = mapped_column(String(100))
    deadline: Mapped[date] = mapped_column(Date)  # inclusive

    @property
    def discount(self) -> Decimal:
        return self.market_price - self.member_price

    @property
    def days(self) -> int:
        return (self.return_on - self.depart_on).days + 1


class SalonInvitation(db.Model):
    """A customer invited to a campaign (R-33 ①②): who invited, from which list, and whether they confirmed."""

    __tablename__ = "salon_events_invitation"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id", name="uq_salon_events_invitation_customer"),
                      Index("ix_salon_events_invitation_outlet_id", "outlet_id", "campaign_id"),
                      Index("ix_salon_events_invitation_customer_id", "customer_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("salon_events_campaign.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("salon_events_session.id", ondelete="SET NULL"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))  # the customer's outlet at invitation time
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    invited_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(10), default="search")  # search | list
    list_id: Mapped[int | None] = mapped_column(Integer)  # segmentation list (no FK: that plugin may be absent)
    status: Mapped[str] = mapped_column(String(10), default="invited")

    invited_by: Mapped[User | None] = relationship()

    @property
    def status_label(self) -> str:
        return str(INVITATION_STATUSES.get(self.status, self.status))


class SalonRegistration(db.Model):
    """A registration: a child (with the parent customer) for a kids round or a study-tour route, or a customer
    for a salon/产说会 round; then attendance and outcomes of the day."""

    __tablename__ = "salon_events_registration"
    __table_args__ = (
        # Duplicate refused: one live registration per (parent, child) per campaign; cancelled rows clear the key.
        UniqueConstraint("campaign_id", "dedupe_key", name="uq_salon_events_registration_dedupe"),
        Index("ix_salon_events_registration_session_id", "session_id", "status"),
        Index("ix_salon_events_registration_route_id", "route_id", "status"),
        Index("ix_salon_events_registration_outlet_id", "outlet_id", "campaign_id"),
        Index("ix_salon_events_registration_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("salon_events_campaign.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("salon_events_session.id", ondelete="CASCADE"))
    route_id: Mapped[int | None] = mapped_column(ForeignKey("salon_events_route.id", ondelete="CASCADE"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))  # the round's outlet (scope)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))  # the parent / guest
    family_member_id: Mapped[int | None] = mapped_column(ForeignKey("customer_family.id", ondelete="SET NULL"))
    child_name: Mapped[str | None] = mapped_column(String(50))
    child_age: Mapped[int | None] = mapped_column(Integer)
    school_grade: Mapped[str | None] = mapped_column(String(4))
    dedupe_key: Mapped[str | None] = mapped_column(String(80))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(12), default="registered")
    confirmed_at: Mapped[datetime | None] = mapped_column(db.DateTime)  # R-33 ②: confirmation call done
    reminded_at: Mapped[datetime | None] = mapped_column(db.DateTime)  # reminder the day before
    attended: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_in_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    card_opened: Mapped[bool] = mapped_column(Boolean, default=False)
    policies: Mapped[int] = mapped_column(Integer, default=0)
    booked_premium: Mapped[Decimal | None] = mapped_column(MONEY)
    closing_result: Mapped[str | None] = mapped_column(String(10))
    follow_up: Mapped[str | None] = mapped_column(String(300))
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    campaign: Mapped[SalonCampaign] = relationship()
    session: Mapped[SalonSession | None] = relationship()
    route: Mapped[SalonRoute | None] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        return str(REGISTRATION_STATUSES.get(self.status, self.status))

    @property
    def closing_label(self) -> str:
        return str(CLOSING_RESULTS.get(self.closing_result or "", ""))


class SalonPhoto(db.Model):
    """A photo of a child–parent group (R-30 step 4), stored under a random name; served by id through scope."""

    __tablename__ = "salon_events_photo"
    __table_args__ = (Index("ix_salon_events_photo_session_id", "session_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("salon_events_session.id", ondelete="CASCADE"))
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("salon_events_registration.id", ondelete="SET NULL"), index=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))
    stored_name: Mapped[str] = mapped_column(String(64))
    thumb_name: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)


# ---------------------------------------------------------------- certificates (used by the CERT helper's code)

class SalonCertTemplate(db.Model):
    """The certificate design of a campaign (HQ design, R-30 step 4). Placeholders: {child} {outlet} {date}
    {campaign}."""

    __tablename__ = "salon_events_cert_template"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("salon_events_campaign.id", ondelete="CASCADE"),
                                             primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(50), default="实习证明")
    body: Mapped[str] = mapped_column(Text)
    footer: Mapped[str | None] = mapped_column(String(200))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class SalonSignature(db.Model):
    """The 支行行长's signature (and the bank seal) for a campaign at a 支行, recorded before the rounds (A-10, T-10)."""

    __tablename__ = "salon_events_signature"
    __table_args__ = (Index("ix_salon_events_signature_campaign_id", "campaign_id", "sub_branch_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("salon_events_campaign.id", ondelete="CASCADE"))
    sub_branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    signer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    image: Mapped[str] = mapped_column(String(64))  # stored_name from uploads.py
    seal: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    signer: Mapped[User] = relationship(foreign_keys=[signer_id])


class SalonCertificate(db.Model):
    """One issued 实习证明: unique number, one per registration (only attending children), QR token."""

    __tablename__ = "salon_events_certificate"
    __table_args__ = (Index("ix_salon_events_certificate_session_id", "session_id"),
                      Index("ix_salon_events_certificate_campaign_id", "campaign_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("salon_events_registration.id", ondelete="CASCADE"),
                                                 unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("salon_events_campaign.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("salon_events_session.id", ondelete="CASCADE"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))
    child_name: Mapped[str] = mapped_column(String(50))
    issued_on: Mapped[date] = mapped_column(Date)
    signer_name: Mapped[str | None] = mapped_column(String(50))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    print_count: Mapped[int] = mapped_column(Integer, default=0)
    last_printed_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class SalonCertPrint(db.Model):
    """One print run (a round, a campaign, or one certificate); reprints are flagged."""

    __tablename__ = "salon_events_cert_print"
    __table_args__ = (Index("ix_salon_events_cert_print_campaign_id", "campaign_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("salon_events_campaign.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("salon_events_session.id", ondelete="CASCADE"))
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("salon_events_certificate.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(Integer, default=0)
    printed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    printed_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    reprint: Mapped[bool] = mapped_column(Boolean, default=False)


# ---------------------------------------------------------------- scope
# Outlet staff (outlet and own scope alike: the lobby manager runs the check-in) see their outlet's rounds and
# registrations; branch posts (marketing, 支行行长) their subtree's; the admin everything.

def _outlet_rows(column):
    def build(user):
        if user.scope == SCOPE_ALL:
            return true()
        if user.scope == SCOPE_BRANCH:
            return column.in_(subtree_outlet_ids(user))
        if user.outlet_id is not None:
            return column == user.outlet_id
        return false()
    return build


def _campaign_scope(user):
    """A campaign is visible to the 分行's branch posts (owning branch in their subtree or one of their outlets
    taking part) and to the staff of a participating outlet."""
    if user.scope == SCOPE_ALL:
        return true()
    taking_part = SalonCampaign.id.in_(select(SalonCampaignOutlet.campaign_id).where(
        _outlet_rows(SalonCampaignOutlet.outlet_id)(user)))
    if user.scope == SCOPE_BRANCH:
        return or_(SalonCampaign.branch_id.in_(subtree_branch_ids(user)), taking_part)
    return taking_part


def _via_campaign(column):
    def build(user):
        return column.in_(select(SalonCampaign.id).where(_campaign_scope(user)))
    return build


register_scope(SalonCampaign, ScopeSpec(custom=_campaign_scope))
register_scope(SalonSession, ScopeSpec(custom=_outlet_rows(SalonSession.outlet_id)))
register_scope(SalonRegistration, ScopeSpec(custom=_outlet_rows(SalonRegistration.outlet_id)))
register_scope(SalonInvitation, ScopeSpec(custom=_outlet_rows(SalonInvitation.outlet_id)))
register_scope(SalonPhoto, ScopeSpec(custom=_outlet_rows(SalonPhoto.outlet_id)))
register_scope(SalonRoute, ScopeSpec(custom=_via_campaign(SalonRoute.campaign_id)))
register_scope(SalonCertificate, ScopeSpec(custom=_outlet_rows(SalonCertificate.outlet_id)))
register_scope(SalonCertTemplate, ScopeSpec(custom=_via_campaign(SalonCertTemplate.campaign_id)))
register_scope(SalonCertPrint, ScopeSpec(custom=_via_campaign(SalonCertPrint.campaign_id)))
register_scope(SalonSignature, ScopeSpec(custom=_via_campaign(SalonSignature.campaign_id)))
