"""The plugin's Alembic branch (0001 depends on core; 0002_segmentation_more on 0001) builds exactly the tables its
models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm import create_app
from crm.cli import upgrade_database
from crm.extensions import db
from tests.conftest import base_config
from tests.test_migrations import fresh_url  # noqa: F401 - the fixture: an empty SQLite file or PG database

ROOT = Path(__file__).resolve().parents[3]


def test_upgrade_heads_with_the_segmentation_branch_matches_the_models(tmp_path, fresh_url):  # noqa: F811
    # Every built-in plugin is installed, so every imported model has its migration (other plugins' too).
    builtins = [f"plugins.{p.name}" for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists()]
    app = create_app(base_config(tmp_path, fresh_url, CRM_PLUGINS=",".join(["tests.plugin_example", *builtins])))
    with app.app_context():
        upgrade_database()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            heads = set(MigrationContext.configure(conn).get_current_heads())
        assert [d for d in diff if "segmentation" in str(d)] == []
        assert "0002_segmentation_more" in heads and "0001_segmentation" not in heads
        db.session.remove()
        db.engine.dispose()
