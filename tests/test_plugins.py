"""Plugin contract (design §3.3): every hook called, per-branch enablement at run time, the 404 gate,
strict settings, check_pending, table and permission naming, scoped reads."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from types import SimpleNamespace

import pluggy
import pytest
from flask import url_for
from sqlalchemy import select

from crm import create_app, hookimpl, hookspecs
from crm.extensions import db
from crm.models import AuditLog, BranchPlugin
from crm.plugins import PluginSettingsError
from tests.conftest import CANARY_B, base_config, make_branch
from tests.test_allocation_quotas import test_hook_crm_allocation_quotas  # noqa: F401 - runs with the segmentation plugin

ROOT = Path(__file__).resolve().parent.parent
HOOK_NAMES = sorted(n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("crm_"))


def plugin_routes(app, plugin: str) -> list[tuple[str, str, str]]:
    """(method, url, endpoint) for every route of a plugin's blueprints, with id arguments filled in."""
    info = app.extensions["crm"].plugins[plugin]
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in info.blueprints:
            continue
        values = {arg: 1 for arg in rule.arguments}
        with app.test_request_context():
            url = url_for(rule.endpoint, **values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, url, rule.endpoint))
    return out


# ---------------------------------------------------------------- every hook has a test

def test_plugin_hooks_have_tests():
    """Datasette's rule: each hookspec is exercised by a test named test_hook_<name>."""
    names = {n[len("test_hook_"):] for n in globals() if n.startswith("test_hook_")}
    assert set(HOOK_NAMES) - names == set()


def test_readme_lists_every_hook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [h for h in HOOK_NAMES if f"`{h}" not in readme]
    assert missing == []


def test_hookspecs_have_docstrings_with_examples():
    for name in HOOK_NAMES:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "Example::" in doc, name


def test_hook_crm_register_blueprints(app):
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert "/p/example/" in rules and "/p/example/widget" in rules
    assert app.extensions["crm"].plugins["example"].blueprints == ["example"]


def test_hook_crm_register_permissions(app):
    registry = app.extensions["crm"]
    assert "example.use" in registry.permissions
    assert "example.use" in registry.post_permissions["outlet_head"]
    assert "example.use" not in registry.post_permissions["lobby_manager"]
    assert "example.use" in registry.post_permissions["admin"]


def test_hook_crm_register_commands(runner):
    result = runner.invoke(args=["example-hello"])
    assert result.exit_code == 0 and "示例插件问候" in result.output


def test_hook_crm_migration_dirs(app):
    dirs = app.extensions["crm"].migration_dirs
    assert any(d.endswith("plugin_example/migrations") for d in dirs)


def test_hook_crm_register_segment_rules(app, org, enable_plugin):
    registry = app.extensions["crm"]
    assert registry.segment_rules_for(set()) == []
    rules = registry.segment_rules_for({"example"})
    assert [r.name for r in rules] == ["example_active_staff"]
    from crm.models import User

    expr = rules[0].compile({})
    count = db.session.execute(select(db.func.count()).select_from(User).where(expr)).scalar_one()
    assert count == 13  # the org fixture's active accounts, counted by the database


def test_hook_crm_register_pdf_documents(app):
    registry = app.extensions["crm"]
    assert registry.pdf_documents_for(set()) == []
    assert [d.name for d in registry.pdf_documents_for({"example"})] == ["example_letter"]


def test_hook_crm_register_audit_labels(make_app):
    """The audit log names plugin actions and objects in Chinese, and every action a plugin records has a label
    (read from the code: a literal "plugin.verb" passed to audit.record, or loan_insurance's _log(case, actor, verb);
    the two built from a value — salon_events.round_<status>, target_map.visit_<recorded|updated> — are listed)."""
    from crm import audit
    from tests.conftest import ALL_PLUGINS, make_user

    app = make_app(CRM_PLUGINS=ALL_PLUGINS)
    with app.app_context():
        labels = app.extensions["crm"].audit_labels
        assert str(labels["loan_insurance.case_created"]) == "受理银保贷案件"
        assert audit.action_label("salon_events.registered") == "活动报名"
        assert audit.target_label("loan_insurance_case", "3") == "银保贷案件 #3"
        assert audit.action_label("unknown.thing") == "unknown.thing"  # no label: the code itself
        used = set()
        for path in (Path(__file__).resolve().parents[1] / "plugins").rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            used |= set(re.findall(r'audit\.record\(\s*"([a-z_]+\.[a-z_]*[a-z])"\s*[,)]', text))
            used |= {"loan_insurance." + v for v in re.findall(r'_log\([^,()]+,[^,()]+,\s*"([a-z_]+)"', text)}
            prefix = re.search(r'^P = "([a-z_]+\.)"', text, re.M)  # a module's own P = "plugin."
            if prefix:
                used |= {prefix.group(1) + v for v in re.findall(r'audit\.record\(P \+ "([a-z_]+)"', text)}
        assert len(used) > 60 and sorted(c for c in used if c not in labels and c not in audit.ACTIONS) == []
        # The audit page shows the label.
        admin = make_user("ADM002", "admin", name="管理员乙")
        with app.test_request_context():
            audit.record("target_map.imported", actor=admin, target=("loan_insurance_case", 5))
        db.session.commit()
        from tests.conftest import Client

        c = Client(app)
        c.login("ADM002")
        page = c.get("/admin/audit").get_data(as_text=True)
        assert "导入企业名单" in page and "银保贷案件 #5" in page


def test_hook_crm_nav_items(client, org, enable_plugin):
    client.login("HA0001")
    assert "/p/example/" not in client.get("/").get_data(as_text=True)
    enable_plugin(org.b1, "example")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/p/example/"' in page and "示例" in page


def test_nav_item_hidden_without_the_permission(client, org, enable_plugin):
    enable_plugin(org.b1, "example")
    client.login("LA0001")  # lobby manager: no example.use
    assert 'href="/p/example/"' not in client.get("/").get_data(as_text=True)
    assert client.get("/p/example/").status_code == 403


def test_hook_crm_customer_panels(app, org, enable_plugin):
    registry = app.extensions["crm"]
    customer = SimpleNamespace(id=7, kind="personal")
    core = [("core.activity", "/activity/customers/7/timeline"), ("core.products", "/customers/7/panel/products"),
            ("core.family", "/customers/7/panel/family"), ("core.maintenance", "/customers/7/panel/maintenance")]
    with app.test_request_context():
        panels = registry.gather("crm_customer_panels", customer=customer, user=org.head_a, branch=org.b1)
        assert [(p.key, p.url) for p in panels] == core
        enable_plugin(org.b1, "example")
    with app.test_request_context():
        panels = registry.gather("crm_customer_panels", customer=customer, user=org.head_a, branch=org.b1)
        assert [(p.key, p.url) for p in panels] == [*core, ("example.panel", "/p/example/panel/7")]
        # Another 分行's user still gets core's panels only.
        panels = registry.gather("crm_customer_panels", customer=customer, user=org.head_b, branch=org.b2)
        assert [(p.key, p.url) for p in panels] == core


def test_hook_crm_dashboard_widgets(client, org, enable_plugin):
    client.login("HA0001")
    assert 'data-widget="example.widget"' not in client.get("/").get_data(as_text=True)
    enable_plugin(org.b1, "example")
    page = client.get("/").get_data(as_text=True)
    assert 'data-widget="example.widget"' in page and 'hx-get="/p/example/widget"' in page
    assert "示例卡片内容" in client.get("/p/example/widget", headers={"HX-Request": "true"}).get_data(as_text=True)
    # Core widgets come through the same hook, sorted by weight after the plugin's (weight 10).
    assert page.index("example.widget") < page.index("core.org")


def test_hook_crm_plugin_available(app, org, enable_plugin):
    registry = app.extensions["crm"]
    vetoed = make_branch("NOEX", "不可用分行")
    assert registry.available("example", vetoed) is False
    assert registry.available("example", org.b1) is True
    enable_plugin(None, "example")  # globally on...
    assert registry.state(vetoed.id)["example"] is False  # ...but the veto wins
    assert registry.state(org.b1.id)["example"] is True
    with pytest.raises(PluginSettingsError):
        registry.set_enabled("example", vetoed.id, True, None)


def test_hook_crm_seed_demo(app, org):
    """The demo switches every installed plugin on for all 分行 and lets each fill its tables, printing its line;
    the same seed gives the same data."""
    from crm.demo import seed_plugin_demo
    from tests.plugin_example.models import ExampleNote

    printed: list[str] = []
    seed_plugin_demo(7, printed.append)
    registry = app.extensions["crm"]
    assert "example" in registry.enabled_names(org.b1.id) and "example" in registry.enabled_names(org.b2.id)
    notes = db.session.execute(select(ExampleNote.text).order_by(ExampleNote.id)).scalars().all()
    assert notes == [f"演示便签7-{o.id}" for o in sorted([org.a, org.a2, org.b], key=lambda o: o.id)]
    assert printed == ["示例插件：3 条演示便签"]


def test_hook_crm_customer_saved(app, org, enable_plugin):
    registry = app.extensions["crm"]
    plugin = registry.plugins["example"].obj
    plugin.saved.clear()
    customer = SimpleNamespace(id=42)
    registry.hook_for_names("crm_customer_saved", frozenset())(customer=customer, is_new=True)
    assert plugin.saved == []
    registry.hook_for_names("crm_customer_saved", frozenset({"example"}))(customer=customer, is_new=True)
    assert plugin.saved == [(42, True)]


def test_hook_crm_customers_imported(app, org, enable_plugin):
    """An import tells the plugins enabled for each 分行, once per committed chunk, which customers it created and
    which it changed; unchanged rows and 分行 with the plugin off are not reported."""
    from stdnum.cn import ric

    from crm.customers.imports import CustomerImport

    def id_card(body17: str) -> str:
        return body17 + ric.calc_check_digit(body17 + "0")

    def import_csv(actor, rows: list[str], chunk_size: int = 4000):
        data = "\n".join(["客户类型,客户名称,证件号码,手机号码,所属网点,存款余额", *rows]).encode("utf-8-sig")
        return CustomerImport(actor, chunk_size=chunk_size).run(data, "客户.csv")

    plugin = app.extensions["crm"].plugins["example"].obj
    plugin.imported.clear()
    zhang, li, wang = id_card("41010219850612003"), id_card("11010519900307123"), id_card("44030519881231789")
    enable_plugin(org.b1, "example")
    first = import_csv(org.head_a, [f"个人,张三,{zhang},13812345678,OA,50000", f"个人,李四,{li},,OA,100"])
    assert first.counts()["created"] == 2
    assert plugin.imported == [{"branch": "B1", "user": "HA0001", "created": ["张三", "李四"], "updated": []}]

    # Next month: 张三's balance changed, 李四's did not (matched, nothing written: not reported).
    plugin.imported.clear()
    again = import_csv(org.head_a, [f"个人,张三,{zhang},13812345678,OA,80000", f"个人,李四,{li},,OA,100"])
    assert (again.counts()["updated"], again.counts()["unchanged"]) == (2, 1)
    assert plugin.imported == [{"branch": "B1", "user": "HA0001", "created": [], "updated": ["张三"]}]

    # The administrator imports into both 分行, one row per chunk: one call per chunk, only for B1 (off for B2).
    plugin.imported.clear()
    import_csv(org.admin, [f"个人,王五,{wang},,OB,1", "个人,赵六,,13900002222,OA,2", f"个人,张三,{zhang},,OA,3"],
               chunk_size=1)
    assert plugin.imported == [{"branch": "B1", "user": "ADM001", "created": ["赵六"], "updated": []},
                               {"branch": "B1", "user": "ADM001", "created": [], "updated": ["张三"]}]
    enable_plugin(org.b1, "example", on=False)
    plugin.imported.clear()
    import_csv(org.head_a, [f"个人,张三,{zhang},,OA,4"])
    assert plugin.imported == []


# ---------------------------------------------------------------- enablement at run time

def test_disabled_plugin_answers_404_on_every_route_then_returns_without_restart(client, org, enable_plugin):
    from tests.plugin_example.models import ExampleNote

    app = client.app
    from crm.models import Customer

    db.session.add(ExampleNote(outlet_id=org.a.id, text="甲的第一条便签"))  # id 1, the id the routes are filled with
    db.session.add(Customer(outlet_id=org.a.id, kind="personal", name="甲客户"))  # customer 1, in the head's outlet
    db.session.commit()
    client.login("HA0001")
    routes = plugin_routes(app, "example")
    assert len(routes) == 5
    for method, url, _endpoint in routes:
        resp = client.get(url) if method == "GET" else client.post(url, {"text": "x"})
        assert resp.status_code == 404, (method, url)
    enable_plugin(org.b1, "example")
    statuses = {}
    for method, url, endpoint in routes:
        resp = client.get(url) if method == "GET" else client.post(url, {"text": "甲的便签"})
        statuses[endpoint] = resp.status_code
    assert statuses == {"example.index": 200, "example.note": 200, "example.panel": 200, "example.widget": 200,
                        "example.add_note": 204}
    enable_plugin(org.b1, "example", on=False)
    assert client.get("/p/example/").status_code == 404
    assert 'data-widget="example.widget"' not in client.get("/").get_data(as_text=True)


def test_enablement_is_per_branch(client, new_client, org, enable_plugin):
    enable_plugin(org.b1, "example")
    client.login("HA0001")
    assert client.get("/p/example/").status_code == 200
    other = new_client()
    other.login("HB0001")
    assert other.get("/p/example/").status_code == 404
    assert "/p/example/" not in other.get("/").get_data(as_text=True)


def test_branch_row_overrides_global_row(app, org, enable_plugin):
    registry = app.extensions["crm"]
    enable_plugin(None, "example")
    enable_plugin(org.b2, "example", on=False)
    assert registry.state(org.b1.id)["example"] is True
    assert registry.state(org.b2.id)["example"] is False
    assert registry.state(None)["example"] is True


def test_admin_toggle_page_switches_a_branch_with_htmx(client, org):
    client.login("ADM001")
    page = client.get("/admin/plugins").get_data(as_text=True)
    assert "示例插件" in page and "甲分行" in page
    resp = client.post("/admin/plugins/example/toggle", {"branch": str(org.b1.id), "enabled": "1"},
                       headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert "crm:toast" in resp.headers["HX-Trigger"]
    assert resp.headers["HX-Trigger"].isascii()
    assert 'aria-pressed="true"' in resp.get_data(as_text=True)
    assert client.app.extensions["crm"].state(org.b1.id)["example"] is True
    row = db.session.execute(select(AuditLog).where(AuditLog.action == "plugin.toggled")).scalar_one()
    assert row.detail == {"branch_id": org.b1.id, "enabled": True}


def test_branch_admin_switches_only_own_branch(client, org):
    client.login("BA0001")
    page = client.get("/admin/plugins").get_data(as_text=True)
    assert "甲分行" in page and CANARY_B not in page and "全行默认" not in page
    assert client.post("/admin/plugins/example/toggle", {"branch": str(org.b2.id), "enabled": "1"}).status_code == 404
    assert client.post("/admin/plugins/example/toggle", {"branch": "global", "enabled": "1"}).status_code == 404
    assert client.post("/admin/plugins/example/toggle", {"branch": str(org.s1.id), "enabled": "1"}).status_code == 404
    assert db.session.execute(select(BranchPlugin)).first() is None


def test_toggle_of_unknown_plugin_is_404(client, org):
    client.login("ADM001")
    assert client.post("/admin/plugins/nope/toggle", {"branch": "global", "enabled": "1"}).status_code == 404


# ---------------------------------------------------------------- settings

def test_settings_resolve_branch_then_global_then_defaults(app, org):
    registry = app.extensions["crm"]
    assert registry.settings("example", org.b1.id) == {"greeting": "欢迎使用示例插件", "max_items": 5, "show_banner": True}
    registry.set_settings("example", None, {"max_items": "8"}, None)
    registry.set_settings("example", org.b1.id, {"greeting": "甲分行你好"}, None)
    db.session.commit()
    assert registry.settings("example", org.b1.id) == {"greeting": "甲分行你好", "max_items": 8, "show_banner": True}
    assert registry.settings("example", org.b2.id) == {"greeting": "欢迎使用示例插件", "max_items": 8, "show_banner": True}


def test_unknown_setting_key_rejected(app, org):
    registry = app.extensions["crm"]
    with pytest.raises(PluginSettingsError, match="未知的设置项"):
        registry.set_settings("example", org.b1.id, {"max_itemz": 3}, None)
    with pytest.raises(PluginSettingsError):
        registry.set_settings("example", org.b1.id, {"max_items": "很多"}, None)


def test_unknown_key_already_stored_is_an_error(app, org):
    db.session.add(BranchPlugin(branch_id=org.b1.id, plugin="example", enabled=True, settings={"colour": "red"}))
    db.session.commit()
    with pytest.raises(PluginSettingsError, match="colour"):
        app.extensions["crm"].settings("example", org.b1.id)


def test_settings_page_saves_and_reports_bad_values(client, org):
    client.login("ADM001")
    url = f"/admin/plugins/example/settings?branch={org.b1.id}"
    assert "greeting" in client.get(url).get_data(as_text=True)
    bad = client.post("/admin/plugins/example/settings",
                      {"branch": str(org.b1.id), "set_greeting": "你好", "set_max_items": "十"})
    assert bad.status_code == 422 and "无效" in bad.get_data(as_text=True)
    ok = client.post("/admin/plugins/example/settings",
                     {"branch": str(org.b1.id), "set_greeting": "你好", "set_max_items": "9"})
    assert ok.status_code == 302
    assert client.app.extensions["crm"].settings("example", org.b1.id) == {
        "greeting": "你好", "max_items": 9, "show_banner": False}


# ---------------------------------------------------------------- start-up checks

def test_check_pending_catches_a_misspelled_hook(tmp_path, schema_template, monkeypatch):
    import sys
    import types

    module = types.ModuleType("crm_test_misspelled")

    class Misspelled:
        name = "misspelled"

        @hookimpl
        def crm_nav_itemz(self, user, branch):
            return []

    module.plugin = Misspelled()
    monkeypatch.setitem(sys.modules, "crm_test_misspelled", module)
    with pytest.raises(pluggy.PluginValidationError, match="crm_nav_itemz"):
        create_app(base_config(tmp_path, "sqlite://", CRM_PLUGINS="crm_test_misspelled"))


def test_plugin_permission_outside_its_namespace_refused(tmp_path, monkeypatch):
    import sys
    import types

    from crm.contrib import Permission

    module = types.ModuleType("crm_test_badperm")

    class BadPerm:
        name = "badperm"

        @hookimpl
        def crm_register_permissions(self):
            return [Permission("users.manage", "偷权限", posts=("lobby_manager",))]

    module.plugin = BadPerm()
    monkeypatch.setitem(sys.modules, "crm_test_badperm", module)
    with pytest.raises(RuntimeError, match="must start with 'badperm.'"):
        create_app(base_config(tmp_path, "sqlite://", CRM_PLUGINS="crm_test_badperm"))


def test_builtin_plugins_are_discovered_by_default(tmp_path):
    app = create_app(base_config(tmp_path, "sqlite://", CRM_PLUGINS=None))
    builtin = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())
    assert sorted(app.extensions["crm"].plugins) == builtin


def test_every_plugin_table_is_prefixed_with_its_name(app):
    registry = app.extensions["crm"]
    for name, info in registry.plugins.items():
        package = type(info.obj).__module__.rsplit(".", 1)[0]
        for mapper in db.Model.registry.mappers:
            if mapper.class_.__module__.startswith(package + "."):
                assert mapper.local_table.name.startswith(name + "_"), mapper.local_table.name


def test_plugins_read_customers_only_through_scoped_helpers():
    """Plugin code never queries Customer directly: scope is default-deny (design §3.3)."""
    offenders = []
    for path in [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "tests" / "plugin_example").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if re.search(r"Customer\.query|select\(\s*Customer\b|session\.get\(\s*Customer\b|query\(\s*Customer\b", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_plugin_object_reads_through_scope(client, org, enable_plugin):
    from crm.models import User
    from tests.plugin_example.models import ExampleNote

    db.session.add_all([ExampleNote(outlet_id=org.a.id, text="甲"), ExampleNote(outlet_id=org.b.id, text=CANARY_B)])
    db.session.commit()
    enable_plugin(org.b1, "example")
    client.login("HA0001")
    other_note = db.session.execute(select(ExampleNote).where(ExampleNote.outlet_id == org.b.id)).scalar_one()
    resp = client.get(f"/p/example/notes/{other_note.id}")
    assert resp.status_code == 404 and CANARY_B not in resp.get_data(as_text=True)
    with client.app.test_request_context():
        from flask_login import login_user

        login_user(db.session.get(User, org.head_a.id))
        texts = [n.text for n in client.app.extensions["crm"].plugins["example"].obj.visible_notes()]
    assert texts == ["甲"]


def test_plugins_cli_lists_states(runner, org, enable_plugin):
    enable_plugin(org.b1, "example")
    result = runner.invoke(args=["plugins"])
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if line.startswith("example"))
    assert line.split()[3:] == ["off", "on", "off"]  # global, B1, B2


def test_setting_values_take_the_default_type(app):
    from decimal import Decimal

    from crm.plugins import coerce_setting

    assert coerce_setting("cap", Decimal("50000"), "1,200.50") == "1200.50"
    assert coerce_setting("n", 5, " 7 ") == 7
    assert coerce_setting("on", True, "off") is False
    for bad in (("cap", Decimal("1"), "NaN"), ("cap", Decimal("1"), "很多"), ("on", True, "maybe")):
        with pytest.raises(PluginSettingsError):
            coerce_setting(*bad)


def test_branch_can_go_back_to_following_the_global_default(client, org, enable_plugin):
    registry = client.app.extensions["crm"]
    client.login("ADM001")
    assert "沿用全行默认" in client.get("/admin/plugins").get_data(as_text=True)
    client.post("/admin/plugins/example/toggle", {"branch": "global", "enabled": "1"})
    client.post("/admin/plugins/example/toggle", {"branch": str(org.b1.id), "enabled": "0"})
    assert registry.state(org.b1.id)["example"] is False
    page = client.post("/admin/plugins/example/toggle", {"branch": str(org.b1.id), "enabled": "inherit"},
                       headers={"HX-Request": "true"})
    assert registry.state(org.b1.id)["example"] is True  # follows the global "on" again
    assert "恢复为沿用全行默认" in page.headers["HX-Trigger"].encode().decode("unicode_escape")
    assert client.post("/admin/plugins/example/toggle", {"branch": "global", "enabled": "inherit"}).status_code == 302
    assert registry.state(None)["example"] is True  # the global row cannot "inherit"
    assert client.post("/admin/plugins/example/toggle", {"branch": "global", "enabled": "yes"}).status_code == 400
