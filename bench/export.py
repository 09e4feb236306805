"""Excel export of 100,000 customers through the app, against a bare XlsxWriter write of the same rows."""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import xlsxwriter
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402 - bench/pages.py: build_app, log_in (admin with a known password)

from crm.demo_customers import seed_customers  # noqa: E402
from crm.extensions import db  # noqa: E402
from crm.models import Customer, Outlet, User  # noqa: E402


def bare_write(rows: list[tuple]) -> int:
    """The reference: the same rows, already in memory, written by XlsxWriter in constant-memory mode."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False})
    sheet = book.add_worksheet("客户清单")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, int | float):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
    book.close()
    return len(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-export-") as tmp:
        app = pages.build_app(None, Path(tmp))
        with app.app_context():
            seed_customers(args.customers, seed=7, echo=lambda s: None)
            # The reference's rows: what the export shows (admin: every customer, full numbers), loaded beforehand,
            # so it times XlsxWriter alone; the app also queries, formats and streams them.
            maintainer = select(User.name).where(User.id == Customer.maintainer_id).scalar_subquery()
            outlet = select(Outlet.name).where(Outlet.id == Customer.outlet_id).scalar_subquery()
            rows = [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], float(r[8]), float(r[9]), "有" if r[10] else "无",
                     float(r[11]) if r[10] else None, r[12].isoformat() if r[12] else None)
                    for r in db.session.execute(select(
                        Customer.name, Customer.kind, Customer.status, Customer.cert_no, Customer.phone, outlet,
                        maintainer, Customer.tier, Customer.deposit_balance, Customer.deposit_daily_avg,
                        Customer.has_loan, Customer.loan_balance, Customer.last_contact_at).order_by(
                        Customer.name_pinyin, Customer.id))]
        client = app.test_client()
        pages.log_in(client)
        ours, bare, size = [], [], 0
        for _ in range(args.runs):
            start = time.perf_counter()
            resp = client.get("/customers/export.xlsx")
            ours.append(time.perf_counter() - start)
            if resp.status_code != 200:
                sys.exit(f"export answered {resp.status_code}")
            size = len(resp.data)
            start = time.perf_counter()
            bare_write(rows)
            bare.append(time.perf_counter() - start)
        a, b = statistics.median(ours), statistics.median(bare)
        print(f"customers: {args.customers:,}   runs: {args.runs} (median)   file: {size / 1e6:.1f} MB")
        print(f"app export (HTTP, query + format + write)   {a:6.2f} s")
        print(f"bare XlsxWriter, rows in memory             {b:6.2f} s")
        print(f"ratio app / bare                            {a / b:6.2f}x   goal ≤ 1.5: {'ok' if a / b <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
