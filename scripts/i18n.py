"""Extract the UI strings, update and compile the English catalog (`update`), or verify it is complete (`check`)."""

from __future__ import annotations

import argparse
import configparser
import io
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCALE = "en"  # the default locale (zh_Hans_CN) needs no catalog: the msgids are the Chinese text
DOMAIN = "messages"
# The gettext callables used in crm/, plugins/ and the templates (plus Babel's defaults, e.g. ngettext, pgettext).
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "_l": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}
COMMENT_TAGS = ("TRANSLATORS:",)
SKIP_DIRS = {"__pycache__", "node_modules"}
PO_WIDTH = 100
HEADER_COMMENT = (
    "# Translations template for 网点CRM (wangdian-crm).\n"
    "# The msgids are the Simplified Chinese source text.\n"
    "# Regenerate with `python scripts/i18n.py update`; in a .po edit only the msgstr lines.\n"
    "#"
)
# POT-Creation-Date changes on every extraction; it is ignored when deciding whether the template changed.
CREATION_DATE_RE = re.compile(rb'^"POT-Creation-Date: [^"]*"\n', re.MULTILINE)
# One printf-style token: "%%", a named placeholder "%(name)d" or a positional one "%s".
FORMAT_TOKEN_RE = re.compile(
    r"%(?:%|(?:\((?P<name>[^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<conv>[diouxXeEfFgGcrsa]))"
)


def pot_path(root: Path = REPO_ROOT) -> Path:
    return root / "crm" / "translations" / f"{DOMAIN}.pot"


def po_path(root: Path = REPO_ROOT) -> Path:
    return root / "crm" / "translations" / LOCALE / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(root: Path = REPO_ROOT) -> Path:
    return po_path(root).with_suffix(".mo")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _version(root: Path) -> str | None:
    parser = configparser.ConfigParser()
    parser.read(root / "setup.cfg", encoding="utf-8")
    return parser.get("metadata", "version", fallback=None)


def _keep_dir(dirpath: str) -> bool:
    name = os.path.basename(dirpath)
    return not name.startswith(".") and name not in SKIP_DIRS


def extract(root: Path = REPO_ROOT) -> Catalog:
    """Extract every marked string under `root`, following babel.cfg, into a template catalog."""
    with open(root / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, filename=str(root / "babel.cfg"))
    catalog = Catalog(
        project="网点CRM",
        version=_version(root),
        header_comment=HEADER_COMMENT,
        charset="utf-8",
    )
    found = extract_from_dir(
        str(root),
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=COMMENT_TAGS,
        strip_comment_tags=True,
        directory_filter=_keep_dir,
    )
    for filename, lineno, message, comments, context in found:
        catalog.add(message, None, [(filename.replace(os.sep, "/"), lineno)], auto_comments=comments, context=context)
    return catalog


def _render_po(catalog: Catalog, **options: bool) -> bytes:
    for message in catalog:
        # Babel reads a fuzzy entry's "#| msgid" back as a translator comment "| msgid …" that then piles up.
        message.user_comments = [c for c in message.user_comments if not c.startswith("| msgid")]
        if not message.fuzzy:
            message.previous_id = []
    buf = io.BytesIO()
    write_po(buf, catalog, width=PO_WIDTH, include_lineno=False, **options)
    return buf.getvalue()


def _read_po(path: Path, locale: str | None = None) -> Catalog:
    with open(path, "rb") as fh:
        return read_po(fh, locale=locale, domain=DOMAIN)


def compile_mo(po: Path) -> bytes:
    """The .mo bytes that compiling the .po file gives (fuzzy and empty entries are left out)."""
    buf = io.BytesIO()
    write_mo(buf, _read_po(po, LOCALE), use_fuzzy=False)
    return buf.getvalue()


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def _strings(message: Message) -> tuple[str, ...]:
    if isinstance(message.string, (list, tuple)):
        return tuple(message.string)
    return (message.string or "",)


def _label(message: Message) -> str:
    text = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
    return f"{message.context}|{text}" if message.context else text


def _format_problem(message: Message, translation: Message) -> str | None:
    """Why the translation's printf placeholders don't fit the msgid, or None when they do."""
    ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
    wanted_named: set[str] = set()
    wanted_positional: list[str] = []
    for text in ids:
        for token in FORMAT_TOKEN_RE.finditer(text):
            if token["name"] is not None:
                wanted_named.add(f"%({token['name']}){token['conv']}")
            elif token["conv"]:
                wanted_positional.append(token["conv"])
    for string in _strings(translation):
        named = {f"%({t['name']}){t['conv']}" for t in FORMAT_TOKEN_RE.finditer(string) if t["name"] is not None}
        positional = [t["conv"] for t in FORMAT_TOKEN_RE.finditer(string) if t["name"] is None and t["conv"]]
        if FORMAT_TOKEN_RE.sub("", string).count("%"):
            return f"stray '%' in {string!r} (write '%%')"
        if len(ids) == 1 and named != wanted_named:
            return f"placeholders {sorted(named)} != {sorted(wanted_named)}"
        if not named <= wanted_named:
            return f"unknown placeholders {sorted(named - wanted_named)}"
        if len(ids) == 1 and positional != wanted_positional:
            return f"positional placeholders {positional} != {wanted_positional}"
    return None


def catalog_problems(template: Catalog, catalog: Catalog) -> list[str]:
    """One line per template message that the catalog lacks, has fuzzy or empty, or translates with bad placeholders."""
    problems: list[str] = []
    for message in template:
        if not message.id:
            continue
        where = ", ".join(sorted({filename for filename, _ in message.locations}))
        label = f"{_label(message)!r} ({where})"
        translation = catalog.get(message.id, message.context)
        strings = _strings(translation) if translation is not None else ()
        if translation is None:
            problems.append(f"missing: {label}")
        elif translation.pluralizable != message.pluralizable:
            problems.append(f"outdated (plural form changed): {label}")
        elif translation.fuzzy:
            problems.append(f"fuzzy: {label}")
        elif not all(strings) or (message.pluralizable and len(strings) < catalog.num_plurals):
            problems.append(f"empty: {label}")
        elif message.python_format and (why := _format_problem(message, translation)):
            problems.append(f"bad placeholders: {label}: {why}")
    return problems


def update(root: Path = REPO_ROOT) -> list[str]:
    """Extract to messages.pot, merge into the en .po (keeping translations), compile the .mo; say what changed."""
    notes: list[str] = []
    pot, po, mo = pot_path(root), po_path(root), mo_path(root)

    template = extract(root)
    pot_bytes = _render_po(template)
    if not (pot.exists() and CREATION_DATE_RE.sub(b"", pot.read_bytes()) == CREATION_DATE_RE.sub(b"", pot_bytes)):
        _write_if_changed(pot, pot_bytes)
        notes.append(f"wrote {_rel(pot, root)}")
    template = _read_po(pot)  # what is on disk, so an unchanged template keeps its POT-Creation-Date

    if po.exists():
        catalog = _read_po(po, LOCALE)
        # Bring obsolete entries back: if their msgid has returned they are reused as they are, and the rest
        # stay candidates for fuzzy matching before Catalog.update marks them obsolete again.
        for old in list(catalog.obsolete.values()):
            catalog[old.id] = old
        catalog.obsolete.clear()
    else:
        catalog = _read_po(pot, LOCALE)
        catalog.fuzzy = False
        catalog.revision_date = datetime.now(UTC)
        catalog.language_team = "English"
        notes.append(f"created {_rel(po, root)}")
    catalog.update(template)
    if _write_if_changed(po, _render_po(catalog, include_previous=True)):
        notes.append(f"wrote {_rel(po, root)}")

    if _write_if_changed(mo, compile_mo(po)):
        notes.append(f"wrote {_rel(mo, root)}")
    return notes


def check(root: Path = REPO_ROOT) -> list[str]:
    """Every problem with the en catalog against a fresh extraction, and a stale or missing .mo; [] when all is well."""
    return _check(root)[1]


def _check(root: Path) -> tuple[int, list[str]]:
    po, mo = po_path(root), mo_path(root)
    template = extract(root)
    total = sum(1 for message in template if message.id)
    if not po.exists():
        return total, [f"missing: {_rel(po, root)} (run `python scripts/i18n.py update`)"]
    problems = catalog_problems(template, _read_po(po, LOCALE))
    # Compiled bytes are compared rather than mtimes: git does not keep mtimes, so a fresh clone's .mo may look
    # older than its .po while being exactly what compiling gives.
    if not mo.exists():
        problems.append(f"missing: {_rel(mo, root)} (run `python scripts/i18n.py update`)")
    elif mo.read_bytes() != compile_mo(po):
        problems.append(
            f"stale: {_rel(mo, root)} differs from compiling {_rel(po, root)} (run `python scripts/i18n.py update`)"
        )
    return total, problems


def _print(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["update", "check"])
    args = parser.parse_args(argv)
    if args.command == "update":
        _print(update(REPO_ROOT))
        template = _read_po(pot_path(REPO_ROOT))
        problems = catalog_problems(template, _read_po(po_path(REPO_ROOT), LOCALE))
        total = sum(1 for message in template if message.id)
        _print(problems)
        print(f"{total} messages; {len(problems)} need translating in {_rel(po_path(REPO_ROOT), REPO_ROOT)}")
        return 0
    total, problems = _check(REPO_ROOT)
    if problems:
        _print(problems)
        print(f"{len(problems)} problem(s) with the {LOCALE} catalog ({total} messages)", file=sys.stderr)
        return 1
    print(
        f"OK: all {total} messages translated in {_rel(po_path(REPO_ROOT), REPO_ROOT)}, and {_rel(mo_path(REPO_ROOT), REPO_ROOT)} is current"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
