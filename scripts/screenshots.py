"""Log in to a running 网点CRM and save screenshots of pages (headless Debian Chromium, no download)."""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--login", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", default="screens")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="switch the UI language after login")
    parser.add_argument("paths", nargs="+", help="paths to capture, e.g. / /users")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": 900}, locale="zh-CN")
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.on("request", lambda r: problems.append(f"off-site request: {r.url}")
                if not r.url.startswith(args.base) and not r.url.startswith("data:") else None)
        page.goto(args.base + "/login")
        page.screenshot(path=str(out / f"{args.prefix}login.png"), full_page=True)
        page.fill("input[name=login]", args.login)
        page.fill("input[name=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        if args.lang == "en":
            page.click("[aria-label='用户菜单']")
            page.click("button:has-text('English')")
            page.wait_for_load_state("networkidle")
        for path in args.paths:
            page.goto(args.base + path)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)
            name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "-") or "dashboard"
            page.screenshot(path=str(out / f"{args.prefix}{name}.png"), full_page=True)
        browser.close()
    for line in problems:
        print(line)
    print(f"saved {len(args.paths) + 1} screenshots to {out}/; {len(problems)} problem(s)")


if __name__ == "__main__":
    main()
