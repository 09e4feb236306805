"""What every browser test shares: Debian's Chromium, the page watcher that fails a test on a JavaScript error, a
console error (CSP violations among them) or a request leaving 127.0.0.1 (no CDN). The live server and the browser
themselves are the `live_url` and `browser` fixtures of tests/conftest.py."""

from __future__ import annotations

from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


class Watched:
    """A page (its own browser context) that records JS errors, console errors and off-site requests; `close()`
    asserts there were none. Chromium logs every 4xx answer as a console error; those are expected (a refused
    action), so they are not problems."""

    def __init__(self, browser, base: str, **context: object):
        self.base = base
        options = {"locale": "zh-CN", "viewport": {"width": 1280, "height": 900}, **context}
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"js error: {e}"))
        self.page.on("console", lambda m: self.problems.append(f"console: {m.text}")
                     if m.type == "error" and "status of 4" not in m.text else None)
        self.page.on("request", lambda r: self.problems.append(f"off-site: {r.url}")
                     if not r.url.startswith(base) and not r.url.startswith("data:") else None)

    def login(self, login: str, password: str = PASSWORD) -> None:
        self.page.goto(self.base + "/login")
        self.page.fill("input[name=login]", login)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def close(self) -> None:
        self.context.close()
        assert self.problems == []
