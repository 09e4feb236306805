"""Performance money: EVA coefficients (R-84–R-86), reward splits, 千分制 and pool distribution (R-88–R-93)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import NamedTuple

from crm.money import format_yuan, round_half_up

FEN = Decimal("0.01")
ONE = Decimal(1)
HUNDRED = Decimal(100)


class Explained(NamedTuple):
    """A computed value with the sentence that shows how it was reached (for the user, in Chinese)."""

    value: Decimal
    explanation: str


def _dec(value: Decimal, name: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name}必须是有限数值")
    return value


def _pct(ratio: Decimal) -> str:
    """A fraction as a percentage with two decimals (Decimal("0.015") shows as 1½ percent)."""
    return f"{round_half_up(ratio * HUNDRED, 2)}%"


def _pp(diff: Decimal) -> str:
    """A ratio difference in percentage points, two decimals (Decimal("0.003") is three tenths of a point)."""
    return f"{round_half_up(diff * HUNDRED, 2)}个百分点"


def _coef(value: Decimal) -> str:
    """Coefficients show two decimals, or four when two would hide a difference."""
    two = round_half_up(value, 2)
    return str(two) if two == value else str(round_half_up(value, 4))


# ---------------------------------------------------------------- EVA

DEFAULT_SCALE = Decimal(10)   # "÷100%×10": one percentage point moves the coefficient by a tenth
DEFAULT_FLOOR = Decimal(0)    # no floor in the source; A-24 recommends 0


def coefficient(r: Decimal, base: Decimal, peer_avg: Decimal, *, scale: Decimal = DEFAULT_SCALE,
                floor: Decimal = DEFAULT_FLOOR, label: str = "比率") -> Explained:
    """R-85/R-86 coefficient (K_dl for 日均存贷比, K_ret for 综合回报率).
    Ratios are Decimal fractions (1½ percent = Decimal("0.015")).

    r above the peer average: K = 1 + [(r − base) + (r − peer_avg)] × scale;
    otherwise (r at or below it): K = 1 + (r − base) × scale — both agree at r = peer_avg.
    K is not rounded (the money it multiplies is); it never goes below `floor` (A-24: 0).
    T-40: r Decimal("0.015"), base Decimal("0.012"), peer Decimal("0.014") → Decimal("1.04");
    r Decimal("0.010") → Decimal("0.98")."""
    r, base, peer_avg = _dec(r, "r"), _dec(base, "base"), _dec(peer_avg, "peer_avg")
    scale, floor = _dec(scale, "scale"), _dec(floor, "floor")
    step = scale / HUNDRED  # per percentage point
    head = f"{label}{_pct(r)}，基期{_pct(base)}，同类平均{_pct(peer_avg)}"
    if r > peer_avg:
        raw = ONE + ((r - base) + (r - peer_avg)) * scale
        how = f"高于同类平均：系数1 + ({_pp(r - base)} + {_pp(r - peer_avg)}) × {step.normalize():f}"
    else:
        raw = ONE + (r - base) * scale
        side = "等于" if r == peer_avg else "低于"
        how = f"{side}同类平均：系数1 + {_pp(r - base)} × {step.normalize():f}"
    value = max(raw, floor)
    text = f"{head}，{how} = {_coef(raw)}"
    if value != raw:
        text += f"，低于下限，取{_coef(value)}"
    return Explained(value, text)


def asset_eva_performance(stock_eva: Decimal, incr_eva: Decimal, rate_stock: Decimal, rate_incr: Decimal,
                          k_dl: Decimal, k_ret: Decimal) -> Explained:
    """R-84: (存量资产EVA × 计提比例 + 增量资产EVA × 计提比例) × K_dl × K_ret, rounded half up to the fen.
    The 计提比例 are configurable fractions (A-24).
    T-41: (200,000 × 10% + 100,000 × 20%) × Decimal("1.30") × Decimal("1.04") = 54,080 yuan."""
    values = [_dec(v, n) for v, n in ((stock_eva, "stock_eva"), (incr_eva, "incr_eva"), (rate_stock, "rate_stock"),
                                      (rate_incr, "rate_incr"), (k_dl, "k_dl"), (k_ret, "k_ret"))]
    stock_eva, incr_eva, rate_stock, rate_incr, k_dl, k_ret = values
    for rate in (rate_stock, rate_incr):
        if not Decimal(0) <= rate <= ONE:
            raise ValueError("计提比例应在0到100%之间")
    base = stock_eva * rate_stock + incr_eva * rate_incr
    value = round_half_up(base * k_dl * k_ret, 2)
    text = (f"(存量资产EVA {format_yuan(stock_eva)} × {_pct(rate_stock)} + 增量资产EVA {format_yuan(incr_eva)} × "
            f"{_pct(rate_incr)}) = {format_yuan(base)}；× 日均存贷比系数{_coef(k_dl)} × 综合回报率系数{_coef(k_ret)}"
            f" = {format_yuan(value)}")
    return Explained(value, text)


def _loans(loans_daily_avg: Decimal, what: str) -> Decimal:
    loans = _dec(loans_daily_avg, "loans_daily_avg")
    if loans < 0:
        raise ValueError("日均贷款不能为负数")
    if loans == 0:
        raise ValueError(f"管户客户日均贷款为零，无法计算{what}")
    return loans


def deposit_loan_ratio(deposits_daily_avg: Decimal, loans_daily_avg: Decimal) -> Explained:
    """R-85: 日均存贷比 = daily-average deposits (loan customers and related customers) ÷ daily-average loans,
    as an unrounded fraction. Zero loans → ValueError in Chinese."""
    deposits = _dec(deposits_daily_avg, "deposits_daily_avg")
    if deposits < 0:
        raise ValueError("日均存款不能为负数")
    loans = _loans(loans_daily_avg, "日均存贷比")
    ratio = deposits / loans
    return Explained(ratio, f"日均存贷比 = 日均存款{format_yuan(deposits)} ÷ 日均贷款{format_yuan(loans)} = {_pct(ratio)}")


def composite_return(eva_total: Decimal, loans_daily_avg: Decimal) -> Explained:
    """R-86: 综合回报率 = Σ EVA (assets, liabilities, intermediate business, incl. related customers) ÷ daily-average
    loans, as an unrounded fraction (may be negative). Zero loans → ValueError in Chinese."""
    eva = _dec(eva_total, "eva_total")
    loans = _loans(loans_daily_avg, "综合回报率")
    ratio = eva / loans
    return Explained(ratio, f"综合回报率 = EVA合计{format_yuan(eva)} ÷ 日均贷款{format_yuan(loans)} = {_pct(ratio)}")


# ---------------------------------------------------------------- reward splits (R-88, R-89, A-25, T-42)

PERSONAL_SHARE = Decimal("0.70")   # in principle ≥70% to the individual
INFO_SHARE = Decimal("0.30")       # information acquisition
EXEC_SHARE = Decimal("0.70")       # marketing execution


class Split(NamedTuple):
    paid: Decimal   # paid to the person now
    pool: Decimal   # into the performance-assessment pool


def _money(amount: Decimal, name: str = "金额") -> Decimal:
    amount = _dec(amount, name)
    if amount < 0:
        raise ValueError(f"{name}不能为负数")
    return round_half_up(amount, 2)


def _share(share: Decimal, name: str) -> Decimal:
    share = _dec(share, name)
    if not Decimal(0) <= share <= ONE:
        raise ValueError(f"{name}应在0到100%之间")
    return share


def individual_reward(amount: Decimal, personal_share: Decimal = PERSONAL_SHARE) -> Split:
    """R-88, T-42: split a marketing reward into the part paid to the person and the part kept for assessment.

    The amount is first rounded to the fen; the paid part is amount × share rounded half up to the fen and the pool
    takes the rest, so paid + pool always equals the amount. "原则上不低于70%": the share is configurable (0–100%)."""
    amount = _money(amount, "奖励金额")
    paid = round_half_up(amount * _share(personal_share, "个人发放比例"), 2)
    return Split(paid, amount - paid)


def joint_reward(amount: Decimal, info_share: Decimal = INFO_SHARE, exec_share: Decimal = EXEC_SHARE,
                 personal_share: Decimal = PERSONAL_SHARE) -> dict[str, Split]:
    """R-89 then R-88 (A-25: split first, then 70/30): {"info": Split, "exec": Split}.

    The information share is rounded half up to the fen and execution takes the rest; each share is then split
    by individual_reward. T-42: 1,000 → info 300 (210 paid + 90 pool) / exec 700 (490 paid + 210 pool)."""
    amount = _money(amount, "奖励金额")
    info_share, exec_share = _share(info_share, "信息获取比例"), _share(exec_share, "营销执行比例")
    if info_share + exec_share != ONE:
        raise ValueError(f"信息获取与营销执行比例之和应为100%，现为{_pct(info_share + exec_share)}")
    info = round_half_up(amount * info_share, 2)
    return {"info": individual_reward(info, personal_share), "exec": individual_reward(amount - info, personal_share)}


# ---------------------------------------------------------------- 千分制

THOUSAND = Decimal(1000)
DEPUTY_RATIO = Decimal("0.9")


def head_coefficient(score_of_1000: Decimal, base_coef: Decimal = ONE) -> Decimal:
    """R-90, A-25: outlet head's bonus coefficient = base_coef × score / 1000 (score 0–1000, not rounded)."""
    score = _dec(score_of_1000, "score")
    if not Decimal(0) <= score <= THOUSAND:
        raise ValueError(f"千分制得分应在0到1000分之间，现为{score}")
    base_coef = _dec(base_coef, "base_coef")
    if base_coef < 0:
        raise ValueError("基准系数不能为负数")
    return base_coef * score / THOUSAND


def deputy_coefficient(head_coef: Decimal) -> Decimal:
    """R-90: the deputy's coefficient is 90% of the head's."""
    return _dec(head_coef, "head_coef") * DEPUTY_RATIO


def thousand_point_bonus(outlet_avg_bonus: Decimal, score_of_1000: Decimal, *, deputy: bool = False,
                         base_coef: Decimal = ONE) -> Explained:
    """R-90: bonus = outlet average bonus × coefficient (head, or 90% of it for the deputy), half up to the fen."""
    avg = _money(outlet_avg_bonus, "网点人均奖金")
    head = head_coefficient(score_of_1000, base_coef)
    coef = deputy_coefficient(head) if deputy else head
    bonus = round_half_up(avg * coef, 2)
    how = f"负责人系数{_coef(head)} × 90% = {_coef(coef)}" if deputy else f"系数{_coef(coef)}"
    text = (f"千分制得分{score_of_1000}分，基准系数{_coef(base_coef)}，{how}；"
            f"绩效奖金 = 网点人均奖金{format_yuan(avg)} × {_coef(coef)} = {format_yuan(bonus)}")
    return Explained(bonus, text)


# ---------------------------------------------------------------- pools pro rata to scores

PROCESS_POOL = Decimal(3000)   # per outlet per month


def split_pool(pool: Decimal, scores: Mapping[Hashable, Decimal]) -> dict[Hashable, Decimal]:
    """R-91 (BSC) / R-93 (process pay): share a pool pro rata to scores; per-point value = pool ÷ Σ scores.

    Rounding (largest remainder): each share is first cut down to the fen; the fen left over (fewer than the number
    of people) go one each to the largest cut-off remainders, ties to the earlier key in `scores`. The shares then add
    up to the pool exactly and each differs from its exact value by less than one fen.
    T-44: 30,000 over 85/90/75 → 120 per point → 10,200 / 10,800 / 9,000."""
    pool = _money(pool, "绩效工资总额")
    if not scores:
        raise ValueError("没有参与分配的人员")
    values = {k: _dec(v, "score") for k, v in scores.items()}
    if any(v < 0 for v in values.values()):
        raise ValueError("得分不能为负数")
    total = sum(values.values(), Decimal(0))
    if total == 0:
        raise ValueError("所有人员得分合计为零，无法按得分分配")
    exact = {k: pool * v / total for k, v in values.items()}
    shares = {k: e.quantize(FEN, rounding=ROUND_DOWN) for k, e in exact.items()}
    left_fen = int((pool - sum(shares.values(), Decimal(0))) / FEN)
    # sorted() is stable: equal remainders keep the order of `scores`.
    for k in sorted(values, key=lambda k: exact[k] - shares[k], reverse=True)[:left_fen]:
        shares[k] += FEN
    return shares


def explain_pool_split(pool: Decimal, scores: Mapping[Hashable, Decimal], names: Mapping[Hashable, str] | None = None
                       ) -> str:
    """The Chinese sentence for split_pool: per-point value and each share (names default to the keys)."""
    shares = split_pool(pool, scores)
    total = sum(scores.values(), Decimal(0))
    per_point = pool / total
    parts = "，".join(f"{(names or {}).get(k, k)} {scores[k]}分 → {format_yuan(v)}" for k, v in shares.items())
    text = f"绩效工资{format_yuan(pool)} ÷ 总分{total} = 每分{format_yuan(per_point)}"
    if per_point != round_half_up(per_point, 2):
        text += "（按每分精确值计算，尾差按最大余额法分配到分）"
    return f"{text}：{parts}"


def split_process_pool(scores: Mapping[Hashable, Decimal], pool: Decimal = PROCESS_POOL) -> dict[Hashable, Decimal]:
    """R-93, A-25: the monthly 3,000-yuan process-management pay of one outlet, pro rata to process scores.
    T-45: 40/30/20/10 → 1,200 / 900 / 600 / 300."""
    return split_pool(pool, scores)
