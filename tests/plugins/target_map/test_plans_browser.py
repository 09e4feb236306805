"""The outreach Gantt in headless Debian Chromium (R-18, T-07): drag a bar with the real mouse, record a visit
through the form. Fails on any JavaScript error, CSP violation or request that leaves 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.extensions import db
from crm.timeutil import today_local
from plugins.target_map.models_plans import TargetMapTask
from tests.browser.support import Watched
from tests.conftest import PASSWORD
from tests.plugins.target_map.helpers_plans import P, fresh, make_corp, make_task

DAY_COLUMN = 38  # plans.js: the Day scale's column width in pixels

pytestmark = pytest.mark.browser


@pytest.fixture
def live(live_url, tm):
    return live_url, tm


@pytest.fixture
def page(live, browser):
    base, _org = live
    watched = Watched(browser, base, timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 900})
    watched.page.base = base
    yield watched.page
    watched.close()


def _login(page, login: str) -> None:
    page.goto(page.base + "/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def still_box(page, locator) -> dict:
    """The bar's box once the chart stopped moving: frappe-gantt may scroll after the first paint (and a busy
    machine paints late), and a press at a stale position misses the bar."""
    page.wait_for_selector("#plans-gantt[data-ready='1']")
    box = locator.bounding_box()
    for _ in range(40):
        page.wait_for_timeout(150)
        again = locator.bounding_box()
        if again == box:
            return box
        box = again
    return box


@pytest.mark.parametrize("days", [3])
def test_drag_a_bar_by_n_days_then_record_a_visit_and_the_task_is_done(live, page, days):
    _base, org = live
    today = today_local()
    customer = make_corp(org.a, "企业E", maintainer=org.rm_a)
    task = make_task(customer, org.rm_a, today, today + timedelta(days=4), title="拜访企业E")
    task_id, start, end = task.id, task.planned_start, task.planned_end
    db.session.commit()

    _login(page, org.rm_a.login)
    page.goto(page.base + f"{P}/plans")
    bar = page.locator(f'.bar-wrapper[data-id="t{task_id}"] .bar')
    bar.wait_for()
    box = still_box(page, bar)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # The real mouse: press on the bar, move right by N columns (plus half a column: frappe snaps down to whole
    # days), release.
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + days * DAY_COLUMN + DAY_COLUMN / 2, y, steps=12)
    page.mouse.up()
    page.wait_for_selector("#plans-gantt[data-saved='1']")
    moved = fresh(TargetMapTask, task_id)
    assert (moved.planned_start, moved.planned_end) == (start + timedelta(days=days), end + timedelta(days=days))
    assert moved.version == 2
    row = page.locator(f'[data-task-row="{task_id}"] [data-planned]').inner_text()
    assert row == f"{moved.planned_start.isoformat()} ~ {moved.planned_end.isoformat()}"
    assert "已调整“拜访企业E”的计划日期" in page.locator("#toasts").inner_text()

    # Record the visit through the form: before, during, after (the report to the outlet head).
    page.click(f'[data-task-row="{task_id}"] a')
    page.wait_for_selector("[data-task-state] [data-task-status='planned']")
    page.click("[data-new-visit]")
    page.wait_for_selector("[data-visit-form]")
    page.fill("input[name=visit_date]", today.isoformat())
    page.check("input[name=sources][value=network]")
    page.fill("textarea[name=hypotheses]", "企业新建厂房，可能需要代发工资")
    page.fill("textarea[name=key_info]", "财务总监王总，基本户在他行")
    page.fill("input[name=reported_on]", today.isoformat())
    page.fill("textarea[name=report_content]", "向张行长汇报了代发需求")
    page.click("button:has-text('保存走访记录')")
    page.wait_for_selector("[data-task-state] [data-task-status='done']")
    assert page.locator("[data-task-state]").inner_text().strip() == "已完成"
    done = fresh(TargetMapTask, task_id)
    assert done.status == "done" and done.actual_end == today


def test_a_refused_drag_puts_the_bar_back_and_says_why(live, page):
    """Someone else changed the task meanwhile: the server answers 409 and the bar returns to the stored dates."""
    _base, org = live
    today = today_local()
    customer = make_corp(org.a, "企业F", maintainer=org.rm_a)
    task = make_task(customer, org.rm_a, today, today + timedelta(days=2), title="电话预约")
    task_id = task.id
    _login(page, org.rm_a.login)
    page.goto(page.base + f"{P}/plans")
    bar = page.locator(f'.bar-wrapper[data-id="t{task_id}"] .bar')
    bar.wait_for()
    x_before = float(bar.get_attribute("x"))
    db.session.execute(db.update(TargetMapTask).where(TargetMapTask.id == task_id)
                       .values(version=TargetMapTask.version + 1))
    db.session.commit()
    box = still_box(page, bar)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 2 * DAY_COLUMN + DAY_COLUMN / 2, y, steps=8)
    page.mouse.up()
    page.wait_for_selector("#plans-gantt[data-saved='1']")
    assert "已被他人修改" in page.locator("#toasts").inner_text()
    bar = page.locator(f'.bar-wrapper[data-id="t{task_id}"] .bar')
    assert float(bar.get_attribute("x")) == x_before
    assert fresh(TargetMapTask, task_id).planned_start == today
