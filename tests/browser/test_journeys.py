"""Browser journeys in headless Debian Chromium: what a person clicks, with htmx really running.
Every test fails on a JavaScript error, a CSP violation, or any request that leaves 127.0.0.1 (no CDN)."""

from __future__ import annotations

import pytest

from crm.extensions import db
from tests.browser.support import Watched
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def live(live_url, org):
    return live_url, org


def open_menu(page, label: str) -> None:
    """Click a main-menu entry; with more than eight entries the last ones sit under 更多."""
    link = page.locator(f"header >> text={label}").first
    if not link.is_visible():
        page.click("header >> text=更多")
    link.click()


def test_admin_switches_a_plugin_and_the_outlet_sees_it_without_restart(live, browser):
    base, org = live
    admin = Watched(browser, base)
    admin.login("ADM001")
    open_menu(admin.page, "插件管理")
    admin.page.wait_for_load_state("networkidle")
    toggle = admin.page.locator(f'button[data-plugin="example"][data-branch="{org.b1.id}"]')
    assert toggle.inner_text().strip() == "已停用"
    toggle.click()  # an htmx POST carrying the CSRF header from <body hx-headers>
    admin.page.wait_for_selector(f'button[data-plugin="example"][data-branch="{org.b1.id}"][aria-pressed="true"]')
    assert "已为所选分行启用“示例插件”" in admin.page.locator("#toasts").inner_text()
    admin.close()

    head = Watched(browser, base)
    head.login("HA0001")
    assert head.page.locator("nav, header").first.locator("text=示例").count() == 1
    # The plugin's widget loads lazily through htmx.
    head.page.wait_for_selector("text=示例卡片内容")
    open_menu(head.page, "示例")
    head.page.wait_for_selector("text=示例插件首页")
    head.close()

    other = Watched(browser, base)
    other.login("HB0001")  # another 分行: nothing of the plugin
    assert other.page.locator("header >> text=示例").count() == 0
    response = other.page.goto(base + "/p/example/")
    assert response.status == 404
    other.close()


def test_first_login_forces_a_strong_password(live, browser):
    base, org = live
    make_user("NEW0001", "lobby_manager", outlet=org.a, must_change=True, name="新大堂")
    db.session.commit()
    user = Watched(browser, base)
    user.login("NEW0001")
    assert user.page.url.endswith("/account/password")
    user.page.fill("input[name=current]", PASSWORD)
    user.page.fill("input[name=new]", "111111")
    user.page.fill("input[name=confirm]", "111111")
    user.page.click("button:has-text('保存新密码')")
    user.page.wait_for_selector("text=密码过于简单")  # the 422 answer is swapped in by htmx
    user.page.fill("input[name=current]", PASSWORD)
    user.page.fill("input[name=new]", "Ruyi-2026-ok")
    user.page.fill("input[name=confirm]", "Ruyi-2026-ok")
    user.page.click("button:has-text('保存新密码')")
    user.page.wait_for_selector("text=我的最近登录")
    assert user.page.url == base + "/"
    user.close()


def test_outlet_head_creates_an_account_and_sees_the_one_time_password_once(live, browser):
    base, org = live
    head = Watched(browser, base)
    head.login("HA0001")
    head.page.goto(base + "/users/new")
    head.page.fill("input[name=login]", "410102199001011235")  # wrong check digit
    head.page.fill("input[name=name]", "王小明")
    head.page.select_option("select[name=post]", "lobby_manager")
    head.page.click("button:has-text('创建账号')")
    head.page.wait_for_selector("text=身份证号码校验位不正确")
    head.page.fill("input[name=login]", "410102199001011234")
    head.page.click("button:has-text('创建账号')")
    otp = head.page.wait_for_selector("#otp").inner_text()
    assert len(otp) == 12
    head.page.goto(base + "/users?q=王小明")
    assert head.page.locator("#user-rows").inner_text().count("王小明") == 1
    assert otp not in head.page.content()
    head.close()


def test_live_search_updates_rows_and_the_address_bar(live, browser):
    base, org = live
    head = Watched(browser, base)
    head.login("HA0001")
    head.page.goto(base + "/users")
    head.page.fill("input[name=q]", "柜员")
    head.page.wait_for_function("() => location.search.includes('q=')")
    head.page.wait_for_function("() => !document.querySelector('#user-rows').innerText.includes('甲大堂')")
    assert "甲柜员" in head.page.locator("#user-rows").inner_text()
    head.close()


def test_a_failing_widget_breaks_only_its_own_box(live, browser, enable_plugin):
    base, org = live
    from flask import current_app

    from crm.access import policy

    app = current_app._get_current_object()
    enable_plugin(org.b1, "example")

    @policy("login")
    def broken():
        raise RuntimeError("widget bug")

    app.view_functions["example.widget"] = broken
    head = Watched(browser, base)
    head.login("HA0001")
    head.page.wait_for_selector("text=此卡片暂时无法加载")
    head.page.wait_for_selector("text=我的最近登录")  # the other boxes still load
    assert head.page.locator("[data-widget='core.logins'] table").count() == 1
    head.problems = [p for p in head.problems if "500" not in p]  # the expected failure itself
    head.close()


def test_search_by_pinyin_open_a_customer_and_reveal_the_phone(live, browser):
    from crm.customers.search import keys
    from crm.models import AuditLog, Customer

    base, org = live
    for name, phone, maintainer in (("张三", "13812345678", org.rm_a), ("李四", "13911112222", org.rm_a)):
        db.session.add(Customer(outlet_id=org.a.id, kind="personal", name=name, phone=phone,
                                maintainer_id=maintainer.id, **keys(name, phone, None)))
    db.session.commit()
    rm = Watched(browser, base)
    rm.login("RA0001")
    rm.page.click("header >> text=客户")
    rm.page.wait_for_selector("#customer-rows >> text=李四")
    rm.page.fill("input[name=q]", "zs")  # pinyin initials, as you type
    rm.page.wait_for_function("() => !document.querySelector('#customer-rows').innerText.includes('李四')")
    assert "q=zs" in rm.page.url  # the address keeps the query
    row = rm.page.locator("#customer-rows tr", has_text="张三")
    assert "138****5678" in row.inner_text()
    row.locator("a", has_text="张三").click()
    rm.page.wait_for_selector("h2:has-text('张三')")
    assert "13812345678" not in rm.page.content()
    rm.page.wait_for_selector("[data-panel='core.maintenance'] >> text=甲客户经理")  # lazy panel loaded
    rm.page.click("#reveal-phone button")
    rm.page.wait_for_selector("#reveal-phone >> text=13812345678")
    assert db.session.execute(db.select(AuditLog).where(AuditLog.action == "customer.revealed")).scalar_one()
    rm.close()


def test_claim_a_customer_then_log_a_visit(live, browser):
    from crm.customers.search import keys
    from crm.models import Activity, Customer

    base, org = live
    for name, phone in (("王建国", "13655557777"), ("王秀兰", "13522223333")):
        db.session.add(Customer(outlet_id=org.a.id, kind="personal", name=name, phone=phone,
                                **keys(name, phone, None)))
    db.session.commit()
    teller = Watched(browser, base)
    teller.login("TA0001")  # 低柜柜员: sees only the customers she maintains, so none yet
    teller.page.click("header >> text=认领分配")
    teller.page.fill("input[name=q]", "wjg")
    # Both are listed before the search: wait for the search's own answer, not for a name already on the page.
    with teller.page.expect_response(lambda r: "q=wjg" in r.url):
        teller.page.click("button:has-text('查询')")
    teller.page.wait_for_load_state("networkidle")
    teller.page.wait_for_selector("text=王建国")
    assert teller.page.locator("text=王秀兰").count() == 0
    teller.page.click("button:has-text('认领')")
    teller.page.wait_for_selector("text=认领成功")
    teller.page.click("header >> text=客户")
    teller.page.wait_for_selector("#customer-rows >> text=王建国")
    teller.page.click("#customer-rows >> text=王建国")
    panel = teller.page.locator("[data-panel='core.activity']")
    panel.locator("select[name=kind]").select_option("visit")
    panel.locator("textarea[name=summary]").fill("上门拜访，客户有定期存款下月到期，关注稳健理财")
    from crm.activity.services import today_local  # the app's day (Asia/Shanghai), not the machine's UTC day
    panel.locator("input[name=next_follow_up]").fill(today_local().isoformat())
    panel.locator("button:has-text('记录联系')").click()
    panel.locator("text=上门拜访，客户有定期存款").wait_for()
    visit = db.session.execute(db.select(Activity)).scalar_one()
    assert visit.kind == "visit" and visit.user_id == org.teller_a.id
    teller.page.goto(base + "/")
    teller.page.wait_for_selector("[data-widget='core.reminders'] >> text=王建国")  # due today
    teller.close()
