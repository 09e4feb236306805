"""Offline checks that the vendored front-end files match crm/static/vendor/VENDOR.json."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import re
import shutil
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = REPO_ROOT / "crm" / "static" / "vendor"
MANIFEST = VENDOR_DIR / "VENDOR.json"

REMOTE_CSS_RE = re.compile(r"""(?:url\(\s*["']?\s*(?:https?:)?//|@import\s+["']\s*(?:https?:)?//)""", re.IGNORECASE)


def _load_vendor_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crm_vendor_script", REPO_ROOT / "scripts" / "vendor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


vendor = _load_vendor_script()


def _manifest() -> list[dict]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def _package(name: str) -> dict:
    matches = [pkg for pkg in _manifest() if pkg["name"] == name]
    assert len(matches) == 1, f"{name} listed {len(matches)} times"
    return matches[0]


def test_check_reports_no_drift() -> None:
    assert vendor.check(VENDOR_DIR) == []


def test_every_listed_file_exists_and_matches_sha256() -> None:
    manifest = _manifest()
    assert manifest, "VENDOR.json lists no packages"
    for pkg in manifest:
        assert set(pkg) == {"name", "version", "license", "files"}
        assert re.fullmatch(r"\d+\.\d+\.\d+", pkg["version"]), pkg
        assert pkg["license"], pkg["name"]
        assert pkg["files"], pkg["name"]
        for entry in pkg["files"]:
            path = VENDOR_DIR / entry["dest"]
            assert path.is_file(), entry["dest"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], entry["dest"]


def test_manifest_is_canonical_json() -> None:
    assert MANIFEST.read_text(encoding="utf-8") == vendor.dump_manifest(_manifest())


def test_htmx_is_pinned_to_2_0_11() -> None:
    pkg = _package("htmx.org")
    assert pkg["version"] == "2.0.11"
    js = (VENDOR_DIR / "htmx" / "htmx.min.js").read_text(encoding="utf-8")
    assert 'version:"2.0.11"' in js


def test_expected_assets_are_vendored() -> None:
    for rel in (
        "htmx/htmx.min.js",
        "tabler/tabler.min.css",
        "tabler/tabler.min.js",
        "bootstrap-icons/bootstrap-icons.min.css",
        "bootstrap-icons/fonts/bootstrap-icons.woff2",
        "bootstrap-icons/fonts/bootstrap-icons.woff",
        "echarts/echarts.min.js",
        "frappe-gantt/frappe-gantt.umd.js",
        "frappe-gantt/frappe-gantt.css",
    ):
        assert (VENDOR_DIR / rel).is_file(), rel
    assert "Gantt=" in (VENDOR_DIR / "frappe-gantt" / "frappe-gantt.umd.js").read_text(encoding="utf-8")


def test_no_vendored_css_loads_remote_urls() -> None:
    css_files = sorted(VENDOR_DIR.rglob("*.css"))
    assert css_files
    for path in css_files:
        text = path.read_text(encoding="utf-8")
        compact = re.sub(r"\s+", "", text).lower()
        assert "@importurl(http" not in compact, path
        assert "url(http" not in compact and "url('http" not in compact and 'url("http' not in compact, path
        assert not REMOTE_CSS_RE.search(text), path


def test_css_url_references_resolve_locally() -> None:
    url_re = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""")
    for path in sorted(VENDOR_DIR.rglob("*.css")):
        for ref in url_re.findall(path.read_text(encoding="utf-8")):
            if ref.startswith(("data:", "#")):
                continue
            target = (path.parent / ref.split("?")[0].split("#")[0]).resolve()
            assert target.is_file(), f"{path.relative_to(VENDOR_DIR)} -> {ref}"
            assert VENDOR_DIR.resolve() in target.parents


def test_postprocess_strips_remote_css_import() -> None:
    css = (
        b'@charset "UTF-8";\n'
        b"@import url(https://fonts.googleapis.com/css2?family=Inter:wght@300;400&display=swap);\n"
        b"@import 'https://rsms.me/inter/inter.css';\n"
        b"body{color:red;background:url(\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>\")}\n"
    )
    out = vendor.postprocess("x/y.css", css).decode()
    assert "googleapis" not in out and "rsms.me" not in out
    assert out.startswith('@charset "UTF-8";\n') and "body{color:red" in out
    assert vendor.postprocess("x/y.js", css) == css


def test_postprocess_refuses_other_remote_urls() -> None:
    with pytest.raises(vendor.VendorError):
        vendor.postprocess("a.css", b"@font-face{src:url(https://example.com/f.woff2)}")


def _tgz(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "pkg.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"ok"))
    return path


def test_read_tarball_strips_package_folder(tmp_path: Path) -> None:
    files = vendor.read_tarball(_tgz(tmp_path, ["package/package.json", "package/dist/a.js"]))
    assert files == {"package.json": b"ok", "dist/a.js": b"ok"}


@pytest.mark.parametrize("bad", ["package/../../evil.js", "/etc/passwd", "package/a/../../../x"])
def test_read_tarball_refuses_unsafe_members(tmp_path: Path, bad: str) -> None:
    with pytest.raises(vendor.VendorError):
        vendor.read_tarball(_tgz(tmp_path, ["package/package.json", bad]))


def test_check_detects_missing_changed_and_unlisted(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR_DIR, copy)
    (copy / "htmx" / "htmx.min.js").write_text("tampered", encoding="utf-8")
    (copy / "echarts" / "echarts.min.js").unlink()
    (copy / "stray.js").write_text("", encoding="utf-8")
    problems = vendor.check(copy)
    assert any(p.startswith("changed: htmx/htmx.min.js") for p in problems)
    assert any(p.startswith("missing: echarts/echarts.min.js") for p in problems)
    assert "unlisted: stray.js" in problems
    assert vendor.main(["--check", "--vendor-dir", str(copy)]) == 1
    assert vendor.main(["--check"]) == 0
