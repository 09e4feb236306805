"""The example plugin: a nav item, a page, a panel, a widget, a permission, a setting set, a command,
a migration branch, a segment rule, a PDF document, a veto, a customer-saved and a customers-imported listener."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Blueprint, abort, current_app, render_template_string, request, url_for
from flask_login import current_user
from sqlalchemy import select

from crm import hookimpl
from crm.access import policy, scoped
from crm.contrib import NavItem, Panel, PdfDocument, Permission, SegmentRule, Widget
from crm.extensions import db
from crm.models import Customer, User
from tests.plugin_example.models import ExampleNote

bp = Blueprint("example", __name__, template_folder="templates")


@bp.route("/")
@policy(permission="example.use")
def index():
    settings = current_app.extensions["crm"].settings("example", current_user.root_branch_id)
    return render_template_string("<h1>示例插件首页</h1><p>{{ greeting }}</p>", greeting=settings["greeting"])


@bp.route("/notes/<int:note_id>")
@policy(permission="example.use")
def note(note_id: int):
    from crm.access import get_or_404

    return render_template_string("<p>{{ n.text }}</p>", n=get_or_404(ExampleNote, note_id))


@bp.route("/panel/<int:customer_id>")
@policy("login")
def panel(customer_id: int):
    from crm.access import get_or_404
    from crm.models import Customer

    customer = get_or_404(Customer, customer_id)  # a plugin reads customers only through the scope
    return render_template_string("<div>示例面板 {{ c.name }}</div>", c=customer)


@bp.route("/widget")
@policy("login")
def widget():
    return "<div>示例卡片内容</div>"


@bp.route("/notes", methods=["POST"])
@policy(permission="example.use")
def add_note():
    if current_user.outlet_id is None:
        abort(400)  # notes belong to an outlet
    db.session.add(ExampleNote(outlet_id=current_user.outlet_id, text=request.form.get("text", "")[:200]))
    db.session.commit()
    return "", 204


class ExamplePlugin:
    name = "example"
    label = "示例插件"
    description = "测试用插件，实现全部钩子"
    version = "1.0"
    default_enabled = False
    default_branch_settings = {"greeting": "欢迎使用示例插件", "max_items": 5, "show_banner": True}

    def __init__(self) -> None:
        self.saved: list[tuple[int, bool]] = []
        self.imported: list[dict] = []

    @hookimpl
    def crm_register_blueprints(self, app):
        return [bp]

    @hookimpl
    def crm_register_permissions(self):
        return [Permission("example.use", "使用示例插件", posts=("outlet_head", "personal_rm", "branch_admin"))]

    @hookimpl
    def crm_register_commands(self, cli):
        @cli.command("example-hello")
        def hello():
            """Say hello from the example plugin."""
            click.echo("示例插件问候")

    @hookimpl
    def crm_migration_dirs(self):
        return str(Path(__file__).parent / "migrations")

    @hookimpl
    def crm_register_segment_rules(self):
        return [SegmentRule("example_active_staff", "示例：在用账号", compile=lambda params: User.active.is_(True))]

    @hookimpl
    def crm_register_pdf_documents(self):
        return [PdfDocument("example_letter", "示例函", "example/letter.html", permission="example.use")]

    @hookimpl
    def crm_nav_items(self, user, branch):
        return [NavItem("示例", "example.index", icon="bi-stars", weight=50, permission="example.use")]

    @hookimpl
    def crm_customer_panels(self, customer, user, branch):
        return [Panel("example.panel", "示例面板", url_for("example.panel", customer_id=customer.id), weight=40)]

    @hookimpl
    def crm_dashboard_widgets(self, user, branch):
        return [Widget("example.widget", "示例卡片", url_for("example.widget"), weight=10)]

    @hookimpl
    def crm_plugin_available(self, plugin_name, branch):
        # Branches coded NOEX may not use the example plugin.
        if plugin_name == "example" and branch is not None and branch.code == "NOEX":
            return False
        return None

    @hookimpl
    def crm_customer_saved(self, customer, is_new):
        self.saved.append((customer.id, is_new))

    @hookimpl
    def crm_customers_imported(self, created_ids, updated_ids, user, branch):
        # What it was told about, read back through the importer's scope (design §3.3): the names of each list.
        names = dict(db.session.execute(scoped(Customer, user).with_only_columns(Customer.id, Customer.name).where(
            Customer.id.in_([*created_ids, *updated_ids]))).all())
        self.imported.append({"branch": branch.code, "user": user.login,
                              "created": [names.get(i) for i in created_ids],
                              "updated": [names.get(i) for i in updated_ids]})

    @hookimpl
    def crm_seed_demo(self, seed):
        # One note per outlet, the text picked by the seed: the same seed gives the same notes.
        from crm.models import Outlet

        outlets = db.session.execute(select(Outlet.id).order_by(Outlet.id)).scalars().all()
        db.session.add_all(ExampleNote(outlet_id=o, text=f"演示便签{seed % 97}-{o}") for o in outlets)
        db.session.commit()
        return f"示例插件：{len(outlets)} 条演示便签"

    # Scoped read, as plugin code must do (design §3.3).
    def visible_notes(self):
        return db.session.execute(scoped(ExampleNote)).scalars().all()
