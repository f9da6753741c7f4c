"""The bot's command menu, registered with the simulated Bot API by python-telegram-bot and read back per
language_code, as the Telegram apps ask for it."""
from __future__ import annotations

import pytest
import telegram
from aiohttp.test_utils import TestServer

from bot.channels.telegram_commands import COMMANDS, set_commands
from bot.channels.telegram_updates import COMMANDS as ANSWERED
from bot.i18n import load_catalogs
from integrations.telegram.simulator import Simulator, make_telegram_app
from tests.conftest import ROOT

TOKEN = "123456:TEST-token"
NAMES = ["start", "menu", "lang", "help", "notify", "stop", "unlink"]


@pytest.fixture
async def bot():
    server = TestServer(make_telegram_app(Simulator(TOKEN)), host="127.0.0.1")
    await server.start_server()
    async with telegram.Bot(TOKEN, base_url=f"http://127.0.0.1:{server.port}/bot") as bot:
        yield bot
    await server.close()


async def test_commands_are_set_in_chinese_and_english_and_the_default_in_the_service_language(bot):
    catalogs = load_catalogs(ROOT / "locale")
    assert await set_commands(bot, catalogs, "zh_Hans") == ["", "zh", "en"]
    zh, en = await bot.get_my_commands(language_code="zh"), await bot.get_my_commands(language_code="en")
    default = await bot.get_my_commands()
    assert [c.command for c in zh] == [c.command for c in en] == [c.command for c in default] == NAMES
    assert dict((c.command, c.description) for c in zh)["menu"] == "主菜单"
    assert dict((c.command, c.description) for c in en)["menu"] == "The main menu"
    assert default == zh
    assert all(z.description != e.description for z, e in zip(zh, en))


def test_every_command_listed_is_one_the_chat_answers():
    assert {name for name, _ in COMMANDS} == ANSWERED
