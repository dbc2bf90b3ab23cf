"""The translation catalogues: complete, current with the sources, placeholders intact, and used by the pages.

Simplified Chinese is what users see by default, so an English string slipping through in zh_CN is a bug.
The catalogue checks read files only; just the rendered-page test needs the app (and so runs per backend).
To fix a failure here: `flask translate update`, translate the new entries, `make translations`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import flask_babel
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from config import Config

PROJECT_DIR = Path(__file__).resolve().parent.parent
TRANSLATIONS_DIR = PROJECT_DIR / "merchant_alliance" / "translations"
SOURCE_LANGUAGE = "en"
# The same keywords as `flask translate update` (merchant_alliance/cli.py): babel's defaults plus _l and N_.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "N_": None}
# A %-placeholder as Python's % operator reads it: %(name)s, %(n)d, %(x).2f …
PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<conv>[a-zA-Z%])")

CATALOGUE_PATHS = sorted(TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po"))


def _locale_of(path: Path) -> str:
    return path.parent.parent.name


@cache
def load_catalogue(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=_locale_of(path))


def _entries(catalogue: Catalog) -> Iterator[Message]:
    return (message for message in catalogue if message.id)


def _msgids(message: Message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _msgstrs(message: Message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _show(message: Message | str) -> str:
    text = _msgids(message)[0] if isinstance(message, Message) else message
    return repr(text if len(text) <= 90 else text[:87] + "...")


@cache
def extracted_messages() -> dict[tuple[str, str | None], tuple[tuple[str, ...], list[str]]]:
    """Every message in the sources, extracted as `flask translate update` does: key → (msgid(s), locations)."""
    with (PROJECT_DIR / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    # A template Jinja cannot parse is silently skipped by default, and its strings silently missing:
    # make it an error instead (babel.cfg declares the Jinja extensions the app uses).
    options_map = {pattern: {**options_map.get(pattern, {}), **({"silent": "false"} if method == "jinja2" else {})}
                   for pattern, method in method_map}
    found: dict[tuple[str, str | None], tuple[tuple[str, ...], list[str]]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(PROJECT_DIR), method_map, options_map, keywords=KEYWORDS):
        msgids = message if isinstance(message, tuple) else (message,)
        if not msgids[0]:
            continue
        entry = found.setdefault((msgids[0], context), (msgids, []))
        entry[1].append(f"{filename}:{lineno}")
    return found


def placeholders(text: str) -> list[str]:
    """The %-placeholders of `text`, sorted (a literal %% is not one)."""
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text) if m.group("conv") != "%")


catalogue_param = pytest.mark.parametrize("po_path", CATALOGUE_PATHS, ids=[_locale_of(p) for p in CATALOGUE_PATHS])


def test_every_configured_language_has_a_catalogue():
    locales = {_locale_of(path) for path in CATALOGUE_PATHS}
    missing = sorted(code for code in Config.LANGUAGES if code != SOURCE_LANGUAGE and code not in locales)
    assert not missing, f"no messages.po for {missing} under {TRANSLATIONS_DIR}"
    assert Config.BABEL_DEFAULT_LOCALE in locales


@catalogue_param
def test_header_is_filled_in_and_not_fuzzy(po_path: Path):
    catalogue = load_catalogue(po_path)
    # pybabel compile skips a catalogue whose header is fuzzy: the whole language would silently vanish.
    assert not catalogue.fuzzy, f"{po_path}: the header is marked fuzzy"
    assert catalogue.project == "merchant-alliance", f"{po_path}: Project-Id-Version is {catalogue.project!r}"
    if _locale_of(po_path).startswith("zh"):
        assert catalogue.num_plurals == 1, f"{po_path}: Chinese has one plural form"


@catalogue_param
def test_every_entry_is_translated_and_checked(po_path: Path):
    catalogue = load_catalogue(po_path)
    untranslated, fuzzy = [], []
    for message in _entries(catalogue):
        strings = _msgstrs(message)
        if message.pluralizable and len(strings) < catalogue.num_plurals or not all(s.strip() for s in strings):
            untranslated.append(_show(message))
        if message.fuzzy:
            fuzzy.append(_show(message))
    assert not untranslated and not fuzzy, "\n  ".join([
        f"{po_path}: {len(untranslated)} untranslated, {len(fuzzy)} fuzzy (not yet checked)",
        *(f"untranslated: {m}" for m in untranslated), *(f"fuzzy: {m}" for m in fuzzy)])


@catalogue_param
def test_translations_keep_every_placeholder(po_path: Path):
    catalogue = load_catalogue(po_path)
    problems = []
    for message in _entries(catalogue):
        msgids = _msgids(message)
        for index, string in enumerate(_msgstrs(message)):
            if not string:
                continue  # reported by the completeness test
            # With one plural form (Chinese) msgstr[0] serves every count, so it follows the plural msgid.
            source = msgids[min(index, len(msgids) - 1)] if len(msgids) > 1 and catalogue.num_plurals > 1 \
                else msgids[-1]
            expected, got = placeholders(source), placeholders(string)
            if expected != got:
                problems.append(f"{_show(message)}: expects {expected}, translation has {got}")
            elif expected and "%" in PLACEHOLDER.sub("", string.replace("%%", "")):
                problems.append(f"{_show(message)}: stray '%' in {string!r} (write %% for a literal percent)")
    # Babel's own checks too (plural forms count, placeholder types).
    for message, errors in catalogue.check():
        problems.extend(f"{_show(message)}: {error}" for error in errors)
    assert not problems, f"placeholders broken in {po_path.name}:\n  " + "\n  ".join(problems)


@catalogue_param
def test_catalogue_has_every_message_in_the_sources(po_path: Path):
    catalogue = load_catalogue(po_path)
    extracted = extracted_messages()
    assert extracted, "no messages extracted from the sources: is babel.cfg right?"
    missing, changed = [], []
    for (msgid, context), (msgids, locations) in sorted(extracted.items()):
        message = catalogue.get(msgid, context=context)
        if message is None:
            missing.append(f"{_show(msgid)}  ({', '.join(locations[:3])})")
        elif _msgids(message) != msgids:
            changed.append(f"{_show(msgid)}: catalogue has {_msgids(message)!r}, sources {msgids!r}")
    assert not missing and not changed, (
        f"{po_path} is out of date with the sources; run `flask translate update` and translate:\n  "
        + "\n  ".join(missing + changed)
    )


def _translation(msgid: str, locale: str = Config.BABEL_DEFAULT_LOCALE) -> str:
    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    message = load_catalogue(path).get(msgid)
    assert message is not None and message.string, f"{msgid!r} has no {locale} translation"
    return message.string


def _get(client, path: str) -> str:
    # The `app` fixture keeps one app context, and so one `g`, open across the test's requests, and
    # Flask-Babel caches the request's locale in `g`; a real request starts afresh, so forget it here.
    flask_babel.refresh()
    return client.get(path).get_data(as_text=True)


def test_pages_are_chinese_by_default_and_english_on_request(client):
    title, forgot = _translation("Log in"), _translation("Forgot your password?")
    assert re.search(r"[\u4e00-\u9fff]", title + forgot), "the zh_CN strings used here are not Chinese"

    page = _get(client, "/login")
    assert '<html lang="zh-CN">' in page
    assert forgot in page and f"<title>{title}" in page, (
        "the login page is not in Chinese by default; are the catalogues compiled (make translations)?"
    )
    assert "Forgot your password?" not in page

    response = client.post("/language", data={"lang": "en", "next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")

    page = _get(client, "/login")
    assert '<html lang="en">' in page
    assert "Forgot your password?" in page and "<title>Log in" in page
    assert forgot not in page

    client.post("/language", data={"lang": "zh_CN", "next": "/login"})
    assert forgot in _get(client, "/login")
