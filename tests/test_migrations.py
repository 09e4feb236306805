"""Migrations: core and every plugin branch upgrade a fresh database to exactly the models' schema."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from crm import create_app
from crm.cli import upgrade_database
from crm.extensions import db
from tests.conftest import ALL_PLUGINS, PG_URL, base_config


@pytest.fixture
def fresh_url(tmp_path):
    """An empty database: a new SQLite file, or a throwaway PostgreSQL database."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path}/migrated.sqlite3"
        return
    name = f"crm_migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_heads_matches_the_models(tmp_path, fresh_url):
    from crm.cli import run_checks

    app = create_app(base_config(tmp_path, fresh_url, CRM_PLUGINS=ALL_PLUGINS))  # every model has its migration
    with app.app_context():
        before: list[str] = []
        run_checks(echo=before.append)
        assert any("需要升级" in line for line in before)
        upgrade_database()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            heads = set(MigrationContext.configure(conn).get_current_heads())
        assert diff == []
        # Core's newest revision is applied, beside the plugins' branches (which depend on core). Alembic keeps
        # only the heads in alembic_version: a core revision a plugin depends on is applied but no head.
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        applied = {r.revision for r in script.iterate_revisions(tuple(heads), "base")}
        assert {"0003_customer_profile", "0001_example", "0001_segmentation", "0002_target_map_plans",
                "0001_salon_events", "0001_loan_insurance", "0003_scorecards_pools", "0004_workdays"} <= applied
        lines = []
        run_checks(echo=lines.append)
        assert any("数据库结构: 已是最新" in line for line in lines)
        db.session.remove()
        db.engine.dispose()


def test_migrated_audit_log_is_append_only(tmp_path, fresh_url):
    app = create_app(base_config(tmp_path, fresh_url))
    with app.app_context():
        upgrade_database()
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO audit_log (created_at, action, result, detail) "
                              "VALUES (CURRENT_TIMESTAMP, 'auth.login', 'ok', '{}')"))
        for sql in ("UPDATE audit_log SET result = 'fail'", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"):
                with db.engine.begin() as conn:
                    conn.execute(text(sql))
        db.session.remove()
        db.engine.dispose()
