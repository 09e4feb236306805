"""The segmentation widget and panel in headless Debian Chromium: the administrator switches the plugin on, the
分行 administrator recomputes, the dashboard draws the ECharts tier pyramid and segment bars (real canvases with a
size, the numbers of the database, tooltips that the Content-Security-Policy lets through), and an outlet head rates
a customer with the panel's htmx form. Any JavaScript error, CSP violation or off-site request fails the test."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Customer, Outlet
from plugins.segmentation import services
from plugins.segmentation.models import SegmentationRating
from tests.browser.support import Watched
from tests.browser.test_journeys import live  # noqa: F401 - the live server with the org
from tests.plugins.segmentation.conftest import born, cust

pytestmark = pytest.mark.browser

WIDGET = "[data-widget='segmentation.pyramid']"


def seed(org) -> None:
    for i in range(5):
        cust(org.a, name=f"甲大户{i}", deposit=80_000 + i, birthday=born(1985 + i), occupation="企业主" if i < 2 else None)
    for i in range(7):
        cust(org.a, name=f"甲小户{i}", deposit=100 * i, has_loan=i % 3 == 0)
    for i in range(3):
        cust(org.a2, name=f"甲二客户{i}", deposit=50_000 * (i + 1), retired=True, aum=600_000)


def db_tiers(where) -> dict[str, int]:
    rows = db.session.execute(select(Customer.tier, func.count()).where(where).group_by(Customer.tier)).all()
    return {t: n for t, n in rows}


def chart_data(page) -> dict:
    """What ECharts really holds for the two charts of the widget (not what the HTML table says)."""
    return page.evaluate("""() => {
        const box = document.querySelector("[data-widget='segmentation.pyramid']");
        const pyramid = echarts.getInstanceByDom(box.querySelector('[data-seg-pyramid]')).getOption();
        const bars = echarts.getInstanceByDom(box.querySelector('[data-seg-bars]')).getOption();
        return {
            pyramid: pyramid.series[0].data.map(d => [d.name, d.count]),
            bars: bars.yAxis[0].data.map((name, i) => [name, bars.series[0].data[i]]),
        };
    }""")


def canvases(page) -> list[dict]:
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        "[data-widget='segmentation.pyramid'] canvas")).map(c => {
            const r = c.getBoundingClientRect();
            return {w: r.width, h: r.height, pw: c.width, ph: c.height};
        })""")


def hover_over(watched, selector: str) -> None:
    """Move the mouse across a chart so that ECharts shows its tooltips (a CSP-violating tooltip fails the test)."""
    box = watched.page.locator(selector).bounding_box()
    for fx in (0.3, 0.6, 0.85):
        for fy in (0.15, 0.4, 0.65, 0.9):
            watched.page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            watched.page.wait_for_timeout(60)


def test_widget_draws_the_pyramid_and_segment_bars_with_the_databases_counts(live, browser):  # noqa: F811
    base, org = live
    seed(org)

    admin = Watched(browser, base)
    admin.login("ADM001")
    admin.page.goto(base + "/admin/plugins")  # 插件管理 (in the menu's overflow when many plugins add items)
    admin.page.locator(f'button[data-plugin="segmentation"][data-branch="{org.b1.id}"]').click()
    admin.page.wait_for_selector(f'button[data-plugin="segmentation"][data-branch="{org.b1.id}"][aria-pressed="true"]')
    admin.close()

    branch = Watched(browser, base)
    branch.login("BA0001")
    branch.page.click("header >> text=客户分层")
    branch.page.wait_for_selector("text=分层阶梯")
    branch.page.click("button:has-text('重算分层与分群')")
    branch.page.wait_for_selector("text=重算完成：15 户客户")
    branch.page.goto(base + "/")
    branch.page.wait_for_selector(f"{WIDGET} [data-seg-pyramid] canvas")
    branch.page.wait_for_selector(f"{WIDGET} [data-seg-bars] canvas")
    sizes = canvases(branch.page)
    assert len(sizes) == 2 and all(s["w"] > 100 and s["h"] >= 200 and s["pw"] > 0 for s in sizes), sizes

    in_b1 = Customer.outlet_id.in_(select(Outlet.id).where(Outlet.root_branch_id == org.b1.id))
    tiers = db_tiers(in_b1)
    assert tiers == {"T1": 8, "T0": 7}
    data = chart_data(branch.page)
    assert data["pyramid"] == [["T1", tiers["T1"]], ["T0", tiers["T0"]]]  # the top tier first
    labels = services.segment_labels(org.b1.id)
    counts = services.scope_segment_counts(org.branch_admin1, org.b1.id)
    assert sorted(data["bars"], key=lambda x: x[0]) == sorted([[labels[k], n] for k, n in counts.items()])
    assert dict(data["bars"])["无贷户"] == 12 and dict(data["bars"])["退休富裕客户"] == 3
    table = branch.page.locator(f"{WIDGET} [data-seg-table]").inner_text()
    assert "T1\t8" in table and "T0\t7" in table
    hover_over(branch, f"{WIDGET} [data-seg-bars]")
    hover_over(branch, f"{WIDGET} [data-seg-pyramid]")
    branch.close()

    # The outlet head of 甲网点 sees his outlet only: 12 customers, not 15.
    head = Watched(browser, base)
    head.login("HA0001")
    head.page.wait_for_selector(f"{WIDGET} [data-seg-bars] canvas")
    data = chart_data(head.page)
    own = db_tiers(Customer.outlet_id == org.a.id)
    assert data["pyramid"] == [["T1", own["T1"]], ["T0", own["T0"]]] == [["T1", 5], ["T0", 7]]
    assert dict(data["bars"])["80/90后"] == 5 and "退休富裕客户" not in dict(data["bars"])
    head.close()


def test_outlet_head_rates_a_customer_in_the_panel(live, browser, enable_plugin):  # noqa: F811
    base, org = live
    enable_plugin(org.b1, "segmentation")
    c = cust(org.a, name="评级客户", deposit=90_000)
    head = Watched(browser, base)
    head.login("HA0001")
    head.page.goto(f"{base}/customers/{c.id}")
    panel = head.page.locator("[data-panel='segmentation.tiers']")
    panel.locator("[data-seg-rate] summary").click()
    selects = panel.locator("[data-seg-rate] select[name=score]")
    assert selects.count() == 6
    selects.nth(0).select_option("5")
    panel.locator("[data-seg-rate] button[type=submit]").click()
    panel.locator("[data-seg-error]").wait_for()  # the 422 answer is swapped in by htmx, in Chinese
    assert "请为“能力（Capacity）”打分（1–5分）" in panel.locator("[data-seg-error]").inner_text()
    for i, score in enumerate(("5", "4", "4", "4", "4", "3")):
        panel.locator("[data-seg-rate] select[name=score]").nth(i).select_option(score)
    panel.locator("[data-seg-rate] button[type=submit]").click()
    panel.locator("[data-seg-ratings]").wait_for()
    assert "优质客户" in panel.locator("[data-seg-grade]").inner_text() and "24" in panel.inner_text()
    head.page.wait_for_selector("#toasts >> text=5C1S评级已保存：总分 24，优质客户")
    head.problems = [p for p in head.problems if "422" not in p]  # the expected validation answer
    head.close()
    row = db.session.execute(select(SegmentationRating)).scalar_one()
    assert (row.customer_id, row.total, row.grade, row.rated_by_id) == (c.id, 24, "quality", org.head_a.id)
