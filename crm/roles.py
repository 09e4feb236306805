"""Posts (岗位), their scope of data, grades, and the claim order of spec R-07."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

# Scope levels, widest first. A user sees data of their scope only (design §4, default deny).
SCOPE_ALL = "all"          # every branch (system administrator)
SCOPE_BRANCH = "branch"    # the subtree of the user's branch node (分行 or 支行)
SCOPE_OUTLET = "outlet"    # the user's outlet
SCOPE_OWN = "own"          # what the user maintains personally

# Where a post sits: nowhere (admin), at a branch node, or at an outlet.
AT_NONE, AT_BRANCH, AT_OUTLET = "none", "branch", "outlet"


@dataclass(frozen=True)
class Post:
    code: str
    label: object  # lazy string
    at: str
    scope: str


POSTS: tuple[Post, ...] = (
    Post("admin", _l("系统管理员"), AT_NONE, SCOPE_ALL),
    Post("branch_admin", _l("分行管理员"), AT_BRANCH, SCOPE_BRANCH),
    Post("branch_head", _l("分行负责人"), AT_BRANCH, SCOPE_BRANCH),
    Post("marketing", _l("市场营销岗"), AT_BRANCH, SCOPE_BRANCH),
    Post("sub_branch_president", _l("支行行长"), AT_BRANCH, SCOPE_BRANCH),
    Post("retail_vp", _l("零售主管行长"), AT_BRANCH, SCOPE_BRANCH),
    Post("product_manager", _l("产品经理"), AT_BRANCH, SCOPE_BRANCH),
    Post("outlet_head", _l("网点负责人"), AT_OUTLET, SCOPE_OUTLET),
    Post("outlet_deputy", _l("网点副职"), AT_OUTLET, SCOPE_OUTLET),
    Post("supervisor", _l("主管"), AT_OUTLET, SCOPE_OUTLET),
    Post("corporate_rm", _l("法人客户经理"), AT_OUTLET, SCOPE_OWN),
    Post("personal_rm", _l("个人客户经理"), AT_OUTLET, SCOPE_OWN),
    Post("wealth_manager", _l("理财经理"), AT_OUTLET, SCOPE_OWN),
    Post("lobby_manager", _l("大堂经理"), AT_OUTLET, SCOPE_OWN),
    Post("low_counter_teller", _l("低柜柜员"), AT_OUTLET, SCOPE_OWN),
    Post("high_counter_teller", _l("高柜柜员"), AT_OUTLET, SCOPE_OWN),
    Post("back_office", _l("后台"), AT_OUTLET, SCOPE_OWN),
    Post("clerk", _l("内勤"), AT_OUTLET, SCOPE_OWN),
    Post("agent", _l("业务代办员"), AT_OUTLET, SCOPE_OWN),
)
POST_BY_CODE = {p.code: p for p in POSTS}
OUTLET_POSTS = tuple(p.code for p in POSTS if p.at == AT_OUTLET)
BRANCH_POSTS = tuple(p.code for p in POSTS if p.at == AT_BRANCH)

# R-07 claim order (认领顺序): 网点负责人 → 法人客户经理 → 低柜柜员 → 主管 → 个人客户经理 → 大堂经理 → 高柜 → 后台.
CLAIM_ORDER: tuple[str, ...] = (
    "outlet_head", "corporate_rm", "low_counter_teller", "supervisor",
    "personal_rm", "lobby_manager", "high_counter_teller", "back_office",
)


def claim_rank(post: str) -> int | None:
    """Position of a post in the R-07 claim order (0 = first), None for posts outside it."""
    try:
        return CLAIM_ORDER.index(post)
    except ValueError:
        return None


def post_label(code: str | None) -> str:
    from crm.i18n import label

    post = POST_BY_CODE.get(code or "")
    return label(post.label) if post else (code or "")


@dataclass(frozen=True)
class Grade:
    code: str
    label: object
    scheme: str           # A: 003(a) three grades; B: 003(b) six grades; P: 003(c) personal-RM levels
    staff_grade: int | None = None  # 行员等级 of scheme B
    probation: bool = False


GRADES: tuple[Grade, ...] = (
    Grade("a_senior", _l("高级客户经理（三级制）"), "A"),
    Grade("a_middle", _l("中级客户经理（三级制）"), "A"),
    Grade("a_junior", _l("初级客户经理（三级制）"), "A"),
    Grade("b_senior", _l("高级客户经理（六级制）"), "B", 5),
    Grade("b_1", _l("一级客户经理"), "B", 6),
    Grade("b_2", _l("二级客户经理"), "B", 7),
    Grade("b_3", _l("三级客户经理"), "B", 8),
    Grade("b_4", _l("四级客户经理"), "B", 9),
    Grade("b_trainee", _l("见习客户经理"), "B", 9, probation=True),
    Grade("p_assistant", _l("个人客户经理助理"), "P"),
    Grade("p_rm", _l("个人客户经理（等级）"), "P"),
)
GRADE_BY_CODE = {g.code: g for g in GRADES}
# Posts that carry a customer-manager grade; personal-RM levels belong to personal RMs only.
GRADED_POSTS = ("corporate_rm", "personal_rm", "wealth_manager")


def grade_allowed(post: str, grade: str | None) -> bool:
    if not grade:
        return True
    g = GRADE_BY_CODE.get(grade)
    if g is None or post not in GRADED_POSTS:
        return False
    return g.scheme != "P" or post == "personal_rm"


def grade_label(code: str | None) -> str:
    from crm.i18n import label

    g = GRADE_BY_CODE.get(code or "")
    return label(g.label) if g else ""


def probation_end(grade: str | None, effective_from: date | None) -> date | None:
    """见习 lasts one year (R-76, T-29): from 2024-03-01 the probation ends 2025-02-28."""
    g = GRADE_BY_CODE.get(grade or "")
    if not g or not g.probation or effective_from is None:
        return None
    try:
        anniversary = effective_from.replace(year=effective_from.year + 1)
    except ValueError:  # 29 February
        anniversary = effective_from.replace(year=effective_from.year + 1, day=28) + timedelta(days=1)
    return anniversary - timedelta(days=1)
