"""Translations loaded into memory: turn a `T` into text in one locale with gettext and babel. Pure once
built (`bot.i18n` loads and compiles the files)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from babel.dates import format_date, format_datetime, format_skeleton
from babel import Locale
from babel.numbers import NumberPattern, format_currency, format_decimal, parse_pattern
from babel.support import NullTranslations

from bot.engine.text import Day, Localized, Money, Number, T, Verbatim


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


@lru_cache(maxsize=64)
def _parsed(lang: str, pattern: str) -> tuple[Locale, NumberPattern]:
    """`format_decimal` parses the locale and the pattern on every call: a million reminders, each with its
    own amount, miss the cache below, so the parsing is what is kept (~30 µs a call down to ~6)."""
    return Locale.parse(lang), parse_pattern(pattern)


@lru_cache(maxsize=4096)
def _formatted(lang: str, value: Money | Number | Day) -> str:
    """Babel parses its patterns on every call (~2 ms for a date skeleton); the same value in the same
    locale always gives the same text, so it is formatted once."""
    if isinstance(value, Money):
        if value.pattern:
            locale, pattern = _parsed(lang, value.pattern)
            return pattern.apply(value.amount, locale)
        return format_currency(value.amount, value.currency, locale=lang)
    if isinstance(value, Number):
        return format_decimal(value.value, locale=lang)
    if value.skeleton:
        return format_skeleton(value.skeleton, value.value, locale=lang)
    return format_date(value.value, "medium", locale=lang)
