"""The plugin object and the house rules: permissions by post, off by default, tables prefixed, migrations, no
float in the plugin's code, every route gated (404) when the plugin is off for the user's 分行."""

from __future__ import annotations

import re
from pathlib import Path

from crm.extensions import db
from tests.test_plugins import plugin_routes

ROOT = Path(__file__).resolve().parents[3] / "plugins" / "scorecards"


def test_plugin_registers_namespaced_permissions_off_by_default(app):
    registry = app.extensions["crm"]
    info = registry.plugins["scorecards"]
    assert (info.obj.label, info.obj.default_enabled) == ("绩效考核", False)
    table = registry.post_permissions
    assert "scorecards.view" in table["low_counter_teller"] and "scorecards.enter" not in table["low_counter_teller"]
    assert "scorecards.enter" in table["outlet_head"] and "scorecards.manage" not in table["outlet_head"]
    assert "scorecards.manage" in table["marketing"] and "scorecards.review" not in table["marketing"]
    assert "scorecards.review" in table["branch_head"] and "scorecards.manage" not in table["branch_head"]
    assert "scorecards.schemes" in table["branch_admin"] and "scorecards.schemes" not in table["marketing"]


def test_migration_dir_and_tables(app):
    registry = app.extensions["crm"]
    assert any(d.endswith("scorecards/migrations/versions") for d in registry.migration_dirs)
    tables = [t for t in db.metadata.tables if "scorecards" in t]
    assert len(tables) == 7 and all(t.startswith("scorecards_") for t in tables)


def test_no_float_in_the_plugin():
    """Money, rates and points are Decimal: no float() call and no float literal in the plugin's code."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        code = path.read_text(encoding="utf-8")
        code = re.sub(r'""".*?"""', "", code, flags=re.S)
        code = re.sub(r"#.*", "", code)
        code = re.sub(r'"[^"\n]*"', '""', code)
        if re.search(r"\bfloat\(", code) or re.search(r"(?<![\w.])\d+\.\d+(?![\w.])", code):
            offenders.append(path.name)
    assert offenders == []


def test_every_route_answers_404_when_the_plugin_is_off(client, sc, enable_plugin):
    routes = plugin_routes(client.app, "scorecards")
    assert len(routes) > 30
    enable_plugin(sc.b1, "scorecards", False)
    client.login("BA0001")
    for method, url, endpoint in routes:
        if endpoint.endswith(".static"):
            continue
        resp = client.get(url) if method == "GET" else client.post(url, {})
        assert resp.status_code == 404, (method, url, resp.status_code)
