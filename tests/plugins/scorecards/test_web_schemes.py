"""Scheme pages of helper sse: the list of the 分行's schemes, one scheme explained in words (T-30), the structured
edit form (T-61 refused with 422 and nothing stored; a valid edit is a new version of the 分行's copy only), A-21
operators, permissions, scope, CSRF and the plugin switch."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditLog
from plugins.scorecards import services
from plugins.scorecards.default_schemes import DEFAULT_SCHEMES
from plugins.scorecards.models import ScorecardScheme
from plugins.scorecards.views_schemes import build_definition, form_values, item_rule_text
from tests.conftest import CANARY_B, table_snapshot

P = "/p/scorecards"


def login(client, user) -> None:
    assert client.login(user.login).status_code == 302


def text_of(resp) -> str:
    return resp.get_data(as_text=True)


def sc_tables() -> dict[str, list]:
    return {k: v for k, v in table_snapshot().items() if k.startswith("scorecards_")}


def default(code: str) -> ScorecardScheme:
    services.ensure_default_schemes()
    return db.session.execute(select(ScorecardScheme).where(ScorecardScheme.code == code,
                                                            ScorecardScheme.branch_id.is_(None),
                                                            ScorecardScheme.current.is_(True))).scalar_one()


def form_of(scheme: ScorecardScheme, **changes: str) -> dict:
    """The edit form exactly as the page fills it, with some fields retyped."""
    values = form_values(scheme.definition)
    data = {k: v for k, v in values.items() if k != "posts"}
    data["posts"] = values["posts"]
    data["posts_sent"] = "1"
    data.update(changes)
    return data


def scheme_rows(code: str) -> list[ScorecardScheme]:
    return db.session.execute(select(ScorecardScheme).where(ScorecardScheme.code == code)
                              .order_by(ScorecardScheme.id)).scalars().all()


# ---------------------------------------------------------------- the list

def test_list_shows_the_fifteen_default_schemes_grouped_for_a_branch_admin(client, sc):
    login(client, sc.branch_admin1)
    resp = client.get(f"{P}/schemes")
    assert resp.status_code == 200
    page = text_of(resp)
    assert 'data-sc-count="15"' in page
    for definition in DEFAULT_SCHEMES:
        assert f'data-sc-scheme="{definition["code"]}"' in page
        assert definition["name"] in page
    for group in ("KPI积分表", "月度考核", "平衡计分卡", "参数"):
        assert group in page
    row = re.search(r'data-sc-scheme="003a-head".*?</tr>', page, re.S).group(0)
    assert "年度" in row and "支行行长" in row and "第1版" in row and "全行预置" in row and "启用" in row
    assert "R-78" in row and "R-80" in row
    senior = re.search(r'data-sc-scheme="003a-rm-senior".*?</tr>', page, re.S).group(0)
    assert "法人客户经理" in senior and "高级客户经理（三级制）" in senior and "R-79" in senior and "R-81" in senior
    eva = re.search(r'data-sc-scheme="003f-eva".*?</tr>', page, re.S).group(0)
    assert "参数方案" in eva and "R-84" in eva


def test_a_customer_manager_may_view_the_schemes_but_not_edit(client, sc):
    login(client, sc.rm_senior)
    assert client.get(f"{P}/schemes").status_code == 200
    head = default("003a-head")
    page = text_of(client.get(f"{P}/schemes/{head.id}"))
    assert "目标30%，每±1个百分点±2分" in page
    assert 'data-sc-form="scheme"' not in page and 'data-sc-form="active"' not in page
    before = sc_tables()
    resp = client.post(f"{P}/schemes/{head.id}", form_of(head, i0_target="25"))
    assert resp.status_code == 403
    assert client.post(f"{P}/schemes/{head.id}/active", {"active": "0"}).status_code == 403
    assert sc_tables() == before


# ---------------------------------------------------------------- one scheme in words

def test_scheme_page_explains_the_deposit_step_rule_of_t30_in_words(client, sc):
    """T-30 (R-78): target 30%, each ±1 percentage point ±2 points, bonus capped +20, deduction floored −40."""
    head = default("003a-head")
    login(client, sc.branch_admin1)
    page = text_of(client.get(f"{P}/schemes/{head.id}"))
    assert "基础40分；目标30%，每±1个百分点±2分，加分上限+20，扣分下限\u221240" in page
    assert "目标99.5%，每±0.1个百分点±2分，加分上限+10，扣分下限\u221220" in page  # R-78 collection
    # A-19 NPL bands as rows with their operators
    assert "等于0" in page and "0（不含）至1%（不含）" in page and "1（含）至5%（含）" in page and "高于5%" in page
    assert "&gt; 0 且 &lt; 1" in page
    # R-80 warnings in words (A-21 strict 低于, A-22 completion)
    assert "年度综合得分低于90分：降级" in page
    assert "不良率高于10%：降级" in page
    assert "新增存款日均增长、收贷收息率任一项完成率（实际÷目标，A-22）低于90%：降级" in page
    assert "连续2年降级：解除劳动合同" in page
    assert "规定总分" in page and "100分（各部分合计100分）" in page
    assert 'data-sc-form="scheme"' in page  # the editor sees the form


def test_rule_texts_of_the_other_item_types():
    junior = next(d for d in DEFAULT_SCHEMES if d["code"] == "003a-rm-junior")
    assert "目标1,000,000元，每±10,000元±2分" in item_rule_text(junior["items"][0])
    assert "完成目标后不另加分" in item_rule_text(junior["items"][3])  # R-79 accounts pro rata
    business = next(d for d in DEFAULT_SCHEMES if d["code"] == "003e-business")
    assert item_rule_text(business["items"][0]) == "权重8分，目标按人按月设定，得分＝权重×完成率，完成率最高按120%计，最低按0%计"
    two_hundred = next(d for d in DEFAULT_SCHEMES if d["code"] == "002-200")
    assert item_rule_text(two_hundred["items"][0]) == "评定得分，满分80分"


def test_deductions_and_parameters_are_explained(client, sc):
    login(client, sc.branch_admin1)
    page = text_of(client.get(f"{P}/schemes/{default('003e-comprehensive').id}"))
    assert "缺少走访：每次\u22121分（计入本项）" in page
    assert "当天未及时录入：每次\u22122分（直接计入总分）" in page
    assert "本项不得分：退回率不低于50%" in page
    assert "按季度考核" in page and "不足部分从综合考核总分中扣除" in page
    page = text_of(client.get(f"{P}/schemes/{default('000-bancassurance').id}"))
    assert "趸交全年" in page and "150,000,000" in page and "开门红开始日" in page and "01-01" in page
    page = text_of(client.get(f"{P}/schemes/{default('003f-eva').id}"))
    assert "存量EVA计提比例（%）" in page and "10%" in page and "2013-12-31" in page


def test_form_round_trip_changes_nothing():
    """The form filled from a definition builds the same definition back (no spurious "0.70 → 0.7")."""
    from werkzeug.datastructures import MultiDict

    for definition in DEFAULT_SCHEMES:
        values = form_values(definition)
        form = MultiDict([(k, v) for k, v in values.items() if k != "posts"] + [("posts", p) for p in values["posts"]]
                         + [("posts_sent", "1")])
        new, errors = build_definition(definition, form)
        assert errors == {}, definition["code"]
        assert new == definition, definition["code"]


# ---------------------------------------------------------------- editing

def test_a_200_point_template_summing_to_190_is_refused_and_nothing_is_stored(client, sc):
    """T-61 (R-92): five parts 70+40+30+30+20 = 190 ≠ 200."""
    template = default("002-200")
    login(client, sc.branch_admin1)
    client.get(f"{P}/schemes/{template.id}")
    before = sc_tables()
    resp = client.post(f"{P}/schemes/{template.id}", form_of(template, i0_max="70", note="业绩指标调低"))
    assert resp.status_code == 422
    page = text_of(resp)
    assert "五个部分合计190分，应为200分" in page
    assert 'name="i0_max" type="text" inputmode="decimal" value="70"' in page  # the value typed stays
    assert "业绩指标调低" in page
    assert sc_tables() == before


def test_a_typed_value_that_is_not_a_number_answers_422_at_the_field(client, sc):
    head = default("003a-head")
    login(client, sc.branch_admin1)
    client.get(f"{P}/schemes/{head.id}")
    before = sc_tables()
    resp = client.post(f"{P}/schemes/{head.id}", form_of(head, i0_target="三十", i0_step=""))
    assert resp.status_code == 422
    page = text_of(resp)
    assert "全年新增存款日均增长的目标须为数字" in page and 'value="三十"' in page
    assert "请填写全年新增存款日均增长的每档幅度" in page
    assert sc_tables() == before


def test_a_valid_edit_is_a_new_version_of_the_branch_copy_only(client, sc):
    """Deposit target 30 → 25 for 甲分行: 乙分行 still computes with the 全行 default, version 1."""
    head = default("003a-head")
    login(client, sc.branch_admin1)
    resp = client.post(f"{P}/schemes/{head.id}", form_of(head, i0_target="25", note="2025年起目标调整"))
    assert resp.status_code == 302
    rows = scheme_rows("003a-head")
    assert len(rows) == 2
    old, new = rows
    assert old.id == head.id and old.branch_id is None and old.current and old.definition["items"][0]["target"] == "30"
    assert new.branch_id == sc.b1.id and new.current and new.based_on_id == head.id
    assert new.definition["items"][0]["target"] == "25" and new.note == "2025年起目标调整"
    assert new.created_by_id == sc.branch_admin1.id
    assert resp.headers["Location"].endswith(f"{P}/schemes/{new.id}")
    page = text_of(client.get(resp.headers["Location"]))
    assert f"已保存为第{new.revision}版" in page
    assert "目标25%，每±1个百分点±2分" in page and "本分行修改" in page
    assert "“全年新增存款日均增长”的target：30 → 25" in page  # the version history says what changed
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "scorecards.scheme_saved")).scalar_one()
    assert audit.actor_id == sc.branch_admin1.id and audit.target_id == str(new.id)
    assert "“全年新增存款日均增长”的target：30 → 25" in audit.detail["changes"]
    # 甲's list shows its copy; the old default page says it is not the version 甲 computes with
    listing = text_of(client.get(f"{P}/schemes"))
    row = re.search(r'data-sc-scheme="003a-head".*?</tr>', listing, re.S).group(0)
    assert "本分行修改" in row and f"schemes/{new.id}" in row
    assert "data-sc-old" in text_of(client.get(f"{P}/schemes/{head.id}"))
    # 乙分行's administrator still sees the 全行 default, version 1, target 30
    client.logout()
    login(client, sc.branch_admin2)
    listing = text_of(client.get(f"{P}/schemes"))
    row = re.search(r'data-sc-scheme="003a-head".*?</tr>', listing, re.S).group(0)
    assert "全行预置" in row and "第1版" in row and f"schemes/{head.id}\"" in row
    page = text_of(client.get(f"{P}/schemes/{head.id}"))
    assert "目标30%，每±1个百分点±2分" in page and "data-sc-old" not in page
    # … and cannot open 甲's copy
    assert client.get(f"{P}/schemes/{new.id}").status_code == 404


def test_a_second_edit_continues_the_branch_versions(client, sc):
    head = default("003a-head")
    login(client, sc.branch_admin1)
    client.post(f"{P}/schemes/{head.id}", form_of(head, i0_target="25"))
    first = scheme_rows("003a-head")[-1]
    resp = client.post(f"{P}/schemes/{first.id}", form_of(first, i0_cap="15"))
    assert resp.status_code == 302
    second = scheme_rows("003a-head")[-1]
    assert second.revision == first.revision + 1 and second.based_on_id == first.id
    db.session.refresh(first)
    assert not first.current and first.definition["items"][0]["cap"] == "20"
    assert second.definition["items"][0]["cap"] == "15" and second.definition["items"][0]["target"] == "25"
    # an old version cannot be edited any more
    before = sc_tables()
    assert client.post(f"{P}/schemes/{first.id}", form_of(first, i0_cap="10")).status_code == 409
    assert sc_tables() == before
    page = text_of(client.get(f"{P}/schemes/{second.id}"))
    assert page.count("data-sc-version=") == 3  # 本分行 two versions + the 全行 default


def test_an_npl_band_operator_lt_to_le_is_saved(client, sc):
    """A-19/A-21: band 2 becomes (0, 1%] and band 3 (1%, 5%] — the operators are data."""
    head = default("003a-head")
    login(client, sc.branch_admin1)
    # NPL is item 1; band 2 is {"gt": "0", "lt": "1"}: op1 gt, op2 lt
    form = form_of(head, i1_b1_op2="le")
    resp = client.post(f"{P}/schemes/{head.id}", form)
    assert resp.status_code == 422  # band 3 starts at 1% (含): now both contain 1% — refused
    assert "第2档与第3档重叠" in text_of(resp)
    resp = client.post(f"{P}/schemes/{head.id}", dict(form, i1_b2_op1="gt"))
    assert resp.status_code == 302
    new = scheme_rows("003a-head")[-1]
    assert new.definition["items"][1]["bands"][1] == {"gt": "0", "le": "1", "points": "20"}
    assert new.definition["items"][1]["bands"][2] == {"gt": "1", "le": "5", "points": "10"}
    page = text_of(client.get(f"{P}/schemes/{new.id}"))
    assert "0（不含）至1%（含）" in page and "1（不含）至5%（含）" in page


def test_a_warning_operator_and_threshold_are_editable(client, sc):
    """A-21: "90分以下" read as 不高于 instead of 低于; R-81 conduct deductions threshold."""
    senior = default("003a-rm-senior")
    login(client, sc.branch_admin1)
    resp = client.post(f"{P}/schemes/{senior.id}", form_of(senior, w2_op="le", w2_value="80", w0_count="4"))
    assert resp.status_code == 302
    new = scheme_rows("003a-rm-senior")[-1]
    assert new.definition["warnings"][2] == {"rule": "R-81", "action": "demote", "metric": "total", "op": "le",
                                             "value": "80", "label": "年度综合考核得分"}
    assert new.definition["warnings"][0]["count"] == 4
    page = text_of(client.get(f"{P}/schemes/{new.id}"))
    assert "年度综合考核得分不高于80分：降级" in page and "考核存款连续4个月低于基数存款的90%：降级" in page


def test_posts_and_parameters_are_editable(client, sc):
    template = default("002-200")
    login(client, sc.branch_admin1)
    data = form_of(template)
    data["posts"] = ["corporate_rm", "lobby_manager"]
    assert client.post(f"{P}/schemes/{template.id}", data).status_code == 302
    assert scheme_rows("002-200")[-1].posts == ["corporate_rm", "lobby_manager"]
    rewards = default("002-rewards")
    resp = client.post(f"{P}/schemes/{rewards.id}", form_of(rewards, **{"p_info_share": "40"}))
    assert resp.status_code == 422
    assert "联合营销信息获取与营销实施比例合计110%，应为100%（R-89）" in text_of(resp)
    resp = client.post(f"{P}/schemes/{rewards.id}", form_of(rewards, **{"p_info_share": "40", "p_exec_share": "60",
                                                                        "p_process_pool": "3500"}))
    assert resp.status_code == 302
    params = scheme_rows("002-rewards")[-1].definition["params"]
    assert params["info_share"] == "0.4" and params["exec_share"] == "0.6" and params["process_pool"] == "3500"
    assert params["personal_share"] == "0.70"  # untouched: kept as stored
    bank = default("000-bancassurance")
    resp = client.post(f"{P}/schemes/{bank.id}", form_of(bank, **{"p_headcount.rms": "60",
                                                                  "p_exclude_cancelled": "0",
                                                                  "p_kaimenhong_end": "04-30"}))
    assert resp.status_code == 302
    params = scheme_rows("000-bancassurance")[-1].definition["params"]
    assert params["headcount"]["rms"] == 60 and params["exclude_cancelled"] is False
    assert params["kaimenhong_end"] == "04-30"


def test_a_scheme_is_switched_off_and_on(client, sc):
    thousand = default("002-thousand")
    login(client, sc.branch_admin1)
    resp = client.post(f"{P}/schemes/{thousand.id}/active", {"active": "0"})
    assert resp.status_code == 302
    off = scheme_rows("002-thousand")[-1]
    assert off.branch_id == sc.b1.id and not off.active and off.definition == thousand.definition
    page = text_of(client.get(resp.headers["Location"]))
    assert "已停用方案" in page and "data-sc-inactive" in page
    assert "002-thousand" not in {s.code for s in services.current_schemes(sc.b1.id)}
    assert "002-thousand" in {s.code for s in services.current_schemes(sc.b2.id)}
    assert client.post(f"{P}/schemes/{off.id}/active", {"active": "1"}).status_code == 302
    assert scheme_rows("002-thousand")[-1].active


# ---------------------------------------------------------------- scope, CSRF, plugin switch

def test_another_branch_scheme_answers_404(client, sc):
    head = default("003a-head")
    login(client, sc.branch_admin2)
    assert client.post(f"{P}/schemes/{head.id}", form_of(head, i0_target="28")).status_code == 302
    theirs = scheme_rows("003a-head")[-1]
    assert theirs.branch_id == sc.b2.id
    client.logout()
    login(client, sc.branch_admin1)
    before = sc_tables()
    assert client.get(f"{P}/schemes/{theirs.id}").status_code == 404
    assert client.post(f"{P}/schemes/{theirs.id}", form_of(theirs, i0_target="20")).status_code == 404
    assert client.post(f"{P}/schemes/{theirs.id}/active", {"active": "0"}).status_code == 404
    assert client.get(f"{P}/schemes/999999").status_code == 404
    assert sc_tables() == before
    assert CANARY_B not in text_of(client.get(f"{P}/schemes"))


def test_posts_without_the_csrf_token_are_refused(client, sc):
    head = default("003a-head")
    login(client, sc.branch_admin1)
    client.get(f"{P}/schemes/{head.id}")
    before = sc_tables()
    resp = client.post(f"{P}/schemes/{head.id}", form_of(head, i0_target="25"), csrf=False)
    assert resp.status_code == 400
    assert client.post(f"{P}/schemes/{head.id}/active", {"active": "0"}, csrf=False).status_code == 400
    assert sc_tables() == before


def test_with_the_plugin_off_for_the_branch_the_pages_answer_404(client, sc, enable_plugin):
    head = default("003a-head")
    enable_plugin(sc.b1, "scorecards", False)
    login(client, sc.branch_admin1)
    assert client.get(f"{P}/schemes").status_code == 404
    assert client.get(f"{P}/schemes/{head.id}").status_code == 404
    assert client.post(f"{P}/schemes/{head.id}", form_of(head, i0_target="25")).status_code == 404
    login_b = client  # 乙分行 keeps it
    login_b.logout()
    login(login_b, sc.branch_admin2)
    assert login_b.get(f"{P}/schemes").status_code == 200


def test_the_system_administrator_edits_the_all_bank_default(client, sc):
    head = default("003a-head")
    login(client, sc.admin)
    assert client.post(f"{P}/schemes/{head.id}", form_of(head, i2_target="99")).status_code == 302
    new = scheme_rows("003a-head")[-1]
    assert new.branch_id is None and new.revision == 2 and new.current
    db.session.refresh(head)
    assert not head.current
    page = text_of(client.get(f"{P}/schemes/{new.id}"))
    assert "已保存为第2版" in page and "全行预置" in page


# ---------------------------------------------------------------- the system administrator's raw definition

def test_the_raw_definition_is_for_the_system_administrator_only(client, sc):
    import json

    head = default("003a-head")
    login(client, sc.branch_admin1)
    page = text_of(client.get(f"{P}/schemes/{head.id}"))
    assert 'data-sc-form="raw"' not in page
    before = sc_tables()
    changed = json.loads(json.dumps(head.definition))
    changed["items"][0]["target"] = "25"
    resp = client.post(f"{P}/schemes/{head.id}", {"raw_json": json.dumps(changed, ensure_ascii=False)})
    assert resp.status_code == 403
    assert sc_tables() == before
    client.logout()
    login(client, sc.admin)
    assert 'data-sc-form="raw"' in text_of(client.get(f"{P}/schemes/{head.id}"))
    # not JSON, a float, an unbalanced template: 422, nothing stored
    resp = client.post(f"{P}/schemes/{head.id}", {"raw_json": "{\n\"code\": "})
    assert resp.status_code == 422 and "JSON格式错误（第2行）" in text_of(resp)
    floated = json.dumps(changed, ensure_ascii=False).replace('"target": "25"', '"target": 25.5')
    resp = client.post(f"{P}/schemes/{head.id}", {"raw_json": floated})
    assert resp.status_code == 422 and "数值请写成字符串" in text_of(resp) and "items[0].target" in text_of(resp)
    unbalanced = json.loads(json.dumps(changed))
    unbalanced["items"][0]["base"] = "30"
    resp = client.post(f"{P}/schemes/{head.id}", {"raw_json": json.dumps(unbalanced, ensure_ascii=False)})
    assert resp.status_code == 422 and "四个部分合计90分，应为100分" in text_of(resp)
    assert sc_tables() == before
    resp = client.post(f"{P}/schemes/{head.id}", {"raw_json": json.dumps(changed, ensure_ascii=False),
                                                  "note": "直接修改"})
    assert resp.status_code == 302
    new = scheme_rows("003a-head")[-1]
    assert new.branch_id is None and new.definition["items"][0]["target"] == "25" and new.note == "直接修改"
