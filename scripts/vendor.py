"""Verify, re-vendor from npm, or diff against npm the front-end files pinned in crm/static/vendor/VENDOR.json."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = REPO_ROOT / "crm" / "static" / "vendor"
MANIFEST_NAME = "VENDOR.json"

# A remote reference in CSS: url(http://..), url("https://..") or protocol-relative url(//..).
REMOTE_URL_RE = re.compile(r"""url\(\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
# A whole @import statement that loads a remote stylesheet (e.g. Google Fonts), with or without url().
REMOTE_IMPORT_RE = re.compile(
    r"""@import\s+(?:url\(\s*(?P<q1>["']?)\s*(?:https?:)?//.*?(?P=q1)\s*\)|(?P<q2>["'])\s*(?:https?:)?//.*?(?P=q2))"""
    r"""[^;]*;[ \t]*\r?\n?""",
    re.IGNORECASE | re.DOTALL,
)

Manifest = list[dict[str, Any]]


class VendorError(Exception):
    """Raised when npm, a tarball or the manifest is not usable."""


def load_manifest(vendor_dir: Path = VENDOR_DIR) -> Manifest:
    """Read VENDOR.json: a list of {name, version, license, files: [{src, dest, sha256}]}."""
    data = json.loads((vendor_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise VendorError(f"{MANIFEST_NAME} must hold a JSON list")
    for pkg in data:
        for entry in pkg["files"]:
            safe_relpath(entry["dest"])
            safe_relpath(entry["src"])
    return data


def dump_manifest(manifest: Manifest) -> str:
    """The canonical text of VENDOR.json: sorted by package name, sorted keys, 2-space indent, trailing newline."""
    ordered = sorted(manifest, key=lambda pkg: pkg["name"])
    return json.dumps(ordered, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def safe_relpath(path: str) -> PurePosixPath:
    """Return path as a relative POSIX path, refusing absolute paths, backslashes and '..'."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or "\\" in path or any(part in ("..", "") for part in p.parts):
        raise VendorError(f"unsafe path: {path!r}")
    return p


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def postprocess(dest: str, data: bytes) -> bytes:
    """Post-process an upstream file before it is vendored; sha256 in VENDOR.json is of the result.

    CSS: remote @import statements (e.g. Google Fonts) are stripped, since the intranet has no internet and
    the CSP blocks them. Any other remote url(...) left in CSS is an error: it must be handled by hand.
    Every other file is copied byte for byte.
    """
    if not dest.endswith(".css"):
        return data
    text = data.decode("utf-8")
    text = REMOTE_IMPORT_RE.sub("", text)
    if REMOTE_URL_RE.search(text):
        raise VendorError(f"{dest}: remote url(...) reference left after post-processing")
    return text.encode("utf-8")


def check(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Compare every vendored file with its sha256 in VENDOR.json; return one line per problem (empty if clean).

    Problems are files that are missing, changed, or present in vendor_dir without being listed.
    """
    problems: list[str] = []
    listed: set[str] = {MANIFEST_NAME}
    for pkg in load_manifest(vendor_dir):
        for entry in pkg["files"]:
            dest = entry["dest"]
            listed.add(dest)
            path = vendor_dir / dest
            if not path.is_file():
                problems.append(f"missing: {dest} ({pkg['name']}@{pkg['version']})")
            elif (actual := sha256_file(path)) != entry["sha256"]:
                problems.append(
                    f"changed: {dest} ({pkg['name']}@{pkg['version']}) sha256 {actual} != {entry['sha256']}"
                )
    for path in sorted(vendor_dir.rglob("*")):
        rel = path.relative_to(vendor_dir).as_posix()
        if path.is_file() and rel not in listed:
            problems.append(f"unlisted: {rel}")
    return problems


def npm_pack(spec: str, workdir: Path) -> Path:
    """Download the npm tarball of spec (name@version) into workdir with the npm client; return its path."""
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("npm not found on PATH")
    proc = subprocess.run(
        [npm, "pack", spec, "--json", "--ignore-scripts", "--pack-destination", str(workdir)],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise VendorError(f"npm pack {spec} failed:\n{proc.stderr.strip()}")
    try:
        info = json.loads(proc.stdout)
        tgz = workdir / info[0]["filename"]
    except (ValueError, LookupError, TypeError) as exc:
        raise VendorError(f"npm pack {spec}: unexpected output {proc.stdout[:200]!r}") from exc
    if not tgz.is_file():
        raise VendorError(f"npm pack {spec}: {tgz} not written")
    return tgz


def read_tarball(tgz: Path) -> dict[str, bytes]:
    """Safely read the regular files of an npm tarball into memory, keyed by path without the top folder.

    Nothing is written to disk. Every member name is validated: absolute paths, '..' and
    backslashes are refused; links, devices and other special members are skipped.
    """
    files: dict[str, bytes] = {}
    with tarfile.open(tgz, mode="r:gz") as tar:
        for member in tar.getmembers():
            parts = safe_relpath(member.name.removeprefix("./")).parts
            if not member.isfile() or len(parts) < 2:
                continue
            rel = "/".join(parts[1:])  # drop the "package/" folder npm puts everything under
            fh = tar.extractfile(member)
            if fh is None:
                continue
            files[rel] = fh.read()
    return files


def fetch_package(pkg: dict[str, Any], workdir: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Pack name@version from npm; return {src: post-processed bytes} for the listed files and package.json."""
    spec = f"{pkg['name']}@{pkg['version']}"
    contents = read_tarball(npm_pack(spec, workdir))
    package_json = json.loads(contents["package.json"])
    if package_json.get("version") != pkg["version"] or package_json.get("name") != pkg["name"]:
        raise VendorError(f"{spec}: tarball is {package_json.get('name')}@{package_json.get('version')}")
    out: dict[str, bytes] = {}
    for entry in pkg["files"]:
        if entry["src"] not in contents:
            raise VendorError(f"{spec}: {entry['src']} not in tarball")
        out[entry["src"]] = postprocess(entry["dest"], contents[entry["src"]])
    return out, package_json


def update(vendor_dir: Path = VENDOR_DIR) -> int:
    """Re-vendor every pinned package from npm and rewrite the sha256s (and licenses) in VENDOR.json."""
    manifest = load_manifest(vendor_dir)
    with tempfile.TemporaryDirectory(prefix="vendor-") as tmp:
        for pkg in manifest:
            workdir = Path(tmp) / re.sub(r"[^A-Za-z0-9_.-]", "_", pkg["name"])
            workdir.mkdir()
            files, package_json = fetch_package(pkg, workdir)
            pkg["license"] = package_json.get("license", pkg.get("license", ""))
            for entry in pkg["files"]:
                data = files[entry["src"]]
                dest = vendor_dir / entry["dest"]
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
                entry["sha256"] = sha256_bytes(data)
                print(f"  {pkg['name']}@{pkg['version']}: {entry['src']} -> {entry['dest']} ({len(data)} bytes)")
    (vendor_dir / MANIFEST_NAME).write_text(dump_manifest(manifest), encoding="utf-8")
    print(f"vendor update: {len(manifest)} packages re-vendored from npm, {MANIFEST_NAME} rewritten")
    return 0


def upstream_check(vendor_dir: Path = VENDOR_DIR) -> int:
    """Pack the pinned versions from npm and report files whose (post-processed) content differs; write nothing."""
    manifest = load_manifest(vendor_dir)
    drift: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vendor-") as tmp:
        for pkg in manifest:
            workdir = Path(tmp) / re.sub(r"[^A-Za-z0-9_.-]", "_", pkg["name"])
            workdir.mkdir()
            files, package_json = fetch_package(pkg, workdir)
            if package_json.get("license") != pkg.get("license"):
                drift.append(f"license: {pkg['name']}@{pkg['version']} is {package_json.get('license')!r} on npm")
            for entry in pkg["files"]:
                upstream = sha256_bytes(files[entry["src"]])
                path = vendor_dir / entry["dest"]
                local = sha256_file(path) if path.is_file() else "(missing)"
                if upstream != entry["sha256"] or upstream != local:
                    drift.append(
                        f"differs: {entry['dest']} ({pkg['name']}@{pkg['version']}:{entry['src']}) "
                        f"npm {upstream}, manifest {entry['sha256']}, on disk {local}"
                    )
    for line in drift:
        print(line)
    nfiles = sum(len(pkg["files"]) for pkg in manifest)
    if drift:
        print(f"vendor upstream-check: {len(drift)} difference(s) against npm", file=sys.stderr)
        return 1
    print(f"vendor upstream-check OK: {len(manifest)} packages, {nfiles} files identical to npm")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_const", const="check", dest="mode", help="verify sha256s offline (default)"
    )
    mode.add_argument(
        "--update", action="store_const", const="update", dest="mode", help="re-vendor pinned versions from npm"
    )
    mode.add_argument(
        "--upstream-check", action="store_const", const="upstream", dest="mode", help="diff vendored files against npm"
    )
    parser.add_argument("--vendor-dir", type=Path, default=VENDOR_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.mode == "update":
            return update(args.vendor_dir)
        if args.mode == "upstream":
            return upstream_check(args.vendor_dir)
        problems = check(args.vendor_dir)
    except VendorError as exc:
        print(f"vendor: {exc}", file=sys.stderr)
        return 2
    for line in problems:
        print(line)
    if problems:
        print(f"vendor check: {len(problems)} problem(s); run scripts/vendor.py --update", file=sys.stderr)
        return 1
    manifest = load_manifest(args.vendor_dir)
    nfiles = sum(len(pkg["files"]) for pkg in manifest)
    print(f"vendor check OK: {len(manifest)} packages, {nfiles} files match {MANIFEST_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
