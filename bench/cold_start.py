"""Cold start of the app: `import crm` + `crm.create_app()` with all installed plugins, in fresh processes."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL = 1.5  # seconds, import crm + create_app()
ROOT = Path(__file__).resolve().parent.parent
MARK = "--crm-bench-start--"

# Runs in a fresh interpreter: times `import crm` and `create_app()` separately, on a throw-away instance folder.
CHILD = f"""
import json, sys, tempfile, time
sys.stderr.write({MARK!r} + "\\n"); sys.stderr.flush()
t0 = time.perf_counter()
import crm
t1 = time.perf_counter()
with tempfile.TemporaryDirectory(prefix="crm-cold-") as d:
    app = crm.create_app({{"TESTING": True, "INSTANCE_PATH": d, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{{d}}/cold.db"}})
    t2 = time.perf_counter()
    print(json.dumps({{"import": t1 - t0, "create_app": t2 - t1, "plugins": sorted(app.extensions["crm"].plugins),
                      "modules": len(sys.modules)}}))
"""


PLUGINS: str | None = None  # --plugins: a CRM_PLUGINS value; default every built-in plugin


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CRM_PLUGINS", None)  # default: every installed plugin
    if PLUGINS is not None:
        env["CRM_PLUGINS"] = PLUGINS
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def run(importtime: bool = False) -> tuple[float, dict, str]:
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", CHILD]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def run_empty() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=ROOT, env=child_env(), check=True)
    return time.perf_counter() - start


def imports_after_mark(stderr: str) -> list[tuple[str, int, int]]:
    """(module, self µs, nesting depth) of every import made after the marker, from -X importtime output."""
    found: list[tuple[str, int, int]] = []
    started = False
    for line in stderr.splitlines():
        if line == MARK:
            started = True
            continue
        if not started or not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _cumulative, name = line[len("import time:") :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        found.append((name.strip(), int(own), depth))
    return found


def fmt(values: list[float]) -> str:
    return f"min {min(values):6.3f} s   median {statistics.median(values):6.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per measurement (default 5)")
    parser.add_argument("--top", type=int, default=10, help="slowest top-level imports to list (default 10)")
    parser.add_argument("--plugins", help="CRM_PLUGINS for the measured app, e.g. tests.plugin_example "
                                          "(default: all built-in plugins)")
    args = parser.parse_args()
    global PLUGINS
    PLUGINS = args.plugins

    walls, imports, creates, totals = [], [], [], []
    info: dict = {}
    for _ in range(args.runs):
        wall, info, _err = run()
        walls.append(wall)
        imports.append(info["import"])
        creates.append(info["create_app"])
        totals.append(info["import"] + info["create_app"])

    # Separately: all module imports of a cold start (`import crm` and what create_app imports lazily).
    import_only: list[float] = []
    by_package: dict[str, list[int]] = {}
    for _ in range(args.runs):
        _wall, _info, err = run(importtime=True)
        modules = imports_after_mark(err)
        import_only.append(sum(us for _, us, _ in modules) / 1e6)
        totals_here: dict[str, int] = {}
        for name, us, _depth in modules:
            root = name.split(".", 1)[0]
            totals_here[root] = totals_here.get(root, 0) + us
        for root, us in totals_here.items():
            by_package.setdefault(root, []).append(us)
    baseline = [run_empty() for _ in range(args.runs)]

    plugins = ", ".join(info["plugins"]) or "none"
    print(
        f"python {sys.version.split()[0]}   runs: {args.runs} fresh processes each   "
        f"plugins installed: {len(info['plugins'])} ({plugins})   modules loaded: {info['modules']}"
    )
    print()
    print(f"import crm                          {fmt(imports)}")
    print(f"crm.create_app(TESTING)             {fmt(creates)}")
    total = statistics.median(totals)
    verdict = "ok" if total < GOAL else "MISSED"
    print(f"import crm + create_app             {fmt(totals)}   goal < {GOAL} s: {verdict}")
    print(f"all module imports (-X importtime)  {fmt(import_only)}")
    print(f"whole process (interpreter + exit)  {fmt(walls)}")
    print(f"  of which `python -c pass`         {fmt(baseline)}")
    print()
    print(f"import time by package (own time of its modules, median; top {args.top}):")
    ranked = sorted(((statistics.median(v), k) for k, v in by_package.items()), reverse=True)[: args.top]
    for us, name in ranked:
        print(f"  {us / 1000:8.1f} ms  {name}")


if __name__ == "__main__":
    main()
