"""The loan_insurance (银保贷) tables: panel insurers, agreements, suspensions, cases with their guarantors,
shareholders, collateral, documents, review and disbursement checklists, transitions, overrides and the
default → claim → recovery records (spec §2.8, R-49–R-71). Every table is named ``loan_insurance_*``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.access import ScopeSpec, register_scope
from crm.extensions import db
from crm.timeutil import utcnow

MONEY = Numeric(18, 2)
RATE = Numeric(9, 6)  # premium rate, mortgage rate, recovery share: 0.012500, 0.600000 …
PERCENT = Numeric(5, 2)  # shareholding 0.00–100.00 (%)

BORROWER_TYPES = {"enterprise": _l("企业法人"), "individual": _l("个体工商户")}
PRODUCTS = {"working_capital": _l("流动资金贷款"), "acceptance": _l("银行承兑")}
# R-61 (8): the 办法 names trade/service and manufacturing enterprises; others get the general item.
INDUSTRY_KINDS = {"trade_service": _l("贸易流通及服务类"), "manufacturing": _l("生产制造类"), "other": _l("其他")}
COLLATERAL_KINDS = {"building": _l("建筑物（房屋）"), "land": _l("土地")}
DESIGN_USES = {"residential": _l("住宅"), "commercial": _l("商用"), "industrial": _l("工业"), "other": _l("其他")}
GUARANTOR_KINDS = {"person": _l("自然人"), "enterprise": _l("企业")}
GUARANTOR_ROLES = {"legal_rep": _l("法定代表人"), "controller": _l("实际控制人"), "shareholder": _l("主要股东"),
                   "other": _l("其他")}

# The workflow of R-60–R-70 (spec §3.14). Codes are stored; labels are shown.
STATUSES = {
    "accepted": _l("受理"),
    "investigating": _l("贷前调查"),
    "reviewing": _l("审查"),
    "approving": _l("审批"),
    "disbursement_check": _l("放款审核"),
    "disbursed": _l("放款"),
    "post_loan": _l("贷后"),
    "defaulted": _l("违约"),
    "claiming": _l("索赔"),
    "recovering": _l("追偿"),
    "settled": _l("结清"),
    "rejected": _l("已否决"),
    "prohibited": _l("禁止"),
}

# R-52 / 第八条: the ten situations in which credit is strictly forbidden.
PROHIBITED = (
    _l("被人民银行、银监会列入黑名单或被银行同业公布为不守信誉，或涉及重大法律纠纷、诉讼严重影响正常生产经营"),
    _l("能提供房产抵押但非用于正常生产经营，或不配合实地调查、实际经营状况难以判断"),
    _l("持续经营意愿较差、行业口碑较差，或经营者人品不好、有赌博等不良嗜好"),
    _l("法人代表、主要股东或高管有恶意逃废银行债务、信用卡恶意透支、涉黑涉赌涉毒或明显违反社会道德的行为"),
    _l("财务报表虚假，或资产负债科目明显不合理、与事实不符"),
    _l("现金流与账面收入严重不匹配且缺乏合理解释"),
    _l("违反产业政策，生产国家明令禁止的产品及假冒伪劣产品，或贷款资金用于禁止用途"),
    _l("生产经营严重不正常，资产负债率极高甚至资不抵债"),
    _l("属于其他国家明令禁止信贷资金进入的行业"),
    _l("属于本行禁止授信的客户"),
)
# R-63 / 第二十一条: the ten items of the review (审查审批).
REVIEW_ITEMS = (
    _l("借款人是否符合本业务准入条件"),
    _l("客户经理的调查是否尽职、全面和准确"),
    _l("借款人的还款意愿和还款能力"),
    _l("借款人的诚信度"),
    _l("抵押品的所有权和变现能力"),
    _l("借款人及保证人主体资格的合法、合规性"),
    _l("贷款用途是否合法合理"),
    _l("授信期限是否超出保单期限，授信金额是否超出抵押物评估价值"),
    _l("借款人的风险度评估"),
    _l("其他需要审议的内容"),
)
# R-64 / 第二十二条: the seven points of the disbursement check (放款审核岗).
DISBURSEMENT_ITEMS = (
    _l("本行对抵押物具有唯一抵押权益"),
    _l("超出抵押率部分已在入围保险公司办理相应金额的贷款保证保险"),
    _l("投保单上的保险金额符合审批要求"),
    _l("本行为唯一受益人"),
    _l("保单有效期覆盖贷款期间"),
    _l("被保险贷款金额加纯抵押贷款金额不高于抵押物评估价值"),
    _l("其他需审查的内容"),
)
# R-66 / 第二十四条: the seven default events.
DEFAULT_EVENTS = (
    _l("借款人擅自改变贷款用途"),
    _l("未按合同约定支付到期贷款本息等应付款项"),
    _l("歇业、解散、停业整顿、被吊销营业执照或被撤销，未在约定期限内书面告知"),
    _l("未按要求提供真实的财务报表和其他反映生产经营情况的材料"),
    _l("担保条件、效力发生变更，经通知未按要求提供担保"),
    _l("与其他债权人的合同项下发生重大违约，可能威胁本行债权"),
    _l("借款合同中列明的其他违约行为"),
)
# R-67 / 第二十五条: the measures, chosen alone or combined.
MEASURES = {
    "adjust_line": _l("调整或取消贷款额度"),
    "stop_disbursement": _l("停止发放贷款"),
    "refuse_drawdown": _l("拒绝新的提款要求"),
    "terminate": _l("终止贷款合同"),
    "accelerate": _l("要求立即偿还所有未还借款"),
}


class LoanInsurer(db.Model):
    """A panel insurer (入围保险公司, R-49): of one 分行's panel, or HQ-wide when ``branch_id`` is empty."""

    __tablename__ = "loan_insurance_insurer"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), index=True)  # None: every 分行
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False: removed from the panel
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    agreements: Mapped[list[LoanAgreement]] = relationship(back_populates="insurer",
                                                           order_by="LoanAgreement.valid_from")

    __mapper_args__ = {"version_id_col": version}


class LoanAgreement(db.Model):
    """《银保贷业务合作协议》 with a panel insurer (R-60): validity (both ends inclusive) and the figures the 办法
    leaves to the agreement (A-15): premium rate, mortgage rate, claim waiting period, collection fee, the insurer's
    share of net recoveries (R-70)."""

    __tablename__ = "loan_insurance_agreement"
    __table_args__ = (Index("ix_loan_insurance_agreement_insurer_id", "insurer_id", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_insurer.id"))
    agreement_no: Mapped[str] = mapped_column(String(50))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    premium_rate: Mapped[Decimal] = mapped_column(RATE)
    mortgage_rate: Mapped[Decimal] = mapped_column(RATE)
    waiting_days: Mapped[int] = mapped_column(Integer)  # claim waiting period, calendar days after the default
    collection_fee: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    insurer_recovery_share: Mapped[Decimal] = mapped_column(RATE)  # of net recoveries, 0–1
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)

    insurer: Mapped[LoanInsurer] = relationship(back_populates="agreements", lazy="joined")

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


class LoanSuspension(db.Model):
    """R-69 / A-15: the handling 分行 suspends approvals of NEW customers with an insurer that paid late."""

    __tablename__ = "loan_insurance_suspension"
    __table_args__ = (Index("ix_loan_insurance_suspension_insurer_id", "insurer_id", "branch_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_insurer.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))  # the handling 分行
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)  # inclusive; None = until lifted
    reason: Mapped[str] = mapped_column(String(500))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("loan_insurance_claim.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)

    def active_on(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


class LoanCase(db.Model):
    """One 银保贷 application of a corporate customer at its handling outlet, from 受理 to 结清 (spec §2.8)."""

    __tablename__ = "loan_insurance_case"
    __table_args__ = (Index("ix_loan_insurance_case_outlet_id", "outlet_id", "status"),
                      Index("ix_loan_insurance_case_customer_id", "customer_id"),
                      Index("ix_loan_insurance_case_rm_id", "rm_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))  # the handling outlet (经办网点)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)  # its 分行 (suspension scope)
    rm_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # the responsible customer manager
    application_date: Mapped[date] = mapped_column(Date)
    # Borrower
    borrower_type: Mapped[str] = mapped_column(String(12))
    has_account_at_outlet: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_with_aic: Mapped[bool] = mapped_column(Boolean, default=False)  # 第六条（一）
    registered_on: Mapped[date | None] = mapped_column(Date)
    main_shareholder_industry_years: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    clear_business_no_bad_record: Mapped[bool] = mapped_column(Boolean, default=False)  # 第六条（三）
    controller_no_bad_habits: Mapped[bool] = mapped_column(Boolean, default=False)  # 第六条（四）
    industry_kind: Mapped[str] = mapped_column(String(16), default="other")
    legal_rep_name: Mapped[str | None] = mapped_column(String(50))
    # the ten prohibited situations, one flag each, and what was found
    prohibited_1: Mapped[bool] = mapped_column(Boolean, default=False)
    prohibited_2: Mapped[bool] = mapped_column(Boolean, default=False)
    prohibited_3: Mapped[bool] = mapped_column(Boolean, default=False)
    prohibited_4: Mapped[bool] = mapped_column(Boolean, default=False)
    prohibited_5: Mapped[bool] = mapped_column(Boolean, default=False)
    prohibited_6: Mapped[bool] = mapped_column(Boolean, default=False)
    prohibited_7: Mapped[bool] = mapped_column(Boolean, default=False)
    prohibited_8: Mapped[bool] = mapped_column(Boolean, default=False)
    prohibited_9: Mapped[bool] = mapped_column(Boolean, default=False)
    prohibited_10: Mapped[bool] = mapped_column(Boolean, default=False)
    prohibited_note: Mapped[str | None] = mapped_column(String(1000))
    # Use and terms
    use_of_funds: Mapped[str | None] = mapped_column(String(300))
    use_is_working_capital: Mapped[bool] = mapped_column(Boolean, default=True)
    product: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    term_start: Mapped[date | None] = mapped_column(Date)
    term_end: Mapped[date | None] = mapped_column(Date)
    margin_amount: Mapped[Decimal | None] = mapped_column(MONEY)  # acceptances
    risk_rating: Mapped[str | None] = mapped_column(String(20))
    # Insurance
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("loan_insurance_agreement.id"))
    policy_no: Mapped[str | None] = mapped_column(String(50))
    insured_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    policy_start: Mapped[date | None] = mapped_column(Date)
    policy_end: Mapped[date | None] = mapped_column(Date)
    policy_issued_on: Mapped[date | None] = mapped_column(Date)
    premium: Mapped[Decimal | None] = mapped_column(MONEY)
    premium_transfer_on: Mapped[date | None] = mapped_column(Date)
    bank_sole_beneficiary: Mapped[bool] = mapped_column(Boolean, default=False)
    approved_insured_amount: Mapped[Decimal | None] = mapped_column(MONEY)  # the insured part at approval
    # Workflow
    status: Mapped[str] = mapped_column(String(20), default="accepted", index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    prepared_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # submitted to 审查
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # submitted to 审批
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # 放款审核
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    agreement: Mapped[LoanAgreement | None] = relationship(lazy="joined")
    guarantors: Mapped[list[LoanGuarantor]] = relationship(cascade="all, delete-orphan", order_by="LoanGuarantor.id")
    shareholders: Mapped[list[LoanShareholder]] = relationship(cascade="all, delete-orphan",
                                                               order_by="LoanShareholder.id")
    collaterals: Mapped[list[LoanCollateral]] = relationship(cascade="all, delete-orphan",
                                                             order_by="LoanCollateral.id")
    overrides: Mapped[list[LoanOverride]] = relationship(cascade="all, delete-orphan", order_by="LoanOverride.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def prohibited_flags(self) -> list[bool]:
        return [bool(getattr(self, f"prohibited_{i}")) for i in range(1, 11)]

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))


class LoanGuarantor(db.Model):
    """A joint-liability guarantor (R-51 (1)): a natural person (with spouse) or an enterprise."""

    __tablename__ = "loan_insurance_guarantor"
    # R-61 checklist codes carry these ids: AUTOINCREMENT keeps SQLite from giving a deleted last row's id to a
    # new row (PostgreSQL sequences never reuse one).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # person | enterprise
    role: Mapped[str] = mapped_column(String(12), default="other")
    name: Mapped[str] = mapped_column(String(100))
    id_no: Mapped[str | None] = mapped_column(String(18))  # 身份证 or 统一社会信用代码
    married: Mapped[bool] = mapped_column(Boolean, default=False)
    spouse_name: Mapped[str | None] = mapped_column(String(50))
    spouse_id_no: Mapped[str | None] = mapped_column(String(18))
    joint_liability: Mapped[bool] = mapped_column(Boolean, default=True)


class LoanShareholder(db.Model):
    """A shareholder of the borrower (R-61 (4): holders of 10% and more, and their spouses, give IDs)."""

    __tablename__ = "loan_insurance_shareholder"
    # R-61 checklist codes carry these ids: AUTOINCREMENT keeps SQLite from giving a deleted last row's id to a
    # new row (PostgreSQL sequences never reuse one).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    share_pct: Mapped[Decimal] = mapped_column(PERCENT)
    has_spouse: Mapped[bool] = mapped_column(Boolean, default=False)


class LoanCollateral(db.Model):
    """A mortgaged building or piece of land (R-51 (2)–(7))."""

    __tablename__ = "loan_insurance_collateral"
    # R-61 checklist codes carry these ids: AUTOINCREMENT keeps SQLite from giving a deleted last row's id to a
    # new row (PostgreSQL sequences never reuse one).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # building | land
    address: Mapped[str | None] = mapped_column(String(200))
    clear_title: Mapped[bool] = mapped_column(Boolean, default=True)  # lawfully acquired, clear, tradable, registrable
    county_urban_area: Mapped[bool] = mapped_column(Boolean, default=False)  # 县级以上（含）城区, enterprise's region
    design_use: Mapped[str | None] = mapped_column(String(12))
    build_year: Mapped[int | None] = mapped_column(Integer)
    completed_on: Mapped[date | None] = mapped_column(Date)  # 竣工日期 when known: then it decides the age
    last_transfer_on: Mapped[date | None] = mapped_column(Date)
    owner_is_minor: Mapped[bool] = mapped_column(Boolean, default=False)
    in_demolition_zone: Mapped[bool] = mapped_column(Boolean, default=False)
    illegal_building: Mapped[bool] = mapped_column(Boolean, default=False)
    sealed_seized_supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    otherwise_non_mortgageable: Mapped[bool] = mapped_column(Boolean, default=False)
    appraised_value: Mapped[Decimal] = mapped_column(MONEY)
    appraisal_report_no: Mapped[str | None] = mapped_column(String(50))
    bank_sole_mortgagee: Mapped[bool] = mapped_column(Boolean, default=False)


class LoanDocument(db.Model):
    """One line of the case's R-61 checklist (codes like ``04.sh.3``); the file columns wait for the upload page."""

    __tablename__ = "loan_insurance_document"
    __table_args__ = (UniqueConstraint("case_id", "code", name="uq_loan_insurance_document_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(30))
    label: Mapped[str] = mapped_column(String(300))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    received: Mapped[bool] = mapped_column(Boolean, default=False)
    file_name: Mapped[str | None] = mapped_column(String(200))
    stored_name: Mapped[str | None] = mapped_column(String(64))
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    received_at: Mapped[datetime | None] = mapped_column(db.DateTime)


class LoanReviewAnswer(db.Model):
    """An answer to one of the ten review items (R-63): yes/no with a note, by the reviewer."""

    __tablename__ = "loan_insurance_review_answer"
    __table_args__ = (UniqueConstraint("case_id", "item", name="uq_loan_insurance_review_answer_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"))
    item: Mapped[int] = mapped_column(Integer)  # 1–10
    answer: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(500))
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)


class LoanDisbursementCheck(db.Model):
    """One of the seven disbursement checks (R-64), ticked by the 放款审核岗."""

    __tablename__ = "loan_insurance_disbursement_check"
    __table_args__ = (UniqueConstraint("case_id", "item", name="uq_loan_insurance_disbursement_check_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"))
    item: Mapped[int] = mapped_column(Integer)  # 1–7
    passed: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(500))
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    checked_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)


class LoanTransition(db.Model):
    """Every status change: from, to, who, when (UTC) and why."""

    __tablename__ = "loan_insurance_transition"
    __table_args__ = (Index("ix_loan_insurance_transition_case_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    reason: Mapped[str | None] = mapped_column(String(500))


class LoanOverride(db.Model):
    """A recorded exception to a "原则上" rule (A-15): rule id, reason, who and when."""

    __tablename__ = "loan_insurance_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)


class LoanDefaultEvent(db.Model):
    """A default event of R-66 (1–7)."""

    __tablename__ = "loan_insurance_default_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"), index=True)
    event: Mapped[int] = mapped_column(Integer)
    occurred_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)


class LoanMeasure(db.Model):
    """A measure of R-67 taken after a default event."""

    __tablename__ = "loan_insurance_measure"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"), index=True)
    default_event_id: Mapped[int | None] = mapped_column(ForeignKey("loan_insurance_default_event.id"))
    measure: Mapped[str] = mapped_column(String(20))
    taken_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)


class LoanClaim(db.Model):
    """The claim on the insurer (R-68): deadlines in working days, payment, and what the insurer got back (R-70)."""

    __tablename__ = "loan_insurance_claim"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"), unique=True)
    waiting_period_end: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)  # add_workdays(waiting_period_end, 3)
    submitted_on: Mapped[date | None] = mapped_column(Date)
    docs_complete_on: Mapped[date | None] = mapped_column(Date)
    insurer_deadline: Mapped[date | None] = mapped_column(Date)  # add_workdays(docs_complete_on, 5)
    paid_on: Mapped[date | None] = mapped_column(Date)
    paid_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    insurer_recovered: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))  # R-70 cap: ≤ paid_amount
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class LoanRecovery(db.Model):
    """One recovery (R-70): proceeds, costs, and the shares of insurer and bank after costs."""

    __tablename__ = "loan_insurance_recovery"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_case.id", ondelete="CASCADE"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("loan_insurance_claim.id"))
    recovered_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    costs: Mapped[Decimal] = mapped_column(MONEY)
    insurer_share: Mapped[Decimal] = mapped_column(MONEY)
    bank_share: Mapped[Decimal] = mapped_column(MONEY)
    capped: Mapped[bool] = mapped_column(Boolean, default=False)  # the insurer's share was cut at what it paid
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)

    @property
    def net(self) -> Decimal:
        return self.amount - self.costs


# Scope (design §4): outlet posts see their outlet's cases, branch posts their subtree's, customer managers the
# cases they are responsible for; rows of a case are reached only through its case.
register_scope(LoanCase, ScopeSpec(outlet=LoanCase.outlet_id, owner=LoanCase.rm_id))
