"""金融生态图 in headless Debian Chromium: the chart renders, hovering a node names its responsible person, clicking a
node opens that customer; a personal RM claims an unclaimed target from the map (熟客认领). Fails on any JavaScript
error, CSP violation or request leaving 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.browser.support import Watched
from tests.plugins.target_map.helpers_map import MAP, corp, on_map, uscc

pytestmark = pytest.mark.browser

# The pixel position of a customer's node, from ECharts itself (convertToPixel on the node's layout coordinates).
NODE_POSITION = """(cid) => {
  const el = document.querySelector('[data-tm-map]');
  const chart = echarts.getInstanceByDom(el);
  const series = chart.getOption().series;
  for (let i = 0; i < series.length; i++) {
    if (series[i].type !== 'scatter') continue;
    for (const item of series[i].data) {
      const row = Array.isArray(item) ? item : item.value;  // [x, y, size, node index, customer id]
      if (row[4] !== cid) continue;
      const [x, y] = chart.convertToPixel({seriesIndex: i}, [row[0], row[1]]);
      const box = el.getBoundingClientRect();
      return {x: box.left + x, y: box.top + y};
    }
  }
  return null;
}"""


@pytest.fixture
def live(live_url, tm):
    return live_url, tm


class MapPage(Watched):
    def open_map(self, outlet_id: int) -> None:
        self.page.goto(f"{self.base}{MAP}/outlets/{outlet_id}")
        self.page.wait_for_selector("[data-tm-ready]")


def test_click_a_node_opens_that_customer(live, browser):
    base, org = live
    big = corp(org.a, "甲存量大户", status="stock", maintainer=org.head_a, deposit="3000000", cert=uscc(1))
    clicked = corp(org.a, "甲目标企业", status="target", module="institutional", maintainer=org.rm_a, cert=uscc(2))
    other = corp(org.a, "甲国际企业", status="target", module="international", cert=uscc(3))
    on_map(big, tag="keep")
    on_map(clicked, tag="grab", scale="20000000")
    on_map(other, tag="dig", scale="100000")
    head = MapPage(browser, base)
    head.login("HA0001")
    head.open_map(org.a.id)
    page = head.page
    assert page.get_attribute("[data-tm-map]", "data-tm-ready") == "3"
    marks = page.evaluate("performance.getEntriesByType('mark').map(m => m.name)")
    assert "tm-map-data" in marks and "tm-map-rendered" in marks
    spot = page.evaluate(NODE_POSITION, clicked.id)
    page.mouse.move(spot["x"], spot["y"])
    tooltip = page.locator("[data-tm-map] div:has-text('营销人：甲客户经理')").last
    tooltip.wait_for()
    assert "预计规模：2,000.00 万元" in tooltip.inner_text() and "目标 · 保抢挖：抢" in tooltip.inner_text()
    with page.expect_navigation():
        page.mouse.click(spot["x"], spot["y"])
    assert page.url == f"{base}/customers/{clicked.id}"
    page.wait_for_selector("[data-tm-panel]")  # the customer page's 金融生态图 panel (lazy, htmx)
    assert "营销人" in page.locator("[data-tm-panel]").inner_text()
    head.close()


def test_personal_rm_claims_an_unclaimed_target_from_the_map(live, browser):
    base, org = live
    free = corp(org.a, "甲待认领企业", status="target", module="corporate", cert=uscc(4))
    on_map(free, tag="dig", scale="8000000")
    on_map(corp(org.a, "甲负责人企业", status="stock", maintainer=org.head_a, deposit="100", cert=uscc(5)))
    rm = MapPage(browser, base)
    rm.login("RA0001")
    rm.open_map(org.a.id)
    page = rm.page
    assert page.get_attribute("[data-tm-map]", "data-tm-ready") == "1"  # the head's customer is not on it
    spot = page.evaluate(NODE_POSITION, free.id)
    page.mouse.click(spot["x"], spot["y"])  # not in the RM's scope: the card opens instead of the page
    page.wait_for_selector("#tm-card [data-tm-card]")
    assert "甲待认领企业" in page.locator("#tm-card").inner_text()
    page.click("#tm-card [data-tm-claim]")
    page.wait_for_selector("text=认领成功，您已成为“甲待认领企业”的营销人")
    rm.close()
