"""Issue 7 in a browser: the marketing post imports a month of balanced-scorecard figures with one bad row, fixes
a figure in the grid, computes; the branch head reviews the explanations and approves; marketing locks the period
and opens the leaderboard (R-91, R-35, R-39)."""

from __future__ import annotations

import re
from datetime import date

import pytest
import xlsxwriter
from sqlalchemy import select

from crm.extensions import db
from plugins.scorecards import services as s
from plugins.scorecards.models import ScorecardPeriod, ScorecardResult
from tests.plugins.scorecards.conftest import as_user

pytestmark = pytest.mark.browser

BASE = "/p/scorecards"


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_browser_import_review_lock_and_leaderboard(sc, live_url, browser, tmp_path):
    from tests.browser.support import Watched

    period = as_user(sc.marketing, s.open_period, "month", date(2026, 10, 15))
    scheme = next(x for x in s.current_schemes(sc.b1.id) if x.code == "002-bsc-corporate-rm")
    sheet = tmp_path / "十月平衡计分卡.xlsx"
    book = xlsxwriter.Workbook(str(sheet))
    ws = book.add_worksheet()
    for r, row in enumerate([["工号", "姓名", "财务维度", "客户维度", "内部运营维度", "学习与成长维度"],
                             ["CR0001", "高级客户经理甲", 36, 27, 18, 9],
                             ["CR0002", "中级客户经理乙", 32, "三十", 15, 8],  # the bad row
                             ["CR0003", "初级客户经理丙", 30, 24, 16, 5]]):
        for c, value in enumerate(row):
            ws.write(r, c, value)
    book.close()

    # 1. Marketing imports the sheet: one row refused with its reason, the other two saved.
    mk = Watched(browser, live_url)
    page = mk.page
    page.set_default_timeout(10_000)
    mk.login("MK0001")
    page.goto(f"{live_url}{BASE}/periods/{period.id}/import?scheme={scheme.id}")
    page.set_input_files("#sc-file", str(sheet))
    submit(page, "[data-sc-import] button[type=submit]")
    assert "共3行：导入2行（8个数据），1行有错误未导入。" in page.inner_text("[data-sc-report-counts]")
    assert "客户维度须为数字（当前：三十）" in page.inner_text("[data-sc-report-errors]")

    # 2. The missing figure typed into the grid (htmx saves the cell on change), then compute.
    page.goto(f"{live_url}{BASE}/periods/{period.id}/entry?scheme={scheme.id}")
    cell = page.locator(f"[data-sc-cell='{sc.rm_middle.id}:customer'] input")
    cell.fill("28")
    cell.press("Tab")
    page.wait_for_selector(f"[data-sc-cell='{sc.rm_middle.id}:customer'] [data-sc-saved]")
    for key, value in (("financial", "32"), ("internal", "15"), ("learning", "8")):
        box = page.locator(f"[data-sc-cell='{sc.rm_middle.id}:{key}'] input")
        box.fill(value)
        box.press("Tab")
        page.wait_for_selector(f"[data-sc-cell='{sc.rm_middle.id}:{key}'] [data-sc-saved]")
    page.goto(f"{live_url}{BASE}/periods/{period.id}?scheme={scheme.id}")
    submit(page, "[data-sc-compute]")
    assert page.inner_text("[data-sc-status]").strip() == "已计算"
    totals = [t.strip() for t in page.locator("[data-sc-results] [data-sc-total]").all_inner_texts()]
    assert totals[:3] == ["90", "83", "75"]  # 36+27+18+9, 32+28+15+8, 30+24+16+5
    mk.close()

    # 3. The branch head reads one person's explanation and approves the review.
    bh = Watched(browser, live_url)
    page = bh.page
    page.set_default_timeout(10_000)
    bh.login("BH0001")
    page.goto(f"{live_url}{BASE}/periods/{period.id}?scheme={scheme.id}")
    page.click(f"[data-sc-result='{sc.rm_senior.id}'] a")
    page.wait_for_selector("[data-sc-explained]")
    explained = page.inner_text("[data-sc-explained='002-bsc-corporate-rm']")
    assert "财务维度" in explained and "R-91" in explained and "90" in explained
    page.goto(f"{live_url}{BASE}/periods/{period.id}?scheme={scheme.id}")
    submit(page, "[data-sc-review]")
    assert page.inner_text("[data-sc-status]").strip() == "已复核"
    bh.close()

    # 4. Marketing locks it and opens the leaderboard.
    mk = Watched(browser, live_url)
    page = mk.page
    page.set_default_timeout(10_000)
    mk.login("MK0001")
    page.goto(f"{live_url}{BASE}/periods/{period.id}?scheme={scheme.id}")
    submit(page, "[data-sc-lock]")
    assert page.inner_text("[data-sc-status]").strip() == "已锁定"
    assert page.locator("[data-sc-compute]").count() == 0  # nothing to press on a locked period
    page.goto(f"{live_url}{BASE}/leaderboard?period={period.id}&scheme={scheme.id}")
    rows = page.locator("[data-sc-board] tbody tr").all_inner_texts()
    assert re.match(r"1\s+高级客户经理甲\s+甲网点\s+90", rows[0])
    assert "甲网点" in page.inner_text("[data-sc-pk]")
    page.wait_for_selector("[data-sc-chart] canvas")  # the PK chart drew (ECharts, served locally)
    mk.close()
    db.session.expire_all()
    assert db.session.get(ScorecardPeriod, period.id).status == "locked"
    assert db.session.execute(select(ScorecardResult.total).where(
        ScorecardResult.subject_id == sc.rm_junior.id, ScorecardResult.period_id == period.id,
        ScorecardResult.scheme_id == scheme.id)).scalar_one() == 75
