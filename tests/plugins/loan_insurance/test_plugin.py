"""The plugin object, its permissions and the house rules: no float in the plugin's code, tables prefixed."""

from __future__ import annotations

import re
from pathlib import Path

from crm.extensions import db

ROOT = Path(__file__).resolve().parents[3] / "plugins" / "loan_insurance"


def test_plugin_registers_namespaced_permissions_off_by_default(app):
    registry = app.extensions["crm"]
    info = registry.plugins["loan_insurance"]
    assert (info.obj.label, info.obj.default_enabled) == ("银保贷", False)
    table = registry.post_permissions
    assert "loan_insurance.prepare" in table["corporate_rm"] and "loan_insurance.review" not in table["corporate_rm"]
    assert "loan_insurance.review" in table["product_manager"]
    assert "loan_insurance.approve" in table["branch_head"] and "loan_insurance.approve" in table["sub_branch_president"]
    assert "loan_insurance.disburse_check" in table["product_manager"]
    assert "loan_insurance.override" not in table["product_manager"]
    assert "loan_insurance.manage_panel" in table["branch_admin"]
    assert not any(p.startswith("loan_insurance.") for p in table["low_counter_teller"])


def test_migration_dir_and_tables(app):
    registry = app.extensions["crm"]
    assert any(d.endswith("loan_insurance/migrations/versions") for d in registry.migration_dirs)
    tables = [t for t in db.metadata.tables if "loan_insurance" in t]
    assert len(tables) == 16 and all(t.startswith("loan_insurance_") for t in tables)


def test_no_float_in_the_plugin():
    """Money and rates are Decimal: no float() call and no float literal in the plugin's code."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        code = path.read_text(encoding="utf-8")
        code = re.sub(r'""".*?"""', "", code, flags=re.S)  # docstrings may quote dates like 2024.5
        code = re.sub(r"#.*", "", code)
        code = re.sub(r'"[^"\n]*"', '""', code)
        if re.search(r"\bfloat\(", code) or re.search(r"(?<![\w.])\d+\.\d+(?![\w.])", code):
            offenders.append(path.name)
    assert offenders == []
