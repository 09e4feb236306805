"""The `crm` command: serve, init-db, demo, check, plugins, create-admin, backup, restore."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext


def _make_app() -> Flask:
    from crm import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_make_app, add_default_commands=False, add_version_option=False,
             load_dotenv=False, set_debug_flag=False)
def cli() -> None:
    """网点CRM command line."""


def main() -> None:
    # `crm demo` and `crm serve --demo` run on the embedded demo setup (SQLite, a generated secret key).
    args = sys.argv[1:]
    if args and (args[0] == "demo" or (args[0] == "serve" and "--demo" in args)):
        os.environ.setdefault("CRM_ENV", "demo")
    cli.main(prog_name="crm")


def register_commands(app: Flask) -> None:
    for command in (serve_command, init_db_command, demo_command, check_command, plugins_command,
                    create_admin_command,
                    import_customers_command, export_customers_command, workdays_group,
                    backup_command, restore_command):
        app.cli.add_command(command)
    from crm.audit_cli import audit_group

    app.cli.add_command(audit_group)
    from crm.worker import worker_command

    app.cli.add_command(worker_command)
    app.extensions["crm"].pm.hook.crm_register_commands(cli=app.cli)


def upgrade_database() -> None:
    """Apply every migration branch (core and each plugin's) up to its head."""
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory, revision="heads")


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the database schema (all migration branches)."""
    upgrade_database()
    click.echo("数据库已是最新结构。")
    from crm.workdays import ensure_seeded

    ensure_seeded(echo=click.echo)


@click.command("demo")
@click.option("--seed", default=20261123, show_default=True, help="Random seed: the same seed gives the same data.")
@click.option("--customers", default=0, show_default=True, type=click.IntRange(min=0), metavar="N",
              help="Also create N demo customers over all outlets (1,000,000 take about a minute on SQLite).")
@click.option("--append", is_flag=True, help="With --customers: add N more even if customers exist already.")
@with_appcontext
def demo_command(seed: int, customers: int, append: bool) -> None:
    """Fill an empty database with demo data; print the demo logins and a fresh password."""
    import time

    from crm.demo import DemoRefused, ensure_demo

    upgrade_database()
    ensure_demo(seed=seed, echo=click.echo)
    if customers:
        from crm.demo_customers import seed_customers

        started = time.perf_counter()
        try:
            made = seed_customers(customers, seed, click.echo, append=append)
        except DemoRefused as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"已生成 {made:,} 个演示客户，用时 {time.perf_counter() - started:.1f} 秒。")
        if not append:
            from crm.demo import seed_plugin_demo

            seed_plugin_demo(seed, click.echo)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Embedded SQLite with demo data (created on first run).")
@with_appcontext
def serve_command(host: str, port: int, demo: bool) -> None:
    """Run the built-in server (for one machine; use gunicorn in production, see README)."""
    app = current_app._get_current_object()
    if demo:
        from crm.demo import ensure_demo

        upgrade_database()
        ensure_demo(seed=20261123, echo=click.echo)
        from crm.demo_customers import DEMO_SERVE_CUSTOMERS, ensure_demo_customers

        if ensure_demo_customers(DEMO_SERVE_CUSTOMERS, seed=20261123, echo=click.echo):
            click.echo(f"已生成 {DEMO_SERVE_CUSTOMERS:,} 个演示客户（含家庭成员、持有产品和联系记录）。")
            from crm.demo import seed_plugin_demo

            seed_plugin_demo(20261123, click.echo)
    click.echo(f"网点CRM 运行于 http://{host}:{port}  (Ctrl+C 停止)")
    from werkzeug.serving import run_simple

    run_simple(host, port, app, use_reloader=False, use_debugger=False, threaded=True)


@click.command("check")
@with_appcontext
def check_command() -> None:
    """Check the installation: database, migrations, CJK font for PDFs, secret key."""
    problems = run_checks(echo=click.echo)
    if problems:
        click.echo(f"{problems} 项检查未通过。", err=True)
        sys.exit(1)
    click.echo("全部检查通过。")


def run_checks(echo=print) -> int:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask_migrate import Migrate
    from sqlalchemy import text

    from crm.extensions import db

    app = current_app
    failed = 0

    def report(ok: bool, label: str, detail: str) -> None:
        nonlocal failed
        failed += 0 if ok else 1
        echo(f"[{'OK' if ok else '!!'}] {label}: {detail}")

    try:
        db.session.execute(text("SELECT 1"))
        report(True, "数据库", db.engine.url.render_as_string(hide_password=True))
    except Exception as exc:  # noqa: BLE001 - any failure to connect is reported as such
        report(False, "数据库", f"无法连接：{exc.__class__.__name__}: {exc}")
        return failed + 3
    migrate: Migrate = app.extensions["migrate"]
    config = migrate.migrate.get_config(migrate.directory)
    script = ScriptDirectory.from_config(config)
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    missing = set(script.get_heads()) - _applied(script, current)
    report(not missing, "数据库结构",
           "已是最新" if not missing else f"需要升级（运行 crm init-db）：未应用 {', '.join(sorted(missing))}")
    fonts = _cjk_fonts()
    report(bool(fonts), "PDF 中文字体", fonts[0] if fonts else "未安装中文字体（Debian: apt-get install fonts-noto-cjk）")
    secret_from_env = bool(os.environ.get("CRM_SECRET_KEY"))
    env = app.config["CRM_ENV"]
    report(secret_from_env or env != "production", "密钥",
           "CRM_SECRET_KEY 已设置" if secret_from_env else f"{env} 模式使用实例目录中生成的密钥")
    return failed


def _applied(script, current: set[str]) -> set[str]:
    """Every revision the database has reached: its heads and all they rest on (down revisions and
    depends_on, so a plugin branch that depends on core counts core as applied)."""
    seen: set[str] = set()
    todo = list(current)
    while todo:
        rev = script.get_revision(todo.pop())
        if rev is None or rev.revision in seen:
            continue
        seen.add(rev.revision)
        todo.extend(rev._all_down_revisions)
    return seen


def _cjk_fonts() -> list[str]:
    if not shutil.which("fc-list"):
        return []
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False).stdout
    return sorted({line.split(",")[0].strip() for line in out.splitlines() if line.strip()})


@click.command("plugins")
@with_appcontext
def plugins_command() -> None:
    """List installed plugins and whether each 分行 has them on."""
    from sqlalchemy import select

    from crm.extensions import db
    from crm.models import Branch

    registry = current_app.extensions["crm"]
    roots = db.session.execute(select(Branch).where(Branch.parent_id.is_(None)).order_by(Branch.code)).scalars().all()
    states = {None: registry.state(None), **{b.id: registry.state(b.id) for b in roots}}
    if not registry.plugins:
        click.echo("没有安装插件。")
        return
    header = ["plugin", "version", "source", "global"] + [b.code for b in roots]
    rows = [[name, info.version, info.source] + ["on" if states[k][name] else "off" for k in [None, *[b.id for b in roots]]]
            for name, info in registry.plugins.items()]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


@click.command("create-admin")
@click.option("--login", required=True, help="Staff number of the system administrator.")
@click.option("--name", required=True)
@with_appcontext
def create_admin_command(login: str, name: str) -> None:
    """Create a system administrator with a one-time password (no default passwords, ever)."""
    from crm import audit
    from crm.auth import services as auth
    from crm.extensions import db
    from crm.models import User
    from crm.users.services import AccountError, check_login

    try:
        login = check_login(login)
    except AccountError as exc:
        raise click.BadParameter(next(iter(exc.errors.values())), param_hint="--login") from exc
    if auth.find_user(login) is not None:
        raise click.BadParameter("该登录名已存在", param_hint="--login")
    password = auth.one_time_password()
    user = User(login=login, name=name, post="admin", active=True)
    auth.set_password(user, password, must_change=True)
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", target=("user", user.id), detail={"post": "admin", "via": "cli"})
    db.session.commit()
    click.echo(f"系统管理员 {login} 已创建。一次性密码（仅显示这一次，首次登录须修改）：{password}")


@click.command("import-customers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "login", required=True, help="Login of the staff member the import runs as (scope, audit).")
@click.option("--rejects", type=click.Path(dir_okay=False), help="Write the rejected rows to this .xlsx file.")
@with_appcontext
def import_customers_command(file: str, login: str, rejects: str | None) -> None:
    """Import customers from an .xlsx, .xls or .csv file, with the checks and rules of the import page."""
    from crm.auth.services import find_user
    from crm.customers.imports import CustomerImport, ImportRefused, write_rejects
    from crm.excel_import import MAX_BYTES, SpreadsheetError

    user = find_user(login)
    if user is None or not user.active:
        raise click.BadParameter("没有该登录名的在岗员工", param_hint="--as")
    with open(file, "rb") as fh:
        data = fh.read(MAX_BYTES + 1)

    def progress(done: int, total: int) -> None:
        click.echo(f"\r已处理 {done:,} / {total:,} 行", nl=False, err=True)

    try:
        report = CustomerImport(user, progress=progress).run(data, os.path.basename(file))
    except (SpreadsheetError, ImportRefused) as exc:
        raise click.ClickException(exc.message) from exc
    click.echo("", err=True)
    click.echo(f"读取 {report.total:,} 行：新建 {report.created:,}，更新 {report.updated:,}"
               f"（其中无变化 {report.unchanged:,}），未导入 {report.rejected_count:,}（用时 {report.seconds} 秒）。")
    if report.ignored:
        click.echo("已忽略无法识别的列：" + "、".join(report.ignored))
    for item in report.rejected[:20]:
        click.echo(f"  第{item.row}行  {item.reasons}")
    if report.rejected_count > 20:
        click.echo(f"  …… 共 {report.rejected_count:,} 行未导入")
    if rejects and report.rejected:
        write_rejects(rejects, report)
        click.echo(f"未导入的行已写入 {rejects}")


@click.command("export-customers")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--as", "login", required=True, help="Login of the staff member the export runs as (scope, masking, audit).")
@click.option("--status", type=click.Choice(["stock", "target"]), help="存量 (stock) or 目标 (target) customers only.")
@click.option("--no-loan", is_flag=True, help="无贷户 only (R-12).")
@click.option("--min-deposit", help="Deposit standard (R-12): 0 = all, 50000 = 50,000 and above.")
@click.option("--outlet", type=int, help="One outlet (id) of the user's scope.")
@with_appcontext
def export_customers_command(out: str, login: str, status: str | None, no_loan: bool, min_deposit: str | None,
                             outlet: int | None) -> None:
    """Export customers to .xlsx as the web page does (R-13): the user's scope, masked for posts that may not
    reveal full numbers, audited."""
    from crm.auth.services import find_user
    from crm.customers import exports, services

    user = find_user(login)
    if user is None or not user.active:
        raise click.BadParameter("没有该登录名的在岗员工", param_hint="--as")
    from crm.access import can

    if not can("customers.export", user):
        raise click.ClickException("该员工的岗位不能导出客户清单")
    args = {"status": status, "loan": "no" if no_loan else None, "min": min_deposit, "outlet": outlet}
    f = services.parse_filters({k: str(v) for k, v in args.items() if v is not None})
    if f.errors:
        raise click.ClickException("；".join(f.errors))
    try:
        buffer, rows, full = exports.export(user, f)
    except exports.ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    with open(out, "wb") as fh:
        fh.write(buffer.getvalue())
    click.echo(f"已导出 {rows:,} 位客户到 {out}（证件号和手机号{'完整' if full else '已脱敏'}）。")


@click.group("workdays")
def workdays_group() -> None:
    """Working-day calendar: statutory holidays and make-up workdays (design §6)."""


@workdays_group.command("seed")
@click.option("--year", "years", type=click.IntRange(2000, 2100), multiple=True,
              help="Only this year (repeatable). Default: every year the chinesecalendar package covers.")
@with_appcontext
def workdays_seed_command(years: tuple[int, ...]) -> None:
    """Fill the calendar from the chinesecalendar package; administrators' entries are kept."""
    from crm.workdays import PackageMissing, covered_years, package_years, seed_from_package

    try:
        changed = seed_from_package(years or None)
        available = package_years()
    except PackageMissing as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"工作日历：写入或更新 {changed} 天（数据包覆盖 {available[0]}–{available[-1]} 年）。")
    missing = [y for y in years if y not in available]
    if missing:
        click.echo(f"数据包中没有 {'、'.join(map(str, missing))} 年的安排，请在管理页面“工作日历”中录入。", err=True)
    click.echo(f"已有日历的年份：{'、'.join(map(str, covered_years())) or '无'}")


@workdays_group.command("show")
@click.argument("year", type=click.IntRange(2000, 2100))
@with_appcontext
def workdays_show_command(year: int) -> None:
    """List a year's holidays and make-up workdays."""
    from datetime import date

    from crm.workdays import WEEKDAY_NAMES, WorkdayCalendar, days_of_year

    rows = days_of_year(year)
    if not rows:
        click.echo(f"{year} 年没有工作日历数据：只按周末计算。运行 crm workdays seed，或在管理页面“工作日历”中录入。")
        return
    for r in rows:
        label = "放假" if r.kind == "holiday" else "调休上班"
        click.echo(f"{r.day.isoformat()}  {WEEKDAY_NAMES[r.day.weekday()]}  {label:<4}  {r.name}  "
                   f"({'管理员' if r.source == 'admin' else '数据包'})")
    cal = WorkdayCalendar()
    total = cal.workdays_between(date(year - 1, 12, 31), date(year, 12, 31))
    click.echo(f"{year} 年共 {total} 个工作日。")


@click.command("backup")
@click.option("--output", "output", type=click.Path(dir_okay=False),
              help="Backup file. Default: instance/backups/crm-YYYYmmdd-HHMMSS.sqlite3 (SQLite) or .dump (PostgreSQL).")
@with_appcontext
def backup_command(output: str | None) -> None:
    """Back up the database while the app runs (SQLite online backup / pg_dump), with a verifiable manifest."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from crm.backup import BackupError, backup

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    if output is None:
        stamp = datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).strftime("%Y%m%d-%H%M%S")
        ext = "sqlite3" if url.startswith("sqlite") else "dump"
        output = os.path.join(current_app.instance_path, "backups", f"crm-{stamp}.{ext}")
    try:
        info = backup(url, output)
    except BackupError as exc:
        click.echo(f"备份失败：{exc}", err=True)
        sys.exit(1)
    click.echo(f"备份完成：{info.tables} 张表，{info.rows:,} 行，{info.size / 1048576:.1f} MB，用时 {info.seconds} 秒。")
    click.echo(f"备份文件：{info.path}")
    click.echo(f"备份清单：{info.manifest_path}（恢复时须与备份文件放在同一目录）")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite a database that already holds data.")
@with_appcontext
def restore_command(path: str, force: bool) -> None:
    """Restore a backup made by `crm backup` into this instance's database and verify it (stop the app first)."""
    from crm.backup import BackupError, restore
    from crm.extensions import db

    db.session.remove()
    db.engine.dispose()  # no connection of ours may hold the file or the tables being replaced
    try:
        info = restore(path, current_app.config["SQLALCHEMY_DATABASE_URI"], force=force)
    except BackupError as exc:
        click.echo(f"恢复失败：{exc}", err=True)
        sys.exit(1)
    click.echo(f"恢复完成并已校验：{info.tables} 张表，{info.rows:,} 行，行数和校验和与备份清单一致，用时 {info.seconds} 秒。")
    click.echo(f"来自备份：{info.source}")
    click.echo("如备份来自较早的版本，请运行 crm init-db 升级数据库结构，然后重新启动应用。")
