"""Demo data for 客户分层/分群 (hook crm_seed_demo): per 分行 one custom segment, one recompute so every customer
has a tier and its segments, and one saved customer list — made by the 分行's administrator through the services."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from crm.demo import as_user
from crm.extensions import db
from crm.models import Branch, User
from crm.timeutil import today_local
from plugins.segmentation import services
from plugins.segmentation.models import SegmentationRun

# A segment a 分行 would define itself (R-08's "customers by any criteria"): middle-aged customers with money to
# invest, the audience of a pension-insurance seminar.
RULE_NAME = "45岁以上、金融资产10万元以上客户"
RULE_AUM = "100000"
LIST_NAME = "养老产品说明会邀约名单"


@dataclass
class Made:
    branches: int = 0
    customers: int = 0
    list_size: int = 0


def seed_demo(seed: int) -> Made:
    """Nothing when a recompute has run already (the demo is seeded once). `seed` is unused: nothing random."""
    made = Made()
    if db.session.execute(select(SegmentationRun.id).limit(1)).first() is not None:
        return made
    roots = db.session.execute(select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars().all()
    for root in roots:
        admin = db.session.execute(select(User).where(
            User.post == "branch_admin", User.branch_id == root.id, User.active.is_(True)).order_by(User.id)
            .limit(1)).scalar_one_or_none()
        if admin is None:  # recompute and lists need someone who sees the whole 分行
            continue
        conditions = [("kind", "eq", "personal"), ("birth_year", "le", str(today_local().year - 45)),
                      ("aum", "ge", RULE_AUM)]
        rule = as_user(admin, services.save_custom_rule, root.id, RULE_NAME, "and", conditions)
        run = as_user(admin, services.recompute, root.id)
        lst = as_user(admin, services.save_list, root.id, LIST_NAME, f"custom:{rule.id}", "snapshot")
        made.branches += 1
        made.customers += sum(run.tiers_after.values())
        made.list_size += lst.size or 0
    return made
