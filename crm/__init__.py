"""网点CRM: the application factory."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from crm.hookspecs import hookimpl

__all__ = ["create_app", "hookimpl"]

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from CRM_* variables (then `config`), extensions, plugins, blueprints."""
    from crm import config as settings
    from crm import web
    from crm.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate
    from crm.i18n import select_locale
    from crm.plugins import create_registry

    app = Flask(
        "crm",
        root_path=str(Path(__file__).parent),
        template_folder=str(ROOT / "templates"),
        instance_path=(config or {}).get("INSTANCE_PATH") or str(ROOT / "instance"),
    )
    app.url_map.converters["int"] = web.DatabaseIdConverter
    app.config.update(settings.load(app.instance_path, config))
    logging.getLogger("crm").setLevel(logging.INFO)
    from crm.logging_setup import install_log_masking

    install_log_masking()  # no ID number, mobile or sensitive query value reaches any log line

    db.init_app(app)
    web.configure_database(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    limiter.init_app(app)
    htmx.init_app(app)

    registry = create_registry(app)
    web.register_core(app)
    web.configure_templates(app)
    from crm.audit_seal import init_app as init_audit_seal

    init_audit_seal(app)  # seals new audit rows into the hash chain in the background

    @migrate.configure
    def _plugin_migrations(alembic_config):  # one Alembic branch per plugin (design §4)
        core = str(Path(__file__).parent / "migrations" / "versions")
        alembic_config.set_main_option("path_separator", "os")
        alembic_config.set_main_option("version_locations", os.pathsep.join([core, *registry.migration_dirs]))
        return alembic_config

    return app
