"""The three-week rollout checklist (R-27): due dates (T-54), ticks with who/when, progress and overdue items."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.timeutil import today_local
from plugins.target_map import services_plans as svc
from plugins.target_map.models_plans import TargetMapRollout, TargetMapRolloutItem
from tests.conftest import CANARY_B
from tests.plugins.target_map.helpers_plans import P, audit_actions, logged_in

WEEK_ITEMS = {
    1: ["金融生态图（了解周边客户）", "渠道配置与岗位职责", "包户包效：建立存量对公客户档案", "保抢挖：确定网点拟拓展目标客户",
        "建立联动营销流程"],
    2: ["执行包户包效（电话维护培训）", "外拓营销流程", "产品手册推广"],
    3: ["绩效优化", "精细化管理总结与固化"],
}


def _items(outlet) -> list[TargetMapRolloutItem]:
    db.session.expire_all()
    ro = db.session.execute(select(TargetMapRollout).where(TargetMapRollout.outlet_id == outlet.id)).scalar_one()
    return svc.rollout_items(ro)


def test_t54_started_monday_2024_04_01_weeks_are_due_on_the_three_fridays(new_client, tm):
    """T-54 (R-27): started Mon 2024-04-01 → week-1 tasks due 2024-04-05, week-2 2024-04-12, week-3 2024-04-19."""
    assert svc.week_due_dates(date(2024, 4, 1)) == {1: date(2024, 4, 5), 2: date(2024, 4, 12), 3: date(2024, 4, 19)}
    head = logged_in(new_client, tm.head_a)
    assert head.post(f"{P}/rollout/start", {"start_date": "2024-04-01"}).status_code == 302
    items = _items(tm.a)
    assert [(i.week, str(svc.ROLLOUT_BY_CODE[i.code].label), i.due_date) for i in items] == [
        (w, label, {1: date(2024, 4, 5), 2: date(2024, 4, 12), 3: date(2024, 4, 19)}[w])
        for w in (1, 2, 3) for label in WEEK_ITEMS[w]]
    page = head.get(f"{P}/rollout").get_data(as_text=True)
    for d in ("2024-04-05（周五）", "2024-04-12（周五）", "2024-04-19（周五）"):
        assert "截止 " + d in page
    assert audit_actions() == ["target_map.rollout_started"]


@pytest.mark.parametrize("start, due", [
    # Mid-week start: every week still has five working days (decided and documented in week_due_dates).
    (date(2024, 4, 3), (date(2024, 4, 9), date(2024, 4, 16), date(2024, 4, 23))),   # Wednesday
    (date(2024, 4, 5), (date(2024, 4, 11), date(2024, 4, 18), date(2024, 4, 25))),  # Friday
    # Weekend start: counting begins the following Monday.
    (date(2024, 4, 6), (date(2024, 4, 12), date(2024, 4, 19), date(2024, 4, 26))),  # Saturday
    (date(2024, 4, 7), (date(2024, 4, 12), date(2024, 4, 19), date(2024, 4, 26))),  # Sunday
    (date(2024, 4, 8), (date(2024, 4, 12), date(2024, 4, 19), date(2024, 4, 26))),  # the Monday itself
])
def test_non_monday_start_gives_each_week_five_working_days(app, start, due):
    got = svc.week_due_dates(start)
    assert (got[1], got[2], got[3]) == due
    assert all(d.weekday() < 5 for d in got.values())


def test_rollout_weeks_follow_the_prc_calendar(tm):
    """With the working-day calendar seeded (crm/workdays.py), the weeks skip 清明 2024 (Thu 04-04 to Sat 04-06 off)
    and count its make-up Sunday 04-07: week 1 is 04-01, 02, 03, 07, 08 (due Mon 04-08), week 2 04-09 … 04-15, week 3
    04-16 … 04-22."""
    from crm.workdays import seed_from_package

    seed_from_package([2024])
    got = svc.week_due_dates(date(2024, 4, 1))
    assert got == {1: date(2024, 4, 8), 2: date(2024, 4, 15), 3: date(2024, 4, 22)}
    # Started on the holiday itself (Thu 04-04): counting begins on the next working day, Sunday 04-07.
    assert svc.week_due_dates(date(2024, 4, 4))[1] == date(2024, 4, 11)


def test_ticks_record_who_and_when_and_progress_is_per_week_and_overall(new_client, tm):
    head = logged_in(new_client, tm.head_a)
    head.post(f"{P}/rollout/start", {"start_date": "2024-04-01"})
    items = {i.code: i for i in _items(tm.a)}
    ro_id = items["eco_map"].rollout_id
    for code in ("eco_map", "channel_posts", "targets", "outreach_flow"):
        resp = head.post(f"{P}/rollout/{ro_id}/items/{items[code].id}", {"done": "1"},
                         headers={"HX-Request": "true"})
        assert resp.status_code == 200 and "data-rollout-board" in resp.get_data(as_text=True)
    # a second click on a done item changes nothing (conditional update)
    head.post(f"{P}/rollout/{ro_id}/items/{items['eco_map'].id}", {"done": "1"})
    items = {i.code: i for i in _items(tm.a)}
    assert items["eco_map"].done_by_id == tm.head_a.id and items["eco_map"].done_at is not None
    prog = svc.progress(list(items.values()), date(2024, 4, 8))  # week 1 over, week 2 running
    assert [(w.week, w.done, w.total, w.percent, w.overdue) for w in prog.weeks] == [
        (1, 3, 5, 60, 2), (2, 1, 3, 33, 0), (3, 0, 2, 0, 0)]
    assert (prog.done, prog.total, prog.percent, prog.overdue) == (4, 10, 40, 2)
    # boundary: an item due today is not overdue yet, the day after it is
    assert svc.progress(list(items.values()), date(2024, 4, 5)).overdue == 0
    assert svc.progress(list(items.values()), date(2024, 4, 6)).overdue == 2
    page = head.get(f"{P}/rollout").get_data(as_text=True)  # 2026: every open item is overdue
    assert "4/10（40%）" in page and "3/5（60%）" in page and "1/3（33%）" in page and "0/2（0%）" in page
    assert 'data-overdue-count="6"' in page and "网点甲负责人 于" in page
    # untick
    head.post(f"{P}/rollout/{ro_id}/items/{items['targets'].id}", {"done": "0"})
    items = {i.code: i for i in _items(tm.a)}
    assert items["targets"].done_at is None and items["targets"].done_by_id is None
    actions = audit_actions()
    assert actions.count("target_map.rollout_item_done") == 4 and actions.count("target_map.rollout_item_undone") == 1


def test_percentages_round_half_up():
    assert svc.percent(1, 8) == 13  # 12.5 → 13 (四舍五入, not banker's 12)
    assert svc.percent(2, 3) == 67 and svc.percent(1, 3) == 33 and svc.percent(0, 0) == 0


def test_start_twice_restart_and_validation(new_client, tm):
    head = logged_in(new_client, tm.head_a)
    for value, message in (("", "请填写导入开始日期"), ("2024/04/01", "格式应为"),
                           ((today_local() + timedelta(days=400)).isoformat(), "不能晚于一年以后")):
        resp = head.post(f"{P}/rollout/start", {"start_date": value})
        assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert db.session.execute(select(TargetMapRollout)).first() is None
    head.post(f"{P}/rollout/start", {"start_date": "2024-04-01"})
    resp = head.post(f"{P}/rollout/start", {"start_date": "2024-04-08"})
    assert resp.status_code == 422 and "本网点已启动三周导入" in resp.get_data(as_text=True)
    items = _items(tm.a)
    head.post(f"{P}/rollout/{items[0].rollout_id}/items/{items[0].id}", {"done": "1"})
    ro = db.session.execute(select(TargetMapRollout)).scalar_one()
    assert head.post(f"{P}/rollout/{ro.id}/restart", {"start_date": "2024-04-03", "version": ro.version}
                     ).status_code == 302
    items = _items(tm.a)
    assert {i.week: i.due_date for i in items} == {1: date(2024, 4, 9), 2: date(2024, 4, 16), 3: date(2024, 4, 23)}
    assert items[0].done_at is not None  # ticks stay
    resp = head.post(f"{P}/rollout/{ro.id}/restart", {"start_date": "2024-04-01", "version": 1})  # stale
    assert resp.status_code == 409 and _items(tm.a)[0].due_date == date(2024, 4, 9)


def test_rm_sees_the_checklist_but_does_not_tick_and_other_outlets_are_404(new_client, tm):
    head_b = logged_in(new_client, tm.head_b)
    head_b.post(f"{P}/rollout/start", {"start_date": "2024-04-01"})
    ro_b = db.session.execute(select(TargetMapRollout)).scalar_one()
    item_b = svc.rollout_items(ro_b)[0]
    head = logged_in(new_client, tm.head_a)
    head.post(f"{P}/rollout/start", {"start_date": "2024-04-01"})
    rm = logged_in(new_client, tm.rm_a)
    page = rm.get(f"{P}/rollout").get_data(as_text=True)
    assert "金融生态图（了解周边客户）" in page and "标记为已完成" not in page
    own = _items(tm.a)[0]
    assert rm.post(f"{P}/rollout/{own.rollout_id}/items/{own.id}", {"done": "1"}).status_code == 403
    for path, data in ((f"{P}/rollout/{ro_b.id}/items/{item_b.id}", {"done": "1"}),
                       (f"{P}/rollout/{ro_b.id}/restart", {"start_date": "2024-04-08", "version": 1})):
        resp = head.post(path, data)
        assert resp.status_code == 404 and CANARY_B not in resp.get_data(as_text=True)
    # another rollout's item id through one's own rollout: no such item
    resp = head.post(f"{P}/rollout/{own.rollout_id}/items/{item_b.id}", {"done": "1"})
    assert resp.status_code == 404 and CANARY_B not in resp.get_data(as_text=True)
    assert svc.rollout_items(ro_b)[0].done_at is None
    assert head.get(f"{P}/rollout?outlet={tm.b.id}").status_code == 404


def test_items_link_into_the_crm_where_natural(new_client, tm):
    head = logged_in(new_client, tm.head_a)
    head.post(f"{P}/rollout/start", {"start_date": "2024-04-01"})
    page = head.get(f"{P}/rollout").get_data(as_text=True)

    def item(code: str) -> str:
        start = page.index(f'data-item="{code}"')
        return page[start:page.index("</li>", start)]

    assert 'href="/customers/claims"' in item("stock_files")  # 包户包效 → the claims page
    assert 'href="/customers/claims"' in item("phone_training")
    assert f'href="{P}/plans"' in item("outreach_flow")  # 外拓营销流程 → the Gantt
    assert f'href="{P}/"' in item("eco_map") and f'href="{P}/"' in item("targets")  # → the map
    assert "href=" not in item("channel_posts")  # no natural page for it
