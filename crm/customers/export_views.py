"""Customer export routes (on the customers blueprint)."""

from __future__ import annotations

from flask import redirect, request, send_file, url_for
from flask_login import current_user

from crm.access import policy
from crm.customers import exports, services
from crm.customers.views import bp
from crm.timeutil import to_local, utcnow
from crm.web import toast


@bp.route("/export.xlsx")
@policy(permission="customers.export")
def export():
    """The current filtered list as Excel (R-13: with status=stock&loan=no&min=0|50000, the R-12 list)."""
    f = services.parse_filters(request.args)
    try:
        buffer, _rows, _full = exports.export(current_user, f)
    except exports.ExportError as exc:
        toast(str(exc), "danger")
        return redirect(url_for("customers.index", **f.args()))
    stamp = to_local(utcnow()).strftime("%Y%m%d-%H%M")
    return send_file(buffer, as_attachment=True, download_name=f"客户清单-{stamp}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
