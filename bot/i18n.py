"""Gettext catalogs and babel formatting: turn a `T` into text in one locale."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime
from pathlib import Path
from typing import Iterator

from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

from bot.text import Day, Localized, Money, Number, T, Verbatim

LANGUAGES = ("zh_Hans", "en")
DOMAIN = "messages"


@dataclass(frozen=True)
class Catalogs:
    """Loaded translations per language; immutable once built, so rendering stays pure."""

    translations: dict[str, NullTranslations]

    def gettext(self, lang: str, msgid: str) -> str:
        tr = self.translations.get(lang)
        return tr.gettext(msgid) if tr else msgid

    def render(self, lang: str, text: T | str) -> str:
        """Translate a message and format its parameters for the locale."""
        if isinstance(text, str):
            return text
        template = self.gettext(lang, text.msgid)
        if not text.params:
            return template
        values = {k: self.format(lang, v) for k, v in text.params}
        return template.format_map(values)

    def format(self, lang: str, value: object) -> str:
        if isinstance(value, T):
            return self.render(lang, value)
        if isinstance(value, (Money, Number, Day)):
            return _formatted(lang, value)
        if isinstance(value, Localized):
            return value.zh_Hans if lang == "zh_Hans" else value.en
        if isinstance(value, datetime):
            return format_datetime(value, "short", tzinfo=value.tzinfo, locale=lang)
        if isinstance(value, Verbatim):
            return value.value
        return str(value)


@lru_cache(maxsize=4096)
def _formatted(lang: str, value: Money | Number | Day) -> str:
    """Babel parses its patterns on every call (~2 ms for a date skeleton); the same value in the same
    locale always gives the same text, so it is formatted once."""
    if isinstance(value, Money):
        if value.pattern:
            return format_decimal(value.amount, value.pattern, locale=lang)
        return format_currency(value.amount, value.currency, locale=lang)
    if isinstance(value, Number):
        return format_decimal(value.value, locale=lang)
    if value.skeleton:
        return format_skeleton(value.skeleton, value.value, locale=lang)
    return format_date(value.value, "medium", locale=lang)


def _mo_path(locale_dir: Path, lang: str) -> Path:
    return locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def compile_catalogs(locale_dir: Path) -> list[Path]:
    """Compile every .po whose .mo is missing or older (what `pybabel compile` does)."""
    done = []
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f)
        with mo.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=True)
        done.append(mo)
    return done


def load_catalogs(locale_dir: Path) -> Catalogs:
    """Load the compiled catalogs, compiling them first when the .mo files are stale or missing."""
    try:
        compile_catalogs(locale_dir)
    except OSError:  # a read-only install: the image compiled them at build time
        pass
    loaded: dict[str, NullTranslations] = {}
    for lang in LANGUAGES:
        mo = _mo_path(locale_dir, lang)
        loaded[lang] = Translations.load(str(locale_dir), [lang], DOMAIN) if mo.exists() else NullTranslations()
    return Catalogs(loaded)


def extract_toml(fileobj, keywords, comment_tags, options) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor for menus/*.toml: every `title` and `label` value is a message id."""
    import tomllib

    data = tomllib.loads(fileobj.read().decode("utf-8"))
    for menu in data.get("menu", {}).values():
        yield 0, "", menu["title"], []
        for item in menu.get("items", []):
            yield 0, "", item["label"], []
