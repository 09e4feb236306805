"""Scorecards pages of the monthly cycle: open a period, enter figures cell by cell (422 in Chinese on bad input),
import a sheet with one bad row, compute, review by another person, lock, correct; explained scores, the PDF
report, the leaderboard, the widget; scope (404 with no byte of another outlet's people), permissions, disabling."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal as D

import xlsxwriter
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from crm import pdf
from crm.extensions import db
from crm.models import AuditLog, User
from plugins.scorecards import services as s
from plugins.scorecards.models import ScorecardActual, ScorecardPeriod, ScorecardResult, ScorecardScheme
from tests.conftest import CANARY_B, make_user, table_snapshot
from tests.plugins.scorecards.conftest import as_user
from tests.plugins.scorecards.test_services import RM_FIGURES, enter, result_of

P = "/p/scorecards"


def text(resp) -> str:
    return resp.get_data(as_text=True)


def year(sc) -> ScorecardPeriod:
    return as_user(sc.marketing, s.open_period, "year", date(2024, 6, 30))


def scheme_id(code: str, branch_id: int) -> int:
    return next(x.id for x in s.current_schemes(branch_id) if x.code == code)


def computed(sc) -> ScorecardPeriod:
    period = year(sc)
    enter(sc, period, sc.rm_senior, RM_FIGURES)
    enter(sc, period, sc.rm_middle, {**RM_FIGURES, "deposits": "20", "accounts": "5"})
    as_user(sc.marketing, s.compute_period, period)
    return period


def test_open_a_period_from_the_page_once(client, sc):
    client.login("MK0001")
    resp = client.post(f"{P}/periods", {"kind": "month", "day": "2024-11-15"})
    assert resp.status_code == 302
    period = db.session.execute(select(ScorecardPeriod)).scalar_one()
    assert (period.starts_on, period.ends_on, period.branch_id) == (date(2024, 11, 1), date(2024, 11, 30), sc.b1.id)
    page = text(client.get(f"{P}/periods/{period.id}"))
    assert "2024年11月" in page and "客户经理月度综合考核（表二）" in page and "采集中" in page
    resp = client.post(f"{P}/periods", {"kind": "month", "day": "2024-11-02"})
    assert resp.status_code == 422 and "2024年11月的考核期已存在" in text(resp)
    resp = client.post(f"{P}/periods", {"kind": "month", "day": "11/02"})
    assert resp.status_code == 422 and "请选择考核期内的任意一天" in text(resp)
    client.logout()
    client.login("CR0001")  # a customer manager sees the period, cannot open one
    assert client.get(f"{P}/").status_code == 200
    assert client.post(f"{P}/periods", {"kind": "month", "day": "2024-12-01"}).status_code == 403


def test_entry_grid_saves_a_cell_and_refuses_bad_input_in_chinese(client, sc):
    period = year(sc)
    sid = scheme_id("003a-rm-senior", sc.b1.id)
    client.login("HA0001")  # outlet A's head enters for outlet A's people
    page = text(client.get(f"{P}/periods/{period.id}/entry?scheme={sid}"))
    assert "高级客户经理甲" in page and "初级客户经理丙" not in page  # 丙 is at outlet A2
    cell = {"subject": "staff", "subject_id": str(sc.rm_senior.id), "key": "deposits"}
    resp = client.post(f"{P}/periods/{period.id}/entry/cell", {**cell, "value": "33"})
    assert resp.status_code == 200 and "已保存" in text(resp) and 'value="33"' in text(resp)
    before = table_snapshot()["scorecards_actual"]
    resp = client.post(f"{P}/periods/{period.id}/entry/cell", {**cell, "value": "三十三"})
    assert resp.status_code == 422 and "须为数字（当前：三十三）" in text(resp) and 'value="三十三"' in text(resp)
    assert table_snapshot()["scorecards_actual"] == before
    # Outlet A2's person is outside the head's scope: 404, nothing of them.
    resp = client.post(f"{P}/periods/{period.id}/entry/cell", {**cell, "subject_id": str(sc.rm_junior.id),
                                                                "value": "1"})
    assert resp.status_code == 404 and "初级客户经理丙" not in text(resp)
    # A forged key is not a figure of this period.
    assert client.post(f"{P}/periods/{period.id}/entry/cell", {**cell, "key": "role", "value": "1"}).status_code \
        == 404
    assert db.session.execute(select(ScorecardActual.value).where(
        ScorecardActual.code == "deposits")).scalar_one() == D("33")


def test_compute_review_lock_correct_through_the_pages(client, sc):
    period = year(sc)
    enter(sc, period, sc.rm_senior, RM_FIGURES)
    client.login("MK0001")
    assert client.post(f"{P}/periods/{period.id}/compute").status_code == 302
    page = text(client.get(f"{P}/periods/{period.id}?scheme={scheme_id('003a-rm-senior', sc.b1.id)}"))
    assert "已计算" in page and re.search(r'data-sc-total>112<', page)
    # The one who computed cannot review (no permission here; and the branch admin who computes cannot either).
    assert client.post(f"{P}/periods/{period.id}/review").status_code == 403
    client.logout()
    client.login("BH0001")
    client.post(f"{P}/periods/{period.id}/review")
    assert db.session.get(ScorecardPeriod, period.id).status == "reviewed"
    client.logout()
    client.login("MK0001")
    client.post(f"{P}/periods/{period.id}/lock")
    db.session.expire_all()
    assert db.session.get(ScorecardPeriod, period.id).status == "locked"
    resp = client.post(f"{P}/periods/{period.id}/entry/cell", {"subject": "staff", "subject_id": str(sc.rm_senior.id),
                                                               "key": "deposits", "value": "40"})
    assert resp.status_code == 422 and "已锁定，不能修改" in text(resp)
    resp = client.post(f"{P}/periods/{period.id}/correct", {"reason": ""}, follow_redirects=True)
    assert "请填写更正原因" in text(resp)
    client.post(f"{P}/periods/{period.id}/correct", {"reason": "存款数据更正"})
    new = db.session.execute(select(ScorecardPeriod).where(ScorecardPeriod.revision == 2)).scalar_one()
    assert new.status == "open" and "更正第1版" in text(client.get(f"{P}/periods/{new.id}"))


def test_person_page_explains_every_point_and_the_pdf_has_a_cjk_font(client, sc):
    period = computed(sc)
    client.login("CR0001")
    page = text(client.get(f"{P}/periods/{period.id}/people/{sc.rm_senior.id}"))
    assert "新增存款日均增长33%，目标30%，每1个百分点2分：+6，本项46分" in page and "R-79" in page
    assert 'id="main" hx-history="false"' in page  # personal figures stay out of htmx's history cache
    assert "112" in page
    # Another person's page is out of a customer manager's scope: 404, nothing of them.
    resp = client.get(f"{P}/periods/{period.id}/people/{sc.rm_middle.id}")
    assert resp.status_code == 404 and "中级客户经理乙" not in text(resp)
    resp = client.get(f"{P}/periods/{period.id}/people/{sc.rm_senior.id}/report.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert pdf.cjk_font_embedded(resp.data)
    assert db.session.execute(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "scorecards.report_printed")).scalar_one() == 1
    client.logout()
    client.login("HA0001")
    resp = client.get(f"{P}/periods/{period.id}/outlets/{sc.a.id}/report.pdf")
    assert resp.status_code == 200 and pdf.cjk_font_embedded(resp.data)
    assert client.get(f"{P}/periods/{period.id}/outlets/{sc.b.id}/report.pdf").status_code == 404


def test_leaderboard_ranks_staff_in_scope_and_shows_the_outlet_pk(client, sc):
    period = computed(sc)
    sid = scheme_id("003a-rm-senior", sc.b1.id)
    client.login("MK0001")
    page = text(client.get(f"{P}/leaderboard?period={period.id}&scheme={sid}"))
    assert "高级客户经理甲" in page and "网点组合PK赛" in page and "甲网点" in page and CANARY_B not in page
    client.logout()
    client.login("CR0001")
    page = text(client.get(f"{P}/leaderboard?period={period.id}&scheme={sid}"))
    assert "我的成绩：112分，第1名 / 共1人" in page
    widget = text(client.get(f"{P}/widget"))
    assert "112分" in widget and "第1名 / 共1人" in widget
    client.logout()
    client.login("HB0001")  # the other 分行 sees no period of 甲分行
    assert client.get(f"{P}/periods/{period.id}").status_code == 404
    assert "高级客户经理甲" not in text(client.get(f"{P}/leaderboard?period={period.id}"))


def _sheet(rows: list[list]) -> bytes:
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"strings_to_numbers": False})
    ws = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            ws.write(r, c, value)
    book.close()
    return buf.getvalue()


def test_import_with_one_bad_row_saves_the_good_rows_and_a_rerun_adds_nothing(client, sc):
    period = year(sc)
    sid = scheme_id("003a-rm-senior", sc.b1.id)
    client.login("MK0001")
    template = client.get(f"{P}/periods/{period.id}/import/template.xlsx?scheme={sid}")
    assert template.status_code == 200
    header = CalamineWorkbook.from_filelike(io.BytesIO(template.data)).get_sheet_by_index(0).to_python()[1]
    assert header[:3] == ["工号", "姓名", "所属网点"] and "全年新增存款日均增长（%）" in header
    other = make_user("CR0009", "corporate_rm", outlet=sc.a, name="高级客户经理丁")
    other.grade = "a_senior"
    db.session.commit()
    rows = [["工号", "姓名", "全年新增存款日均增长（%）", "贷款不良率（%）", "贷款收息率（%）"],
            ["CR0001", "高级客户经理甲", 33, 0, 99.8],
            ["CR0009", "高级客户经理丁", "三成", 0, 99.5]]
    data = _sheet(rows)
    resp = client.post(f"{P}/periods/{period.id}/import?scheme={sid}",
                       {"file": (io.BytesIO(data), "数据.xlsx")}, content_type="multipart/form-data")
    page = text(resp)
    assert resp.status_code == 200 and "共2行：导入1行（3个数据），1行有错误未导入。" in page
    assert re.search(r"<td>3</td><td>C</td><td>全年新增存款日均增长须为数字（当前：三成）</td>", page)
    saved = dict(db.session.execute(select(ScorecardActual.code, ScorecardActual.value).where(
        ScorecardActual.subject_id == sc.rm_senior.id)).all())
    assert saved == {"deposits": D("33"), "npl": D("0"), "collection": D("99.8")}
    assert not db.session.execute(select(ScorecardActual).where(
        ScorecardActual.subject_id == other.id)).first()  # the bad row wholly refused
    client.post(f"{P}/periods/{period.id}/import?scheme={sid}",
                {"file": (io.BytesIO(data), "数据.xlsx")}, content_type="multipart/form-data")
    assert db.session.execute(select(func.count()).select_from(ScorecardActual)).scalar_one() == 3
    resp = client.post(f"{P}/periods/{period.id}/import?scheme={sid}",
                       {"file": (io.BytesIO(b"MZ\x90\x00"), "virus.xlsx")}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "不是 Excel" in text(resp)


def test_export_cells_are_never_formulas(client, sc):
    period = year(sc)
    sc.rm_senior.name = "=1+1"
    db.session.commit()
    enter(sc, period, sc.rm_senior, RM_FIGURES)
    as_user(sc.marketing, s.compute_period, period)
    client.login("MK0001")
    resp = client.get(f"{P}/periods/{period.id}/export.xlsx?scheme={scheme_id('003a-rm-senior', sc.b1.id)}")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(resp.data)).get_sheet_by_index(0).to_python()
    assert ["=1+1"] == [row[1] for row in sheet[2:3]]
    import zipfile

    xml = zipfile.ZipFile(io.BytesIO(resp.data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml


def test_plugin_disabled_for_the_branch_answers_404(client, sc, enable_plugin):
    period = year(sc)
    enable_plugin(sc.b1, "scorecards", False)
    client.login("MK0001")
    for url in (f"{P}/", f"{P}/periods/{period.id}", f"{P}/leaderboard", f"{P}/widget"):
        assert client.get(url).status_code == 404
    assert "绩效考核" not in text(client.get("/"))


def test_results_keep_the_scheme_version_that_computed_them(client, sc):
    period = computed(sc)
    first = result_of(period, sc.rm_senior, "003a-rm-senior")
    assert db.session.get(ScorecardScheme, first.scheme_id).revision == 1
    assert db.session.execute(select(func.count()).select_from(ScorecardResult)).scalar_one() >= 2
    assert db.session.get(User, sc.rm_senior.id).grade == "a_senior"


def test_demo_data_scores_everyone_and_locks_last_month(app):
    from crm.demo import seed_demo, seed_plugin_demo
    from crm.demo_customers import seed_customers
    from crm.workdays import ensure_seeded

    seed_demo(3)
    ensure_seeded(echo=lambda _line: None)
    seed_customers(300, 3, lambda _line: None)
    printed: list[str] = []
    seed_plugin_demo(3, printed.append)
    assert any(line.startswith("绩效考核：6 个考核期") for line in printed)
    periods = db.session.execute(select(ScorecardPeriod).order_by(ScorecardPeriod.id)).scalars().all()
    assert [p.status for p in periods] == ["locked", "computed", "computed"] * 2
    unscored = db.session.execute(select(func.count()).select_from(ScorecardResult).where(
        ScorecardResult.total.is_(None))).scalar_one()
    missing = db.session.execute(select(ScorecardResult.missing).where(ScorecardResult.total.is_(None))).scalars().all()
    assert unscored == 0, missing[:3]
    assert db.session.execute(select(func.count()).select_from(ScorecardResult)).scalar_one() > 50


def test_results_page_in_keyset_pages_ranked_first_then_unscored(client, sc, monkeypatch):
    from plugins.scorecards import views_periods

    period = year(sc)
    enter(sc, period, sc.rm_senior, RM_FIGURES)  # 112 → rank 1; the other two seniors are not scored
    other = make_user("CR0008", "corporate_rm", outlet=sc.a, name="高级客户经理戊")
    other.grade = "a_senior"
    db.session.commit()
    enter(sc, period, other, {**RM_FIGURES, "deposits": "31"})  # 42 + 30 + 26 + 10 = 108 → rank 2
    as_user(sc.marketing, s.compute_period, period)
    monkeypatch.setattr(views_periods, "PAGE", 1)
    sid = scheme_id("003a-rm-senior", sc.b1.id)
    client.login("MK0001")
    page = text(client.get(f"{P}/periods/{period.id}?scheme={sid}"))
    assert "高级客户经理甲" in page and "高级客户经理戊" not in page
    after = re.search(r"after=(\d+)", page).group(1)
    second = text(client.get(f"{P}/periods/{period.id}?scheme={sid}&after={after}", headers={"HX-Request": "true"}))
    assert "高级客户经理戊" in second and "<html" not in second
    assert re.search(r'data-sc-total>108<', second)
