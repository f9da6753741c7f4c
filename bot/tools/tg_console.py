"""`shortcode sim --telegram`: a Telegram chat with the bot in a terminal, for testers, in process like the
USSD phone. Each message is shown with its buttons as `[1] Golf  [2] Points  [0] Back  [00] Home  [98 ▶]`;
typing a button's number presses it, anything else is typed into the chat."""
from __future__ import annotations

import asyncio
from typing import Callable

from bot.channels.telegram_links import lookup
from bot.channels.telegram_outbound import TelegramOutbound
from bot.dispatcher import Dispatcher
from bot.msisdn import BadNumber, normalise
from bot.tools.tg_client import Answer, TelegramUser, option, update_ids
from bot.tools.tg_compare import view
from bot.wiring import Core, telegram_chat

HELP = ("Type a button's number to press it, or any text; /menu /lang /help /notify /stop /unlink /start go to the bot. "
        "Simulator commands: /as NUMBER (share that number's contact: links this chat to it), /quit")
TESTER = 7000000001  # the tester's Telegram user id: one user, linked to whichever number /as shares
UNANSWERED = ("(no answer yet: the bot could not answer now, a partner may be down; `shortcode serve` retries it "
              "and apologises after 10 minutes)")


class TelegramConsole:
    def __init__(self, core: Core, dispatcher: Dispatcher, region: str = "CN",
                 out: Callable[[str], None] = print) -> None:
        db = dispatcher.subscribers.engine
        chat = telegram_chat(core, dispatcher, db, TelegramOutbound(), dispatcher.store.redis, dispatcher.clock)
        self.user = TelegramUser(chat, db, TESTER, dispatcher.clock, update_ids(db), delivered=True,
                                 unanswered=self._unanswered)
        self.region = region
        self.out = out
        self.msisdn = ""  # the number this chat is linked to, as the bot's table says

    @property
    def prompt(self) -> str:
        return f"telegram {self.msisdn or '(not linked)'} > "

    async def start(self, msisdn: str) -> None:
        """Begin linked to `msisdn`, as a tester who shared their number."""
        await self._share(msisdn)
        await self._linked()

    async def line(self, text: str) -> bool:
        """Handle one typed line; False when the tester quits."""
        text = text.strip()
        if text in ("/quit", "/exit"):
            return False
        if text.startswith("/as"):
            try:
                await self._share(normalise(text[3:].strip(), self.region))
            except BadNumber as exc:
                self.out(f"/as {text[3:].strip()}: {exc}")
        elif text:
            await self._say(text)
            if text == "/help":
                self.out(HELP)
        await self._linked()
        return True

    async def _linked(self) -> None:
        found = await asyncio.to_thread(lookup, self.user.db, TESTER)
        self.msisdn = found.msisdn if found else ""

    async def _say(self, text: str) -> None:
        button = option(self.user.last, text) if self.user.last and text.isdigit() else None
        self._show(await (self.user.press(button) if button else self.user.type(text)))

    async def _share(self, msisdn: str) -> None:
        self.out(f"sharing the contact {msisdn}")
        self._show(await self.user.share(msisdn))

    async def _unanswered(self, inbox_id: int) -> None:
        self.out(UNANSWERED)

    def _show(self, answer: Answer) -> None:
        if answer.notice:
            self.out(f"({answer.notice})")
        for message in answer.messages:
            self.out(f"{'-' * 20}\n{view(message)}")
