"""绩效分配 of a period per outlet: the BSC pool (R-91), process pay (R-93), head/deputy 千分制 bonus (R-90), marketing
reward splits (R-88, R-89) and loan RMs' EVA performance (R-84–R-86) — every figure with its explanation; the amounts
entered are stored per period and outlet (scorecards_pool) and audited."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm import audit
from crm.access import scope_filter
from crm.extensions import db
from crm.models import Outlet, User
from crm.money import format_yuan, round_half_up
from plugins.scorecards import rewards, services
from plugins.scorecards.default_schemes import default_scheme
from plugins.scorecards.models import ScorecardPeriod, ScorecardResult
from plugins.scorecards.models_rewards import AMOUNT_KINDS, PERSON_KINDS, POOL_KINDS, ScorecardPool
from plugins.scorecards.services import FormErrors, ServiceError

P = "scorecards."
BSC_PREFIX = "002-bsc"          # every balanced-scorecard scheme of a post
THOUSAND_CODE = "002-thousand"
POINTS_200_CODE = "002-200"     # R-92; its "process" part feeds R-93 when there is no process scheme result
PROCESS_CODE = "002-process"    # the 包户包效 process scores, from the CRM
PROCESS_ITEM = "process"
REWARDS_CODE = "002-rewards"    # parameters
EVA_CODE = "003f-eva"           # parameters
HEAD_POSTS = ("outlet_head", "outlet_deputy")
EVA_POSTS = ("corporate_rm",)   # 003(f) 贷款客户经理: the outlet's corporate (loan) customer managers
MAX_AMOUNT = Decimal("1e15")
HUNDRED = Decimal(100)
ZERO = Decimal(0)

# inputs per loan RM: key → (label, kind). "yuan": an amount (EVA may be negative); "pct": a ratio
# entered in percent (1.2 = 1.2%); "nonneg": an amount that is never negative.
EVA_FIELDS: dict[str, tuple[str, str]] = {
    "stock_eva": ("存量资产EVA", "yuan"),
    "incr_eva": ("增量资产EVA", "yuan"),
    "deposits_avg": ("日均存款（含关联客户）", "nonneg"),
    "loans_avg": ("管户客户日均贷款", "nonneg"),
    "dl_base": ("基期日均存贷比（%）", "pct"),
    "dl_peer": ("同类客户经理平均存贷比（%）", "pct"),
    "eva_total": ("资产、负债及中间业务EVA合计", "yuan"),
    "ret_base": ("基期综合回报率（%）", "pct"),
    "ret_peer": ("同类客户经理平均综合回报率（%）", "pct"),
}
PROCESS_FIELDS: dict[str, tuple[str, str]] = {"score": ("包户包效过程得分", "points")}


# ---------------------------------------------------------------- small helpers

def _dec(value: Any, default: str) -> Decimal:
    try:
        out = Decimal(str(value if value is not None else default))
    except InvalidOperation:
        out = Decimal(default)
    return out if out.is_finite() else Decimal(default)


def _pts(value: Decimal) -> Decimal:
    """Points without trailing zeros and never in exponent form (85.00 → 85, 100 → 100, 7.50 → 7.5)."""
    return Decimal(format(value.normalize(), "f"))


def _pct(ratio: Decimal) -> str:
    return f"{format((ratio * HUNDRED).normalize(), 'f')}%"


def _coef(value: Decimal) -> str:
    """Coefficients show two decimals, or four when two would hide a difference (as rewards.py does)."""
    two = round_half_up(value, 2)
    return str(two) if two == value else str(round_half_up(value, 4))


def parse_amount(raw: Any, label: str, *, kind: str = "nonneg") -> Decimal:
    """An entered figure → Decimal, or ServiceError with the Chinese reason. Accepts "30,000", "3万", "3000元".
    kind: nonneg (money ≥ 0, to the fen), yuan (money, may be negative), pct (a percentage, 6 decimals),
    points (a score ≥ 0, two decimals)."""
    if isinstance(raw, float | bool):
        raise TypeError("amounts are Decimal, int or str")
    text = unicodedata.normalize("NFKC", "" if raw is None else str(raw)).strip()
    text = text.replace(",", "").replace("，", "").removesuffix("元").removesuffix("%").removesuffix("分").strip()
    scale = Decimal(1)
    if text.endswith("万") and kind in ("nonneg", "yuan"):
        text, scale = text[:-1].strip(), Decimal(10000)
    if not text:
        raise ServiceError(_("请填写%(f)s", f=label))
    try:
        value = Decimal(text) * scale
    except InvalidOperation:
        raise ServiceError(_("%(f)s须为数字（当前：%(v)s）", f=label, v=str(raw)[:30])) from None
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise ServiceError(_("%(f)s数值超出范围", f=label))
    if value < 0 and kind in ("nonneg", "points"):
        raise ServiceError(_("%(f)s不能为负数", f=label))
    places = 6 if kind == "pct" else 2
    if value != round_half_up(value, places):
        raise ServiceError(_("%(f)s最多保留两位小数（到分）", f=label) if places == 2 else
                           _("%(f)s最多保留6位小数", f=label))
    return value


def outlets_for(user: Any, period: ScorecardPeriod) -> list[Outlet]:
    """The outlets of the period's 分行 the user sees as a whole (heads: theirs; branch posts: their subtree)."""
    return list(db.session.execute(select(Outlet).where(
        Outlet.root_branch_id == period.branch_id, Outlet.active, scope_filter(Outlet, user))
        .order_by(Outlet.code, Outlet.id)).scalars())


def outlet_in_scope(user: Any, period: ScorecardPeriod, outlet_id: Any) -> Outlet | None:
    try:
        key = int(outlet_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(select(Outlet).where(
        Outlet.id == key, Outlet.root_branch_id == period.branch_id, scope_filter(Outlet, user))).scalar_one_or_none()


def _params(branch_id: int, code: str) -> dict[str, Any]:
    """A parameter scheme's params for the 分行 (its own copy wins), the shipped default when it was removed."""
    try:
        return services.scheme_params(branch_id, code)
    except ServiceError:
        return dict(default_scheme(code).get("params") or {})


def _pool_row(period: ScorecardPeriod, outlet_id: int, kind: str) -> ScorecardPool | None:
    return db.session.execute(select(ScorecardPool).where(
        ScorecardPool.period_id == period.id, ScorecardPool.outlet_id == outlet_id, ScorecardPool.kind == kind)
    ).scalar_one_or_none()


def _writable(actor: Any, period: ScorecardPeriod, outlet_id: Any, kind: str, kinds: tuple[str, ...]) -> Outlet:
    services._require("manage", actor)
    services._editable(period)
    if kind not in kinds:
        raise ServiceError(_("未知的录入项：%(k)s", k=str(kind)[:30]))
    outlet = outlet_in_scope(actor, period, outlet_id)
    if outlet is None:
        raise ServiceError(_("网点不存在或不在您的管辖范围内"))
    return outlet


# ---------------------------------------------------------------- writing (audited)

def set_pool(actor: Any, period: ScorecardPeriod, outlet_id: int, kind: str, amount: Any) -> ScorecardPool:
    """R-91 / R-90: store the outlet's performance-pay pool ("bsc") or average bonus ("outlet_average_bonus") of
    the period, in Decimal yuan to the fen. Needs scorecards.manage, an unlocked period and an outlet in scope;
    a bad amount is refused in Chinese (FormErrors on "amount") and nothing is written. Audited with before/after."""
    outlet = _writable(actor, period, outlet_id, kind, AMOUNT_KINDS)
    try:
        value = round_half_up(parse_amount(amount, str(POOL_KINDS[kind])), 2)  # stored and audited to the fen
    except ServiceError as exc:
        raise FormErrors({"amount": str(exc)}) from None
    row = _pool_row(period, outlet.id, kind)
    before = row.amount if row is not None else None
    if row is None:
        row = ScorecardPool(period_id=period.id, outlet_id=outlet.id, kind=kind, data={})
        db.session.add(row)
    row.amount, row.updated_by_id = value, actor.id
    db.session.flush()
    audit.record(P + "pool_saved", target=("scorecards_pool", row.id), actor=actor,
                 detail={"period": period.id, "outlet": outlet.id, "kind": kind, "amount": str(value),
                         "before": None if before is None else str(before)})
    db.session.commit()
    return row


def set_person_inputs(actor: Any, period: ScorecardPeriod, outlet_id: int, kind: str, user_id: int,
                      values: Mapping[str, Any]) -> ScorecardPool:
    """Store one person's inputs: "process" {score} (R-93, when the outlet has no 200-point results) or "eva"
    {EVA_FIELDS} (R-84–R-86). Blank fields are cleared; bad ones refused in Chinese (FormErrors by field key),
    nothing written. Only staff of the outlet (loan RMs for EVA), never oneself. Audited with before/after."""
    outlet = _writable(actor, period, outlet_id, kind, PERSON_KINDS)
    fields = EVA_FIELDS if kind == "eva" else PROCESS_FIELDS
    person = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if person is None or not person.active or person.outlet_id != outlet.id or \
            (kind == "eva" and person.post not in EVA_POSTS):
        raise ServiceError(_("该人员不在此网点或不适用此项"))
    if person.id == actor.id:
        raise ServiceError(_("本人数据由上级录入"))
    errors: dict[str, str] = {}
    parsed: dict[str, str] = {}
    for key, (label, how) in fields.items():
        raw = values.get(key)
        if raw is None or str(raw).strip() == "":
            continue
        try:
            parsed[key] = str(parse_amount(raw, label, kind=how))
        except ServiceError as exc:
            errors[key] = str(exc)
    if errors:
        raise FormErrors(errors)
    row = _pool_row(period, outlet.id, kind)
    if row is None:
        row = ScorecardPool(period_id=period.id, outlet_id=outlet.id, kind=kind, data={})
        db.session.add(row)
    data = dict(row.data or {})
    before = data.get(str(person.id))
    if parsed:
        data[str(person.id)] = parsed
    else:
        data.pop(str(person.id), None)
    row.data, row.updated_by_id = data, actor.id  # a new dict: the JSON column sees the change
    db.session.flush()
    audit.record(P + "pool_saved", target=("scorecards_pool", row.id), actor=actor,
                 detail={"period": period.id, "outlet": outlet.id, "kind": kind, "user": person.id,
                         "values": parsed, "before": before})
    db.session.commit()
    return row


# ---------------------------------------------------------------- reading: the distribution

@dataclass
class ShareRow:
    user_id: int
    name: str
    post: str | None
    score: Decimal | None
    amount: Decimal | None = None
    explanation: str = ""


@dataclass
class PoolSection:
    """A pool split pro rata to scores (R-91 BSC, R-93 process pay)."""

    pool: Decimal | None
    rows: list[ShareRow]
    unscored: list[ShareRow] = field(default_factory=list)
    total: Decimal | None = None
    per_point: Decimal | None = None
    explanation: str = ""
    message: str = ""
    source: str = ""


@dataclass
class LeaderRow:
    """R-90: an outlet head or deputy, 千分制 score → coefficient → bonus."""

    user_id: int
    name: str
    post: str | None
    deputy: bool
    score: Decimal | None
    coefficient: Decimal | None = None
    bonus: Decimal | None = None
    explanation: str = ""

    @property
    def coefficient_text(self) -> str:
        return _coef(self.coefficient) if self.coefficient is not None else "—"


@dataclass
class EvaRow:
    """R-84–R-86: one loan RM's inputs and the explained ratios, coefficients and asset EVA performance."""

    user_id: int
    name: str
    inputs: dict[str, str]
    missing: list[str]
    ratio_dl: rewards.Explained | None = None
    k_dl: rewards.Explained | None = None
    ratio_ret: rewards.Explained | None = None
    k_ret: rewards.Explained | None = None
    performance: rewards.Explained | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class Distribution:
    period: ScorecardPeriod
    outlet: Outlet
    editable: bool
    computed: bool
    pools: dict[str, ScorecardPool]
    bsc: PoolSection
    process: PoolSection
    process_manual: bool  # no 200-point process scores: the scores are entered per person
    staff: list[User]
    leaders: list[LeaderRow]
    average_bonus: Decimal | None
    eva: list[EvaRow]
    params: dict[str, Any]


def _split(pool: Decimal | None, scored: list[ShareRow], *, what: str) -> PoolSection:
    """R-91 / R-93: rewards.split_pool (largest remainder: the shares add up to the pool to the fen), with the
    overall sentence and one per person."""
    section = PoolSection(pool=pool, rows=scored)
    if not scored:
        section.message = _("本网点没有可参与分配的%(w)s", w=what)
        return section
    scores = {r.user_id: _pts(r.score) for r in scored}
    total = sum(scores.values(), ZERO)
    section.total = total
    if pool is None:
        section.message = _("尚未录入金额")
        return section
    try:
        shares = rewards.split_pool(pool, scores)
        section.explanation = rewards.explain_pool_split(pool, scores, {r.user_id: r.name for r in scored})
    except ValueError as exc:
        section.message = str(exc)
        return section
    section.per_point = pool / total
    for r in scored:
        r.amount = shares[r.user_id]
        r.explanation = _("%(p)s ÷ 总分%(t)s × %(s)s分 = %(a)s", p=format_yuan(pool), t=total,
                          s=scores[r.user_id], a=format_yuan(r.amount))
        if r.amount != round_half_up(pool * scores[r.user_id] / total, 2):
            r.explanation += _("（按最大余额法补足尾差，各人合计等于总额）")
    return section


def _leader(result: ScorecardResult, person: User | None, name: str, base_coef: Decimal, ratio: Decimal,
            average: Decimal | None) -> LeaderRow:
    """R-90, A-25: coefficient = base_coef × score ÷ 1000 from the person's own 千分制 total; a deputy's is
    deputy_ratio (90%) of that; bonus = outlet average bonus × coefficient, half up to the fen."""
    deputy = person is not None and person.post == "outlet_deputy"
    row = LeaderRow(result.subject_id, name, person.post if person else None, deputy, result.total)
    if result.total is None:
        row.explanation = _("千分制考核数据未齐，未计分：%(m)s", m="、".join(result.missing or []))
        return row
    score = _pts(result.total)
    try:
        head = rewards.head_coefficient(score, base_coef)
    except ValueError as exc:
        row.explanation = str(exc)
        return row
    row.coefficient = head * ratio if deputy else head
    text = _("千分制得分%(s)s分：系数 = 基准系数%(b)s × %(s)s ÷ 1000 = %(h)s", s=score, b=_coef(base_coef),
             h=_coef(head))
    if deputy:
        text += _("；副职系数 = %(h)s × %(r)s = %(c)s", h=_coef(head), r=_pct(ratio), c=_coef(row.coefficient))
    if average is None:
        text += _("；录入网点人均奖金后计算绩效奖金")
    else:
        row.bonus = round_half_up(average * row.coefficient, 2)
        text += _("；绩效奖金 = 网点人均奖金%(a)s × %(c)s = %(b)s", a=format_yuan(average),
                  c=_coef(row.coefficient), b=format_yuan(row.bonus))
    row.explanation = text
    return row


def _eva_row(person: User, inputs: dict[str, str], params: dict[str, Any]) -> EvaRow:
    """R-84–R-86, A-24: 日均存贷比 and 综合回报率 from the entered figures, their coefficients against the base and
    the peer average (scale and floor from 003f-eva), then the asset EVA performance with the 计提比例."""
    row = EvaRow(person.id, person.name, dict(inputs),
                 [label for key, (label, _k) in EVA_FIELDS.items() if key not in inputs])
    v = {k: Decimal(x) for k, x in inputs.items()}
    scale, floor = _dec(params.get("scale"), "10"), _dec(params.get("floor"), "0")

    def attempt(fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except ValueError as exc:
            row.errors.append(str(exc))
            return None

    if {"deposits_avg", "loans_avg"} <= v.keys():
        row.ratio_dl = attempt(rewards.deposit_loan_ratio, v["deposits_avg"], v["loans_avg"])
        if row.ratio_dl is not None and {"dl_base", "dl_peer"} <= v.keys():
            row.k_dl = attempt(rewards.coefficient, row.ratio_dl.value, v["dl_base"] / HUNDRED,
                               v["dl_peer"] / HUNDRED, scale=scale, floor=floor, label="日均存贷比")
    if {"eva_total", "loans_avg"} <= v.keys():
        row.ratio_ret = attempt(rewards.composite_return, v["eva_total"], v["loans_avg"])
        if row.ratio_ret is not None and {"ret_base", "ret_peer"} <= v.keys():
            row.k_ret = attempt(rewards.coefficient, row.ratio_ret.value, v["ret_base"] / HUNDRED,
                                v["ret_peer"] / HUNDRED, scale=scale, floor=floor, label="综合回报率")
    if row.k_dl is not None and row.k_ret is not None and {"stock_eva", "incr_eva"} <= v.keys():
        row.performance = attempt(rewards.asset_eva_performance, v["stock_eva"], v["incr_eva"],
                                  _dec(params.get("rate_stock"), "0.1"), _dec(params.get("rate_incr"), "0.2"),
                                  row.k_dl.value, row.k_ret.value)
    return row


def distribution(user: Any, period: ScorecardPeriod, outlet_id: int) -> Distribution:
    """The 绩效分配 of one outlet in one period as `user` may see it. Results are read through
    services.results_query (scope holds); the outlet must be in the user's scope (ServiceError otherwise)."""
    outlet = outlet_in_scope(user, period, outlet_id)
    if outlet is None:
        raise ServiceError(_("网点不存在或不在您的管辖范围内"))
    pools = {p.kind: p for p in db.session.execute(select(ScorecardPool).where(
        ScorecardPool.period_id == period.id, ScorecardPool.outlet_id == outlet.id,
        scope_filter(ScorecardPool, user))).scalars()}
    results = list(db.session.execute(services.results_query(user, period).where(
        ScorecardResult.outlet_id == outlet.id, ScorecardResult.subject == "staff")
        .order_by(ScorecardResult.subject_id)).scalars())
    staff = list(db.session.execute(select(User).where(User.outlet_id == outlet.id, User.active)
                                    .order_by(User.id)).scalars())
    people = {u.id: u for u in staff}
    missing_ids = {r.subject_id for r in results} - people.keys()
    if missing_ids:  # left the outlet or switched off since the computation: still named
        people.update({u.id: u for u in db.session.execute(select(User).where(User.id.in_(missing_ids))).scalars()})

    def share_row(result: ScorecardResult, score: Decimal | None) -> ShareRow:
        person = people.get(result.subject_id)
        return ShareRow(result.subject_id, person.name if person else "", person.post if person else None, score)

    reward_params = _params(period.branch_id, REWARDS_CODE)
    thousand_params = _params(period.branch_id, THOUSAND_CODE)
    eva_params = _params(period.branch_id, EVA_CODE)
    amount = {k: pools[k].amount if k in pools else None for k in AMOUNT_KINDS}

    # the BSC totals of every post's balanced scorecard; people without a total take no share.
    bsc_results = [r for r in results if r.scheme.code.startswith(BSC_PREFIX)]
    bsc = _split(amount["bsc"], [share_row(r, r.total) for r in bsc_results if r.total is not None],
                 what=_("平衡计分卡得分"))
    bsc.unscored = [share_row(r, None) for r in bsc_results if r.total is None]
    bsc.source = _("平衡计分卡总分")

    # the totals of the 包户包效 process scheme (002-process, its indicators from the CRM) when the outlet
    # has any; else the process part of the 200-point results; else scores entered here.
    process_pool = _dec(reward_params.get("process_pool"), str(rewards.PROCESS_POOL))
    from_process = [share_row(r, r.total) for r in results if r.scheme.code == PROCESS_CODE and r.total is not None]
    if not any(r.score for r in from_process):
        from_process = []  # nobody has a process score above 0: nothing to share by it
    from_200: list[ShareRow] = []
    for r in results:
        if r.scheme.code == POINTS_200_CODE and r.total is not None:
            item = next((i for i in r.items or [] if i.get("code") == PROCESS_ITEM), None)
            if item is not None:
                from_200.append(share_row(r, _dec(item.get("points"), "0")))
    manual = not from_process and not from_200
    if manual:
        entered = (pools["process"].data or {}) if "process" in pools else {}
        rows = []
        for key, values in entered.items():
            person = people.get(int(key))
            if person is not None and "score" in values:
                rows.append(ShareRow(person.id, person.name, person.post, Decimal(values["score"])))
        process = _split(process_pool, sorted(rows, key=lambda r: r.user_id), what=_("过程得分"))
        process.source = _("本页录入的包户包效过程得分")
    elif from_process:
        process = _split(process_pool, from_process, what=_("过程得分"))
        process.source = _("包户包效营销过程考核总分（走访、联系、日志、认领均取自系统记录）")
    else:
        process = _split(process_pool, from_200, what=_("过程得分"))
        process.source = _("200分制考核中“包户包效过程”部分的得分")

    # head and deputy by their own 千分制 totals.
    base_coef = _dec(thousand_params.get("base_coef", reward_params.get("base_coef")), "1")
    ratio = _dec(thousand_params.get("deputy_ratio", reward_params.get("deputy_ratio")), "0.9")
    leaders = []
    for r in results:
        if r.scheme.code == THOUSAND_CODE:
            person = people.get(r.subject_id)
            leaders.append(_leader(r, person, person.name if person else "", base_coef, ratio,
                                   amount["outlet_average_bonus"]))

    # the outlet's loan RMs with their entered figures.
    eva_data = (pools["eva"].data or {}) if "eva" in pools else {}
    eva = [_eva_row(u, eva_data.get(str(u.id), {}), eva_params) for u in staff if u.post in EVA_POSTS]

    return Distribution(
        period=period, outlet=outlet, editable=not period.locked and not period.superseded,
        computed=period.status != "open", pools=pools, bsc=bsc, process=process, process_manual=manual,
        staff=staff, leaders=leaders, average_bonus=amount["outlet_average_bonus"], eva=eva,
        params={"process_pool": process_pool, "base_coef": base_coef, "deputy_ratio": ratio,
                "rate_stock": _dec(eva_params.get("rate_stock"), "0.1"),
                "rate_incr": _dec(eva_params.get("rate_incr"), "0.2"),
                "scale": _dec(eva_params.get("scale"), "10"), "floor": _dec(eva_params.get("floor"), "0"),
                "base_period": eva_params.get("base_period", "")})


# ---------------------------------------------------------------- the marketing-reward calculator (not stored)

@dataclass
class RewardCalc:
    individual_raw: str = ""
    joint_raw: str = ""
    individual: rewards.Split | None = None
    individual_text: str = ""
    joint: dict[str, rewards.Split] | None = None
    joint_text: str = ""
    shares: dict[str, Decimal] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def reward_calculator(branch_id: int, individual: Any = "", joint: Any = "") -> RewardCalc:
    """R-88 / R-89 (A-25: split first, then 70/30), shares from the 分行's 002-rewards params.
    T-42: individual 1,000 → 700 paid, 300 to the pool; joint 1,000 → info 300 (210 + 90), execution 700 (490 + 210)."""
    params = _params(branch_id, REWARDS_CODE)
    personal = _dec(params.get("personal_share"), str(rewards.PERSONAL_SHARE))
    info = _dec(params.get("info_share"), str(rewards.INFO_SHARE))
    execution = _dec(params.get("exec_share"), str(rewards.EXEC_SHARE))
    calc = RewardCalc(str(individual or "").strip()[:30], str(joint or "").strip()[:30],
                      shares={"personal": personal, "info": info, "exec": execution})
    if calc.individual_raw:
        try:
            amount = parse_amount(calc.individual_raw, _("个人营销奖励"))
            calc.individual = rewards.individual_reward(amount, personal)
        except (ServiceError, ValueError) as exc:
            calc.errors["individual"] = str(exc)
        else:
            calc.individual_text = _(
                "个人营销奖励%(a)s：%(p)s发放给个人 = %(paid)s，其余%(q)s计入绩效考核 = %(pool)s",
                a=format_yuan(amount), p=_pct(personal), paid=format_yuan(calc.individual.paid),
                q=_pct(1 - personal), pool=format_yuan(calc.individual.pool))
    if calc.joint_raw:
        try:
            amount = parse_amount(calc.joint_raw, _("联合营销奖励"))
            calc.joint = rewards.joint_reward(amount, info, execution, personal)
        except (ServiceError, ValueError) as exc:
            calc.errors["joint"] = str(exc)
        else:
            i, e = calc.joint["info"], calc.joint["exec"]
            calc.joint_text = _(
                "联合营销奖励%(a)s：先按信息获取%(ip)s、营销执行%(ep)s拆分，再各按%(p)s发放给个人 — "
                "信息获取%(i)s（个人发放%(ipaid)s，计入考核%(ipool)s）；营销执行%(e)s（个人发放%(epaid)s，"
                "计入考核%(epool)s）；合计个人发放%(paid)s，计入绩效考核%(pool)s",
                a=format_yuan(amount), ip=_pct(info), ep=_pct(execution), p=_pct(personal),
                i=format_yuan(i.paid + i.pool), ipaid=format_yuan(i.paid), ipool=format_yuan(i.pool),
                e=format_yuan(e.paid + e.pool), epaid=format_yuan(e.paid), epool=format_yuan(e.pool),
                paid=format_yuan(i.paid + e.paid), pool=format_yuan(i.pool + e.pool))
    return calc
