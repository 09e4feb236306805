"""`crm audit seal` and `crm audit verify`: extend and check the audit hash chain."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("audit")
def audit_group() -> None:
    """Audit log hash chain (审计日志防篡改链)."""


@audit_group.command("seal")
@with_appcontext
def seal_command() -> None:
    """Seal committed audit rows older than CRM_AUDIT_SEAL_DELAY_SECONDS into the hash chain (run it from a timer)."""
    from crm.audit_seal import seal

    count = seal()
    click.echo(f"已封存 {count} 条审计记录。/ Sealed {count} audit rows.")


@audit_group.command("verify")
@click.option("--no-seal", is_flag=True, help="Only check; do not seal new rows first.")
@with_appcontext
def verify_command(no_seal: bool) -> None:
    """Seal new rows, then recompute the whole chain; exit 1 at the first broken link."""
    from crm.audit_seal import seal, verify
    from crm.timeutil import to_local

    sealed = 0 if no_seal else seal()
    report = verify()
    months = current_app.config["CRM_AUDIT_RETENTION_MONTHS"]
    if sealed:
        click.echo(f"本次新封存 {sealed} 条。/ Newly sealed: {sealed}.")
    click.echo(f"审计记录共 {report.total_rows:,} 条，已封存 {report.sealed:,} 条，未封存 {report.unsealed:,} 条"
               f"（新于 {current_app.config['CRM_AUDIT_SEAL_DELAY_SECONDS']} 秒的记录稍后封存）。/ "
               f"{report.total_rows:,} audit rows, {report.sealed:,} sealed, {report.unsealed:,} not sealed yet.")
    oldest = to_local(report.oldest).strftime("%Y-%m-%d") if report.oldest else "—"
    click.echo(f"最早的审计记录：{oldest}；保留期不少于 {months} 个月，应用从不删除或修改审计记录。/ Oldest audit row: "
               f"{oldest}; retention is at least {months} months, the application never deletes or changes audit rows.")
    if report.ok:
        click.echo(f"校验通过：封存链完整，链头 #{report.head_id} {report.head_hash}。/ Verified: the chain is intact, "
                   f"head #{report.head_id} {report.head_hash}.")
        return
    first = report.problems[0]
    click.echo(f"校验失败 / VERIFICATION FAILED: {first.message}", err=True)
    for problem in report.problems[1:20]:
        click.echo(f"  另见 / also: {problem.message}", err=True)
    if len(report.problems) > 20:
        click.echo(f"  …… 共 {len(report.problems)} 处问题 / {len(report.problems)} problems in all", err=True)
    sys.exit(1)
