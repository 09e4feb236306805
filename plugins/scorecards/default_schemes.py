"""Default scorecard schemes shipped as editable JSON data (R-78–R-98); a branch admin copies and edits them."""

from __future__ import annotations

import copy
from typing import Any

# Every number is a string so that Decimal arithmetic is exact and the JSON column round-trips unchanged.
# "X以下" thresholds use the strict "lt" by default (A-21); an admin may switch them to "le".

# ---------------------------------------------------------------------------------------------------------------------
# 003(a) 第十三条 / 第十四条 — sub-branch presidents and customer managers (R-78–R-81)
# ---------------------------------------------------------------------------------------------------------------------

_NPL_BANDS: list[dict[str, str]] = [  # R-78 NPL, A-19: (0,1%) −10; [1%,5%] −20; >5% the item scores 0
    {"eq": "0", "points": "30"},
    {"gt": "0", "lt": "1", "points": "20"},
    {"ge": "1", "le": "5", "points": "10"},
    {"gt": "5", "points": "0"},
]


def _npl(rule: str) -> dict[str, Any]:
    return {"code": "npl", "name": "贷款不良率", "label": "不良率", "type": "bands", "rule": rule, "unit": "%",
            "base": "30", "min": "0", "bands": copy.deepcopy(_NPL_BANDS)}


def _deposit_growth(rule: str) -> dict[str, Any]:
    # R-78: each ±1 percentage point vs 30% → ±2 points, +20 / −40 (A-18: whole points, truncated)
    return {"code": "deposits", "name": "全年新增存款日均增长", "label": "新增存款日均增长", "type": "step",
            "rule": rule, "unit": "%", "base": "40", "target": "30", "step": "1", "points_per_step": "2",
            "cap": "20", "floor": "-40"}


def _collection(rule: str) -> dict[str, Any]:
    # R-78 P3: each ±0.1% vs 99.5% → ±2 points, +10 / −20
    return {"code": "collection", "name": "贷款收息率", "label": "收贷收息率", "type": "step", "rule": rule,
            "unit": "%", "base": "20", "target": "99.5", "step": "0.1", "points_per_step": "2",
            "cap": "10", "floor": "-20"}


HEAD_KPI: dict[str, Any] = {
    "code": "003a-head",
    "name": "支行行长、营业部总经理考核指标",
    "kind": "scorecard",
    "subject": "staff",
    "period": "year",
    "posts": ["sub_branch_president"],
    "source": "003(a) 第十三条、第十四条",
    "expected_total": "100",
    "total": {"min": "0", "max": "135"},
    "items": [
        _deposit_growth("R-78"),
        _npl("R-78"),
        _collection("R-78"),
        # R-78: each ±2% vs 20% → ±1 point, +5 / −10
        {"code": "income", "name": "中间收入增长", "label": "中间收入增长", "type": "step", "rule": "R-78",
         "unit": "%", "base": "10", "target": "20", "step": "2", "points_per_step": "1", "cap": "5", "floor": "-10"},
    ],
    "warnings": [  # R-80 (A-21 strict "以下", A-22 completion = actual ÷ target)
        {"rule": "R-80", "action": "demote", "metric": "total", "op": "lt", "value": "90", "label": "年度综合得分"},
        {"rule": "R-80", "action": "demote", "metric": "item", "item": "npl", "op": "gt", "value": "10"},
        {"rule": "R-80", "action": "demote", "metric": "completion", "items": ["deposits", "collection"],
         "op": "lt", "value": "90"},
        {"rule": "R-80", "action": "terminate", "metric": "repeat", "of": "demote", "count": 2},
        {"rule": "R-80", "action": "terminate", "metric": "input", "key": "major_accident", "op": "is_true",
         "label": "发生重大安全、责任事故，造成金融风险或经济损失"},
    ],
    "params": {},
}


def _rm_scheme(code: str, grade: str, accounts_target: str, deposits: dict[str, Any]) -> dict[str, Any]:
    """R-79 per grade with the A-20 interpretation (reuse R-78 steps; basic accounts pro rata, no bonus)."""
    return {
        "code": code,
        "name": f"{grade}客户经理考核指标",
        "kind": "scorecard",
        "subject": "staff",
        "period": "year",
        "posts": ["corporate_rm", "personal_rm"],
        "grade": grade,
        "source": "003(a) 第十三条、第十四条",
        "expected_total": "100",
        "total": {"min": "0", "max": "135"},
        "items": [
            deposits,
            _npl("R-79"),
            _collection("R-79"),
            {"code": "accounts", "name": "新开对公基本账户", "label": "新开对公基本账户", "type": "pro_rata",
             "rule": "R-79", "unit": "个", "base": "10", "target": accounts_target},
        ],
        "warnings": [  # R-81
            {"rule": "R-81", "action": "demote", "metric": "run", "series": "monthly_deposits", "label": "考核存款",
             "base_label": "基数存款", "op": "lt", "ratio": "90", "count": 3},
            {"rule": "R-81", "action": "demote", "metric": "item", "item": "collection", "op": "lt", "value": "99"},
            {"rule": "R-81", "action": "demote", "metric": "total", "op": "lt", "value": "85",
             "label": "年度综合考核得分"},
            {"rule": "R-81", "action": "terminate", "metric": "total", "op": "lt", "value": "70",
             "label": "年度综合考核得分"},
            {"rule": "R-81", "action": "terminate", "metric": "input", "key": "conduct_deductions", "op": "ge",
             "value": "15", "unit": "分", "label": "行为规范扣分"},
            {"rule": "R-81", "action": "terminate", "metric": "input", "key": "major_violation", "op": "is_true",
             "label": "出现重大违规违纪，造成重大经济损失"},
        ],
        "params": {},
    }


# 初级: new daily-average deposits ≥ 1,000,000; one "1%" step = 1% of the target = 10,000元 (A-20)
_JUNIOR_DEPOSITS: dict[str, Any] = {
    "code": "deposits", "name": "全年新增存款日均", "label": "新增存款日均", "type": "step", "rule": "R-79",
    "unit": "元", "base": "40", "target": "1000000", "step": "10000", "points_per_step": "2",
    "cap": "20", "floor": "-40"}

RM_SENIOR = _rm_scheme("003a-rm-senior", "高级", "10", _deposit_growth("R-79"))
RM_MIDDLE = _rm_scheme("003a-rm-middle", "中级", "7", _deposit_growth("R-79"))
RM_JUNIOR = _rm_scheme("003a-rm-junior", "初级", "5", _JUNIOR_DEPOSITS)

# ---------------------------------------------------------------------------------------------------------------------
# 003(e) — monthly business score (表一, R-82) and comprehensive appraisal (表二, R-83)
# ---------------------------------------------------------------------------------------------------------------------

# The source's table is missing (A-23): a default catalogue of 19 monthly indicators in the four named categories.
# Targets are set per customer manager per month ({"value": …, "target": …}); completion counts up to 120%.
_BUSINESS_CATALOGUE: list[tuple[str, str, str, str, str]] = [
    # (category, code, name, unit, weight)
    ("资产业务", "corp_loan_avg", "对公贷款日均增量", "元", "8"),
    ("资产业务", "retail_loan_avg", "个人贷款日均增量", "元", "6"),
    ("资产业务", "sme_loan_clients", "普惠小微贷款新增户数", "户", "5"),
    ("资产业务", "loan_interest", "贷款利息收入", "元", "6"),
    ("资产业务", "npl_recovery", "不良贷款清收处置额", "元", "5"),
    ("资产业务", "discount_avg", "票据贴现日均增量", "元", "4"),
    ("负债业务", "corp_deposit_avg", "对公存款日均增量", "元", "10"),
    ("负债业务", "retail_deposit_avg", "个人存款日均增量", "元", "8"),
    ("负债业务", "settlement_accounts", "对公结算账户新增户数", "户", "5"),
    ("负债业务", "payroll_clients", "代发工资新增户数", "户", "4"),
    ("负债业务", "margin_deposit_avg", "保证金存款日均增量", "元", "4"),
    ("表外及中间业务", "acceptance_volume", "银行承兑汇票签发量", "元", "4"),
    ("表外及中间业务", "intl_settlement", "国际结算量", "元", "3"),
    ("表外及中间业务", "insurance_fee", "代理保险手续费收入", "元", "5"),
    ("表外及中间业务", "wealth_sales", "理财产品销售额", "元", "4"),
    ("表外及中间业务", "fee_income", "中间业务收入", "元", "5"),
    ("新兴业务", "mobile_banking", "手机银行新增有效客户", "户", "5"),
    ("新兴业务", "corp_ebanking", "企业网银新增客户", "户", "5"),
    ("新兴业务", "merchant_acquiring", "收单商户新增有效户数", "户", "4"),
]

BUSINESS_MONTHLY: dict[str, Any] = {
    "code": "003e-business",
    "name": "客户经理月度业绩考核（表一）",
    "kind": "scorecard",
    "subject": "staff",
    "period": "month",
    "posts": ["corporate_rm"],
    "source": "003(e) 第四条至第六条",
    "expected_total": "100",
    "items": [
        {"code": code, "name": name, "category": category, "type": "weighted", "rule": "R-82", "unit": unit,
         "weight": weight, "target": None, "cap_ratio": "1.2", "floor_ratio": "0"}
        for category, code, name, unit, weight in _BUSINESS_CATALOGUE
    ],
    "warnings": [],
    "params": {},
}


def _count(key: str, label: str, unit: str = "次", **extra: Any) -> dict[str, Any]:
    return {"key": key, "label": label, "kind": "count", "unit": unit, **extra}


def _flag(key: str, label: str) -> dict[str, Any]:
    return {"key": key, "label": label, "kind": "bool"}


COMPREHENSIVE_MONTHLY: dict[str, Any] = {
    "code": "003e-comprehensive",
    "name": "客户经理月度综合考核（表二）",
    "kind": "scorecard",
    "subject": "staff",
    "period": "month",
    "posts": ["corporate_rm"],
    "source": "003(e) 第七条至第九条",
    "expected_total": "60",
    "items": [
        # 1 — scored quarterly (A-23): pass the quarter's counts when scoring each month of the quarter
        {"code": "c1_quality", "name": "调查评估质量", "type": "deductions", "rule": "R-83", "scored": "quarter",
         "base": "5", "floor": "0",
         "fields": [_count("submitted", "申报授信业务", "笔"), _count("returned", "被退回申报", "笔"),
                    _flag("false_material", "材料有虚假成分")],
         "events": [{"field": "returned", "points": "-2"}],
         "zero_if": [{"ratio": ["returned", "submitted"], "label": "退回率", "op": "ge", "value": "50"},
                     {"field": "false_material", "op": "is_true"}]},
        # 2 — files complete within 5 days; −0.5 per missing/defective item, 扣完为止
        {"code": "c2_files", "name": "贷款档案资料完整性", "type": "deductions", "rule": "R-83", "base": "10",
         "floor": "0",
         "fields": [_count("missing_items", "档案缺漏或缺陷", "项")],
         "events": [{"field": "missing_items", "points": "-0.5"}]},
        # 3 — weekly visits; −1 per missed visit / missing record; unreported major matter → 0; +1…+30 bonus
        {"code": "c3_visits", "name": "客户走访记录", "type": "deductions", "rule": "R-83", "base": "15",
         "floor": "0",
         "fields": [_count("missed_visits", "缺少走访"), _count("missing_records", "缺少走访记录"),
                    _count("bonus", "采集重大需求或重大事项及时汇报加分", "分", max="30"),
                    _flag("major_unreported", "重大事项没有报告或报告不及时")],
         "events": [{"field": "missed_visits", "points": "-1"}, {"field": "missing_records", "points": "-1"},
                    {"field": "bonus", "points": "1", "per": "分"}],
         "zero_if": [{"field": "major_unreported", "op": "is_true"}]},
        # 4 — −30 per overdue loan / advance, −30 per one-level downgrade; shortfall comes off the total
        {"code": "c4_risk", "name": "授信业务风险和逾期控制", "type": "deductions", "rule": "R-83", "base": "5",
         "floor": "0", "spill": True,
         "fields": [_count("overdue", "贷款逾期或承兑、保函垫款", "笔"),
                    _count("downgrades", "贷款形态下降一个级别", "笔")],
         "events": [{"field": "overdue", "points": "-30"}, {"field": "downgrades", "points": "-30"}]},
        # 5 — MIS entry: major info late −2 each (to 0); not entered on the day −2, omission −5, off the total
        {"code": "c5_mis", "name": "管理信息系统录入", "type": "deductions", "rule": "R-83", "base": "5",
         "floor": "0",
         "fields": [_count("major_not_entered", "重大信息未及时录入"), _count("not_same_day", "当天未及时录入"),
                    _count("omitted", "漏录")],
         "events": [{"field": "major_not_entered", "points": "-2"},
                    {"field": "not_same_day", "points": "-2", "to": "total"},
                    {"field": "omitted", "points": "-5", "to": "total"}]},
        # 6 — five-level classification
        {"code": "c6_classification", "name": "贷款五级分类", "type": "deductions", "rule": "R-83", "base": "5",
         "floor": "0",
         "fields": [_count("late", "分类材料延误上报", "笔"), _count("errors", "分类材料错误", "处"),
                    _count("materials_criticised", "分类材料被市行通报批评", "笔"),
                    _count("result_criticised", "分类结果不正确被市行通报批评（负责人）", "笔")],
         "events": [{"field": "late", "points": "-1"}, {"field": "errors", "points": "-0.5"},
                    {"field": "materials_criticised", "points": "-5"},
                    {"field": "result_criticised", "points": "-5"}]},
        # 7, 8 — +1 per report done, −1 per missed/late, directly in the total
        {"code": "c7_reports", "name": "完成报表", "type": "deductions", "rule": "R-83", "base": "5",
         "fields": [_count("done", "完成报表", "份"), _count("missed", "报表未完成或不及时")],
         "events": [{"field": "done", "points": "1", "to": "total"},
                    {"field": "missed", "points": "-1", "to": "total"}]},
        {"code": "c8_surveys", "name": "调查任务及调查报告", "type": "deductions", "rule": "R-83", "base": "5",
         "fields": [_count("done", "完成调查报告", "份"), _count("missed", "调查报告未完成或不及时")],
         "events": [{"field": "done", "points": "1", "to": "total"},
                    {"field": "missed", "points": "-1", "to": "total"}]},
        # 9 — +5 per temporary task, directly in the total
        {"code": "c9_temporary", "name": "全行临时性工作", "type": "deductions", "rule": "R-83", "base": "5",
         "fields": [_count("tasks", "完成临时性工作")],
         "events": [{"field": "tasks", "points": "5", "to": "total"}]},
    ],
    "warnings": [],
    "params": {},
}

# ---------------------------------------------------------------------------------------------------------------------
# 002 — balanced scorecard per post (R-91), 200-point template (R-92), 千分制 for outlet head/deputy (R-90)
# ---------------------------------------------------------------------------------------------------------------------

_BSC_PERSPECTIVES = (("financial", "财务"), ("customer", "客户"), ("internal", "内部运营"), ("learning", "学习与成长"))


def _bsc(code: str, post_name: str, posts: list[str], weights: tuple[str, str, str, str]) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"{post_name}平衡计分卡",
        "kind": "scorecard",
        "subject": "staff",
        "period": "month",
        "posts": posts,
        "source": "002 计价与绩效考核",
        "expected_total": "100",
        "items": [{"code": pc, "name": f"{pn}维度", "type": "value", "rule": "R-91", "unit": "分", "max": w}
                  for (pc, pn), w in zip(_BSC_PERSPECTIVES, weights, strict=True)],
        "warnings": [],
        "params": {},
    }


BSC_CORPORATE_RM = _bsc("002-bsc-corporate-rm", "对公客户经理", ["corporate_rm"], ("40", "30", "20", "10"))
BSC_LOBBY_MANAGER = _bsc("002-bsc-lobby-manager", "大堂经理", ["lobby_manager"], ("25", "35", "25", "15"))
BSC_TELLER = _bsc("002-bsc-teller", "柜员", ["low_counter_teller", "high_counter_teller"], ("20", "30", "35", "15"))

POINTS_200: dict[str, Any] = {  # R-92, A-25: five configurable parts summing to 200 (the source's figure is missing)
    "code": "002-200",
    "name": "绩效工资200分制考核",
    "kind": "scorecard",
    "subject": "staff",
    "period": "month",
    "source": "002 绩效工资采用200分制",
    "expected_total": "200",
    "items": [{"code": c, "name": n, "type": "value", "rule": "R-92", "unit": "分", "max": m} for c, n, m in (
        ("results", "业绩指标", "80"), ("process", "包户包效过程", "40"), ("maintenance", "客户维护", "30"),
        ("compliance", "合规与服务", "30"), ("learning", "学习与协作", "20"))],
    "warnings": [],
    "params": {},
}

THOUSAND_POINT: dict[str, Any] = {  # R-90, A-25: coef_head = base_coef × score / 1000; deputy = 90% of head
    "code": "002-thousand",
    "name": "网点负责人及副职千分制考核",
    "kind": "scorecard",
    "subject": "staff",
    "period": "month",
    "posts": ["outlet_head", "outlet_deputy"],
    "source": "002 网点主任与副职的绩效考核采用千分制",
    "expected_total": "1000",
    "items": [
        {"code": "performance", "name": "经营业绩", "type": "value", "rule": "R-90", "unit": "分", "max": "400"},
        {"code": "customers", "name": "客户拓展与包户包效", "type": "value", "rule": "R-90", "unit": "分",
         "max": "200"},
        {"code": "process", "name": "营销过程管理", "type": "value", "rule": "R-90", "unit": "分", "max": "150"},
        {"code": "compliance", "name": "内控合规与安全", "type": "deductions", "rule": "R-90", "base": "150",
         "floor": "0",
         "fields": [_count("violations", "违规违纪问题", "项"), _count("findings", "检查发现问题", "项"),
                    _count("complaints", "有效客户投诉", "件")],
         "events": [{"field": "violations", "points": "-20"}, {"field": "findings", "points": "-5"},
                    {"field": "complaints", "points": "-10"}]},
        {"code": "team", "name": "队伍建设与培训", "type": "value", "rule": "R-90", "unit": "分", "max": "100"},
    ],
    "warnings": [],
    "params": {"base_coef": "1.0", "deputy_ratio": "0.9"},
}

PROCESS_MONTHLY: dict[str, Any] = {  # R-93, R-94: outlets assess process indicators — taken from the CRM itself
    "code": "002-process",
    "name": "包户包效营销过程考核",
    "kind": "scorecard",
    "subject": "staff",
    "period": "month",
    "posts": ["corporate_rm", "personal_rm", "wealth_manager", "lobby_manager"],
    "source": "002 包户包效过程考核；003(e) 客户走访；000 日跟踪",
    "expected_total": "100",
    "items": [
        {"code": "p_visits", "name": "走访客户", "label": "走访客户", "type": "weighted", "rule": "R-94",
         "unit": "次", "weight": "30", "target": "20", "cap_ratio": "1.2", "source": "crm.visits"},
        {"code": "p_contacts", "name": "联系客户", "label": "联系客户", "type": "weighted", "rule": "R-94",
         "unit": "次", "weight": "20", "target": "60", "cap_ratio": "1.2", "source": "crm.contacts"},
        {"code": "p_logs", "name": "工作日志达标率", "label": "工作日志达标率", "type": "weighted", "rule": "R-39",
         "unit": "%", "weight": "30", "target": "90", "cap_ratio": "1", "source": "crm.log_rate"},
        {"code": "p_claims", "name": "新认领或分配客户", "label": "新认领或分配客户", "type": "weighted", "rule": "R-94",
         "unit": "户", "weight": "20", "target": "5", "cap_ratio": "1.2", "source": "crm.claims"},
    ],
    "warnings": [],
    "params": {},
}

# ---------------------------------------------------------------------------------------------------------------------
# Parameter-only schemes read by rewards.py and banca.py (R-84–R-98)
# ---------------------------------------------------------------------------------------------------------------------

EVA_PARAMS: dict[str, Any] = {  # R-84–R-86, A-24 (rates are fractions; the 计提比例 are not in the source)
    "code": "003f-eva",
    "name": "贷款客户经理EVA绩效参数",
    "kind": "eva",
    "period": "month",
    "source": "003(f)",
    "params": {"rate_stock": "0.1", "rate_incr": "0.2", "scale": "10", "floor": "0",
               "base_period": "2013-12-31"},
}

REWARD_PARAMS: dict[str, Any] = {  # R-88–R-93, A-25
    "code": "002-rewards",
    "name": "对公计价与绩效分配参数",
    "kind": "rewards",
    "period": "month",
    "source": "002 计价与绩效考核",
    "params": {"personal_share": "0.70", "info_share": "0.30", "exec_share": "0.70", "process_pool": "3000",
               "process_pool_unit": "outlet", "base_coef": "1.0", "deputy_ratio": "0.9"},
}

BANCASSURANCE_PARAMS: dict[str, Any] = {  # R-95–R-98, A-13, A-14 (开门红 window configurable, counted in the year)
    "code": "000-bancassurance",
    "name": "银保业绩目标与人力参数",
    "kind": "bancassurance",
    "period": "year",
    "source": "000、001",
    "params": {"kaimenhong_start": "01-01", "kaimenhong_end": "03-31",
               "targets": {"single_kaimenhong": "50000000", "single_full_year": "150000000",
                           "regular_kaimenhong": "3500000", "regular_full_year": "12000000"},
               "headcount": {"district_managers": 4, "dept_managers": 12, "rms": 48},
               "min_new_areas": 2, "staffing_norm": 2, "daily_visits_target": 20, "exclude_cancelled": True},
}

DEFAULT_SCHEMES: list[dict[str, Any]] = [
    HEAD_KPI, RM_SENIOR, RM_MIDDLE, RM_JUNIOR, BUSINESS_MONTHLY, COMPREHENSIVE_MONTHLY,
    BSC_CORPORATE_RM, BSC_LOBBY_MANAGER, BSC_TELLER, POINTS_200, THOUSAND_POINT, PROCESS_MONTHLY,
    EVA_PARAMS, REWARD_PARAMS, BANCASSURANCE_PARAMS,
]


def default_scheme(code: str) -> dict[str, Any]:
    """A deep copy of a default scheme by code (safe to edit and store)."""
    for scheme in DEFAULT_SCHEMES:
        if scheme["code"] == code:
            return copy.deepcopy(scheme)
    raise KeyError(code)
