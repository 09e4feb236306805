"""A small real plugin used by the tests: it implements every crm_* hook."""

from tests.plugin_example.plugin import ExamplePlugin

plugin = ExamplePlugin()
