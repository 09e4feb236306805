"""The English catalog covers every marked string, with intact placeholders, and its compiled .mo is current."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent


def _load_i18n_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crm_i18n_script", REPO_ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_english_catalog_is_complete_and_compiled() -> None:
    problems = _load_i18n_script().check(REPO_ROOT)
    assert not problems, "run `python scripts/i18n.py update` and translate:\n" + "\n".join(problems)
