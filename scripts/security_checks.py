"""Static security checks (issue 8, promise 12): bandit over crm/ and plugins/, then `pip-audit --strict`.

    python scripts/security_checks.py                # both checks
    python scripts/security_checks.py --no-audit     # bandit only (pip-audit reported as "not run")

bandit runs with the project's `.bandit` (INI). A medium or high finding counts as reviewed only when its line carries
`# nosec B###  # reason`; every other medium/high finding is "not reviewed" and makes the exit code 1.

pip-audit needs a vulnerability service: PyPI's per-release JSON API (`/pypi/<name>/<version>/json`) or osv.dev.
Where neither answers (a machine that only reaches a package mirror), pip-audit is reported as
"pip-audit: not run — <reason>", never as passed. `--strict` makes a package that could not be audited an error
instead of a silent skip, so "no known vulnerabilities" means every dependency was looked up.

Exit codes: 0 = no unreviewed medium/high bandit finding; 1 = at least one, or a file bandit could not parse (or,
with --fail-on-vulnerabilities, a known vulnerability found by pip-audit); 2 = bandit itself could not run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess  # nosec B404  # fixed argv: this interpreter with -m bandit / -m pip_audit, no shell
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BANDIT_INI = REPO_ROOT / ".bandit"
BLOCKING = ("MEDIUM", "HIGH")
AUDIT_SERVICES = ("pypi", "osv")  # pip-audit's two vulnerability sources, tried in this order
AUDIT_TIMEOUT = 900  # seconds for one whole pip-audit run (it looks every installed package up)


@dataclass
class BanditSummary:
    unreviewed: list[dict[str, Any]]  # medium/high results without a nosec
    reviewed: int  # results suppressed by a `# nosec` comment
    low: int  # low-severity results (informational, reviewed by hand, not blocking)
    files: int
    errors: list[dict[str, Any]] = field(default_factory=list)

    def line(self) -> str:
        return (f"bandit: {len(self.unreviewed)} medium/high findings not reviewed "
                f"({self.reviewed} reviewed with # nosec)")


@dataclass
class AuditOutcome:
    ran: bool  # False: "not run" (never green)
    vulnerabilities: list[tuple[str, str, str]]  # (package, version, advisory id)
    packages: int
    reason: str = ""  # why it did not run
    service: str = ""

    def line(self) -> str:
        if not self.ran:
            return f"pip-audit: not run — {self.reason}"
        if not self.vulnerabilities:
            return f"pip-audit: no known vulnerabilities in {self.packages} packages (service: {self.service})"
        return (f"pip-audit: {len(self.vulnerabilities)} known vulnerabilities in {self.packages} packages "
                f"(service: {self.service})")


def bandit_command(ini: Path = BANDIT_INI) -> list[str]:
    """The bandit call used by this script and by tests/security/test_static_checks.py (run from REPO_ROOT)."""
    return [sys.executable, "-m", "bandit", "--ini", str(ini), "-q", "-f", "json"]


def summarise_bandit(report: dict[str, Any]) -> BanditSummary:
    """Medium/high results left in bandit's JSON are unreviewed: a `# nosec` removes a result from `results` and
    counts it in the totals (`nosec` for a bare nosec, `skipped_tests` for `# nosec B###`)."""
    results = report.get("results", [])
    totals = report.get("metrics", {}).get("_totals", {})
    unreviewed = [r for r in results if r.get("issue_severity") in BLOCKING]
    low = sum(1 for r in results if r.get("issue_severity") not in BLOCKING)
    reviewed = int(totals.get("nosec", 0)) + int(totals.get("skipped_tests", 0))
    files = len([name for name in report.get("metrics", {}) if name != "_totals"])
    return BanditSummary(unreviewed, reviewed, low, files, list(report.get("errors", [])))


def run_bandit(root: Path = REPO_ROOT) -> BanditSummary:
    """Run bandit with the project's .bandit; raises RuntimeError when it produced no JSON report."""
    proc = subprocess.run(bandit_command(root / ".bandit"), cwd=root, capture_output=True, text=True,  # nosec B603
                          check=False, timeout=600)  # (argv fixed above, no shell)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError("bandit produced no JSON report: " + " | ".join(tail)) from None
    return summarise_bandit(report)


_HOST = re.compile(r"host='([^']+)'")


def audit_outcome(returncode: int, stdout: str, stderr: str, service: str) -> AuditOutcome:
    """Interpret one `pip-audit --strict -f json` run. A JSON report means the service answered for every
    package (strict mode fails before reporting otherwise); anything else is "not run" with the first reason."""
    try:
        report = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        report = None
    if isinstance(report, dict) and "dependencies" in report:
        deps = report["dependencies"]
        vulns = [(d.get("name", "?"), d.get("version", "?"), v.get("id", "?"))
                 for d in deps for v in d.get("vulns", [])]
        return AuditOutcome(True, vulns, len(deps), service=service)
    text = stderr or stdout
    if "Dependency not found on PyPI" in text:
        first = next(line for line in text.splitlines() if "Dependency not found on PyPI" in line)
        package = first.split("audited:")[-1].strip() if "audited:" in first else first.strip()
        reason = (f"{service}: the index answers no per-release JSON (/pypi/<name>/<version>/json), "
                  f"e.g. for {package}")
    elif "NameResolutionError" in text or "ConnectionError" in text or "Max retries exceeded" in text:
        host = _HOST.search(text)
        reason = f"{service}: vulnerability service unreachable ({host.group(1) if host else 'no connection'})"
    elif "Timeout" in text or "timed out" in text:
        reason = f"{service}: vulnerability service timed out"
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = f"{service}: pip-audit exited {returncode}" + (f" ({lines[-1][:200]})" if lines else "")
    return AuditOutcome(False, [], 0, reason=reason, service=service)


def run_pip_audit(services: tuple[str, ...] = AUDIT_SERVICES) -> AuditOutcome:
    """`pip-audit --strict` over this environment (the editable project itself skipped: it is not on PyPI),
    trying each vulnerability service until one answers."""
    if importlib.util.find_spec("pip_audit") is None:
        return AuditOutcome(False, [], 0, reason="pip-audit is not installed (pip install pip-audit)")
    reasons = []
    for service in services:
        cmd = [sys.executable, "-m", "pip_audit", "--strict", "--skip-editable", "--progress-spinner", "off",
               "-f", "json", "-s", service, "--timeout", "15"]
        try:
            proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True,  # nosec B603
                                  check=False, timeout=AUDIT_TIMEOUT)  # (argv fixed above, no shell)
        except subprocess.TimeoutExpired:
            reasons.append(f"{service}: no answer within {AUDIT_TIMEOUT} s")
            continue
        outcome = audit_outcome(proc.returncode, proc.stdout, proc.stderr, service)
        if outcome.ran:
            return outcome
        reasons.append(outcome.reason)
    return AuditOutcome(False, [], 0, reason="; ".join(reasons))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--no-audit", action="store_true", help="skip pip-audit (reported as not run)")
    parser.add_argument("--fail-on-vulnerabilities", action="store_true",
                        help="exit 1 also when pip-audit finds a known vulnerability")
    args = parser.parse_args(argv)

    try:
        bandit = run_bandit()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"bandit: not run — {exc}")
        return 2
    for r in bandit.unreviewed:
        print(f"  {r['issue_severity']:<6} {r['test_id']} {r['filename']}:{r['line_number']}  {r['issue_text']}")
    for err in bandit.errors:
        print(f"  bandit error: {err.get('filename')}: {err.get('reason')}")
    print(bandit.line() + f"; {bandit.low} low-severity findings (informational)")

    audit = (AuditOutcome(False, [], 0, reason="skipped (--no-audit)") if args.no_audit else run_pip_audit())
    for name, version, advisory in audit.vulnerabilities:
        print(f"  {name} {version}: {advisory}")
    print(audit.line())

    if bandit.unreviewed or bandit.errors:
        return 1
    if args.fail_on_vulnerabilities and audit.vulnerabilities:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
