"""The words the console shows from data are all marked for translation and translated into Chinese: a kind
added to menus/reminders.toml without its name here would reach a Chinese page in English."""
from __future__ import annotations

from pathlib import Path

from bot.console import words
from bot.i18n import load_catalogs
from flows import FLOWS
from jobs.reminder_kinds import kinds_path, load_kinds

ROOT = Path(__file__).resolve().parents[3]


def test_every_reminder_kind_has_a_console_name():
    assert set(words.KINDS) == set(load_kinds(kinds_path(ROOT / "menus"), FLOWS))


def test_every_word_is_translated_into_chinese():
    catalogs = load_catalogs(ROOT / "locale")
    lists = (words.ROLES, words.CHANNELS, words.TIERS, words.ZONES, words.STATES, words.KINDS)
    untranslated = [w for group in lists for w in group if catalogs.gettext("zh_Hans", w) == w]
    assert not untranslated
