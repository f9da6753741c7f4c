"""The bot's command menu (setMyCommands): the commands the chat answers, described in Chinese for users
whose Telegram speaks Chinese, in English for English, and in [service] language for everyone else."""
from __future__ import annotations

from telegram import Bot, BotCommand

from bot.engine.catalogs import Catalogs
from bot.engine.text import T

# In the order the apps list them; the names are those `telegram_updates.COMMANDS` answers.
COMMANDS = (
    ("start", T("Link this chat to your number, or start again")),
    ("menu", T("The main menu")),
    ("lang", T("Switch language: 中文 or English")),
    ("help", T("How to use this chat")),
    ("notify", T("Booking codes and reminders: here or by SMS")),
    ("stop", T("No more reminders or offers")),
    ("unlink", T("Forget this chat's link to your number")),
)
# Telegram's language_code (ISO 639-1) for each of our catalogs; "" is the list for any other language.
LANGUAGE_CODES = {"zh_Hans": "zh", "en": "en"}


def command_lists(catalogs: Catalogs, default_lang: str) -> dict[str, list[BotCommand]]:
    """The command list per Telegram language_code, "" being the default list."""
    return {code: [BotCommand(name, catalogs.render(lang, text)) for name, text in COMMANDS]
            for code, lang in _codes(default_lang)}


def _codes(default_lang: str) -> list[tuple[str, str]]:
    return [("", default_lang), *((code, lang) for lang, code in LANGUAGE_CODES.items())]


async def set_commands(bot: Bot, catalogs: Catalogs, default_lang: str) -> list[str]:
    """Register every list with Telegram; the language codes set ("" for the default)."""
    lists = command_lists(catalogs, default_lang)
    for code, commands in lists.items():
        await bot.set_my_commands(commands, language_code=code or None)
    return list(lists)
