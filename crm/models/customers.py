"""Customers (spec §2.3): personal and corporate, stock and target, with indexed search keys."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.org import Outlet
from crm.models.users import User
from crm.timeutil import utcnow

KINDS = {"personal": _l("个人"), "corporate": _l("对公")}
STATUSES = {"stock": _l("存量"), "target": _l("目标")}
# Spec §2.3 / R-03: the 金融生态图 modules a corporate customer belongs to.
ECO_MODULES = {"corporate": _l("公司业务"), "institutional": _l("机构业务"), "agri_realestate": _l("三农房地产"),
               "international": _l("国际业务")}
RISK_PREFERENCES = {"conservative": _l("保守型"), "prudent": _l("稳健型"), "balanced": _l("平衡型"),
                    "growth": _l("成长型"), "aggressive": _l("进取型")}
EMPLOYER_TYPES = {"government": _l("政府机构"), "executive": _l("企业中高管"), "professional": _l("专业人员"),
                  "freelance": _l("自由职业"), "other": _l("其他")}
MONEY = Numeric(18, 2)


def search_key(length: int) -> String:
    """ASCII search keys compare byte-wise (COLLATE "C" on PostgreSQL), so prefix ranges use the index."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Customer(db.Model):
    __tablename__ = "customer"
    __table_args__ = (
        # Keyset paging: every sort the list offers is served by one of these (design §9).
        Index("ix_customer_outlet_id_id", "outlet_id", "id"),
        Index("ix_customer_deposit_id", "deposit_balance", "id"),
        Index("ix_customer_outlet_deposit_id", "outlet_id", "deposit_balance", "id"),
        Index("ix_customer_pinyin_id", "name_pinyin", "id"),  # "sort by name" is pinyin order, as people expect
        Index("ix_customer_contact_id", "last_contact_at", "id"),
        Index("ix_customer_maintainer_id_id", "maintainer_id", "id"),
        # Own-scope posts' default list (by name): a corporate RM keeps thousands of companies whose names sort
        # together, and walking the name index for them read 80,000 rows (170 ms at a million customers).
        Index("ix_customer_maintainer_pinyin_id", "maintainer_id", "name_pinyin", "id"),
        # A Chinese search is a name prefix (张 finds 张三): one outlet's 张s through the first, everyone's through the
        # second. Without them, "王" read an outlet's 100,000 rows to keep 7,000 (110 ms at a million customers).
        Index("ix_customer_outlet_name", "outlet_id", "name"),
        Index("ix_customer_name", "name"),
        # Search keys: prefix ranges on these answer "zs", "zhangsan", "5678" without scanning.
        Index("ix_customer_name_initials", "name_initials"),
        Index("ix_customer_phone_rev", "phone_rev"),
        Index("ix_customer_cert_rev", "cert_rev"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))
    kind: Mapped[str] = mapped_column(String(10))  # personal | corporate
    status: Mapped[str] = mapped_column(String(10), default="stock")  # stock 存量 | target 目标
    name: Mapped[str] = mapped_column(String(100))
    # 身份证号码 (personal) or 统一社会信用代码 (corporate); unique in the bank.
    cert_no: Mapped[str | None] = mapped_column(String(18), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    maintainer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    maintenance_target: Mapped[str | None] = mapped_column(String(200))
    # True while two or more staff claim the customer: only the outlet head resolves it (R-07, T-02).
    duplicate_claim: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    tier: Mapped[str | None] = mapped_column(String(20), index=True)
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    deposit_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    deposit_daily_avg: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    loan_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    has_loan: Mapped[bool] = mapped_column(Boolean, default=False)  # False = 无贷户
    aum: Mapped[Decimal | None] = mapped_column(MONEY)
    last_contact_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    notes: Mapped[str | None] = mapped_column(Text)

    # Personal (§2.3)
    birthday: Mapped[date | None] = mapped_column(Date)
    # month * 100 + day of the birthday, indexed: "birthdays this week" without scanning every customer.
    birth_md: Mapped[int | None] = mapped_column(Integer, index=True)
    gender: Mapped[str | None] = mapped_column(String(2))
    employer: Mapped[str | None] = mapped_column(String(100))
    employer_type: Mapped[str | None] = mapped_column(String(20))
    occupation: Mapped[str | None] = mapped_column(String(50))
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_preference: Mapped[str | None] = mapped_column(String(20))
    family_risk_preference: Mapped[str | None] = mapped_column(String(20))
    product_needs: Mapped[str | None] = mapped_column(String(500))
    family_info: Mapped[str | None] = mapped_column(String(500))
    preferences: Mapped[str | None] = mapped_column(String(500))

    # Corporate (§2.3)
    legal_rep: Mapped[str | None] = mapped_column(String(50))
    registered_on: Mapped[date | None] = mapped_column(Date)
    industry: Mapped[str | None] = mapped_column(String(50))
    annual_revenue: Mapped[Decimal | None] = mapped_column(MONEY)
    eco_module: Mapped[str | None] = mapped_column(String(20))
    basic_account: Mapped[bool] = mapped_column(Boolean, default=False)
    ebanking: Mapped[bool] = mapped_column(Boolean, default=False)
    near_term_target: Mapped[str | None] = mapped_column(String(200))

    # Search keys, derived on every save and import (crm.customers.search.keys).
    name_pinyin: Mapped[str] = mapped_column(search_key(200), default="")
    name_initials: Mapped[str] = mapped_column(search_key(100), default="")
    phone_rev: Mapped[str | None] = mapped_column(search_key(20))
    cert_rev: Mapped[str | None] = mapped_column(search_key(18))

    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    outlet: Mapped[Outlet] = relationship(foreign_keys=[outlet_id])
    maintainer: Mapped[User | None] = relationship(foreign_keys=[maintainer_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def kind_label(self) -> str:
        return str(KINDS.get(self.kind, self.kind))

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.name}>"


# how a customer came to its maintainer, and competing claims awaiting the outlet head.
CLAIM_KINDS = {"claim": _l("认领"), "allocation": _l("分配"), "handover": _l("移交"), "resolution": _l("重复认领裁定")}
CLAIM_STATES = {"won": _l("认领成功"), "contested": _l("重复认领，待网点负责人裁定"), "confirmed": _l("裁定维护"),
                "rejected": _l("裁定未获"), "done": _l("已生效")}


class CustomerClaim(db.Model):
    """One row per claim, allocation, hand-over or resolution: the customer's maintenance history."""

    __tablename__ = "customer_claim"
    __table_args__ = (Index("ix_customer_claim_customer_id", "customer_id", "id"),
                      Index("ix_customer_claim_state", "state", "customer_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))  # who claims / receives the customer
    post: Mapped[str] = mapped_column(String(30))  # the post at that moment (claim order, R-07)
    kind: Mapped[str] = mapped_column(String(20))  # claim | allocation | handover | resolution
    state: Mapped[str] = mapped_column(String(20))  # won | contested | confirmed | rejected | done
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # the head who allocated/decided
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    by: Mapped[User | None] = relationship(foreign_keys=[by_id])


# Products held (spec §2.3 "products held" [001, 002]; AUM composition 储蓄/基金/保险/外汇 [000]).
PRODUCT_CATEGORIES = {"deposit_current": _l("活期存款"), "deposit_time": _l("定期存款"), "wealth": _l("理财产品"),
                      "fund": _l("基金"), "insurance": _l("保险"), "fx": _l("外汇"), "precious_metal": _l("贵金属"),
                      "loan": _l("贷款"), "card": _l("银行卡"), "ebanking": _l("电子银行"), "other": _l("其他")}
# Categories whose amounts are the customer's financial assets (AUM); loans are liabilities, cards and
# e-banking are services without a balance.
ASSET_CATEGORIES = ("deposit_current", "deposit_time", "wealth", "fund", "insurance", "fx", "precious_metal")


class CustomerProduct(db.Model):
    """One product a customer holds at the bank: a deposit, a wealth product, a policy, a card, a loan."""

    __tablename__ = "customer_product"
    __table_args__ = (Index("ix_customer_product_customer_id", "customer_id", "id"),
                      # "maturing soon" lists (定期/理财到期) without scanning every product.
                      Index("ix_customer_product_matures_on", "matures_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))  # e.g. 三年期整存整取, 子女教育金保险, 儿童专属借记卡
    account_no: Mapped[str | None] = mapped_column(String(32))  # masked on every page (masking.mask_account)
    amount: Mapped[Decimal | None] = mapped_column(MONEY)  # balance, premium or limit, in yuan
    opened_on: Mapped[date | None] = mapped_column(Date)
    matures_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def category_label(self) -> str:
        return str(PRODUCT_CATEGORIES.get(self.category, self.category))


# Family members (spec §2.3 "family members & family data"; children with age and school grade for the kids
# campaign and study tours, S-15).
RELATIONS = {"spouse": _l("配偶"), "child": _l("子女"), "parent": _l("父母"), "sibling": _l("兄弟姐妹"),
             "grandchild": _l("孙辈"), "other": _l("其他亲属")}
# In school order, so "小六至高三" (S-15) is a range of this list.
SCHOOL_GRADES = {"none": _l("未入学"), "k1": _l("幼儿园小班"), "k2": _l("幼儿园中班"), "k3": _l("幼儿园大班"),
                 "p1": _l("小学一年级"), "p2": _l("小学二年级"), "p3": _l("小学三年级"), "p4": _l("小学四年级"),
                 "p5": _l("小学五年级"), "p6": _l("小学六年级"), "m1": _l("初一"), "m2": _l("初二"), "m3": _l("初三"),
                 "h1": _l("高一"), "h2": _l("高二"), "h3": _l("高三"), "u": _l("大学及以上")}


class FamilyMember(db.Model):
    """A member of a personal customer's family; may itself be a customer of the bank (linked_customer_id)."""

    __tablename__ = "customer_family"
    __table_args__ = (Index("ix_customer_family_customer_id", "customer_id", "id"),
                      # Children of an age band (宝贝银行家 1–15, S-15) are found by birthday range.
                      Index("ix_customer_family_relation_birthday", "relation", "birthday"))

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    relation: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str | None] = mapped_column(String(2))
    birthday: Mapped[date | None] = mapped_column(Date)
    school_grade: Mapped[str | None] = mapped_column(String(4))
    school: Mapped[str | None] = mapped_column(String(100))
    occupation: Mapped[str | None] = mapped_column(String(100))  # work situation (工作情况)
    phone: Mapped[str | None] = mapped_column(String(20))  # masked on every page
    risk_preference: Mapped[str | None] = mapped_column(String(20))
    preferences: Mapped[str | None] = mapped_column(String(200))
    linked_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def relation_label(self) -> str:
        return str(RELATIONS.get(self.relation, self.relation))

    def age_on(self, day: date) -> int | None:
        """Whole years on `day` (a birthday on 29 Feb counts from 1 Mar in other years)."""
        if self.birthday is None:
            return None
        b = self.birthday
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))
