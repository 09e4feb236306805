"""Fixtures: an app with the target_map plugin installed and switched on for both 分行."""

from __future__ import annotations

import pytest

PLUGINS = "tests.plugin_example,plugins.target_map"


@pytest.fixture
def app(make_app):
    app = make_app(CRM_PLUGINS=PLUGINS)
    with app.app_context():
        yield app


@pytest.fixture
def tm(org, enable_plugin):
    """The plugin on for both 分行 (each test switches it off where it needs to)."""
    enable_plugin(org.b1, "target_map")
    enable_plugin(org.b2, "target_map")
    return org
