"""Factories for the 金融生态图 tests: corporate customers with valid USCCs, map entries, enterprise-list files."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import xlsxwriter

from crm.customers import search
from crm.demo_customers import uscc_check_char
from crm.extensions import db
from crm.models import Customer
from plugins.target_map.models import TargetMapEntry
from tests.conftest import make_user

MAP = "/p/target-map"


def uscc(n: int, region: str = "410100") -> str:
    """A valid 统一社会信用代码 (GB 32100 check character), distinct for each n."""
    body = f"91{region}{n:09d}"
    return body + uscc_check_char(body)


def bad_uscc(n: int) -> str:
    """A well-formed code with a wrong check character."""
    good = uscc(n)
    return good[:-1] + ("1" if good[-1] != "1" else "2")


def corp(outlet: Any, name: str, *, status: str = "stock", module: str | None = "corporate", maintainer: Any = None,
         deposit: str = "0", revenue: str | None = None, cert: str | None = None, phone: str | None = None,
         kind: str = "corporate", **extra: Any) -> Customer:
    c = Customer(outlet_id=outlet.id, kind=kind, status=status, name=name, cert_no=cert, phone=phone,
                 eco_module=module if kind == "corporate" else None,
                 maintainer_id=maintainer.id if maintainer is not None else None,
                 deposit_balance=Decimal(deposit), annual_revenue=Decimal(revenue) if revenue is not None else None,
                 **search.keys(name, phone, cert), **extra)
    db.session.add(c)
    db.session.commit()
    return c


def on_map(customer: Customer, *, tag: str | None = None, scale: str | None = None, source: str | None = None,
           **extra: Any) -> TargetMapEntry:
    e = TargetMapEntry(customer_id=customer.id, outlet_id=customer.outlet_id, tag=tag,
                       expected_scale=Decimal(scale) if scale is not None else None, source=source, **extra)
    db.session.add(e)
    db.session.commit()
    return e


def corporate_rm(outlet: Any, login: str, name: str) -> Any:
    return make_user(login, "corporate_rm", outlet=outlet, name=name)


def xlsx(header: list[str], rows: list[list[Any]], *, text_columns: tuple[int, ...] = ()) -> bytes:
    """An .xlsx as a person would fill it in: text cells as text, numbers as numbers."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False, "strings_to_formulas": False})
    sheet = book.add_worksheet("名录")
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write_number(r, c, value)
    book.close()
    return out.getvalue()


def upload(client: Any, data: bytes, outlet: Any, *, filename: str = "名录.xlsx", source: str = "上级行企业名录"):
    return client.post(f"{MAP}/import", {"outlet_id": str(outlet.id), "source": source,
                                         "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def read_xlsx(data: bytes) -> list[list[Any]]:
    """Every row of the first sheet as values (python-calamine, as the app reads)."""
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    return book.get_sheet_by_index(0).to_python()
