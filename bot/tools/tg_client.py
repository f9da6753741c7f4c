"""A Telegram user simulated in process, for testers: what they do becomes a Bot API update, parsed by the
webhook's own code into the inbox and answered by the Telegram chat; the answers are read back from the
outbox as the app would show them (a new message, or the pressed one edited in place)."""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Iterator

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot.channels.buttons import decode
from bot.channels.telegram_chat import TelegramChat
from bot.channels.telegram_inbox import next_offset, store
from bot.channels.telegram_updates import from_json, to_row
from jobs.tables import TelegramOutbox

TO = TelegramOutbox.__table__
BOT = "sim"  # the `bot` column of what the simulator stores: never a real bot's update ids
NAVIGATION = ("0", "00", "98", "99")  # Back, Home, ◀ Next page ▶ Previous page, as typed on USSD


@dataclass(frozen=True)
class Button:
    label: str
    typed: str  # the input a press stands for ("3", "00"): what its callback_data carries
    data: str


@dataclass
class Message:
    """A message in the chat as the user sees it."""

    id: int
    text: str
    markup: dict = field(default_factory=dict)

    @property
    def buttons(self) -> list[Button]:
        """A menu's buttons stand for what typing would send; any other (/notify's choice) is pressed by its
        place in the message, 1 first."""
        found = [b for row in self.markup.get("inline_keyboard", []) for b in row]
        return [Button(b["text"], press.input if (press := decode(b["callback_data"])) else str(place),
                       b["callback_data"]) for place, b in enumerate(found, 1)]

    @property
    def asks_contact(self) -> bool:
        return any(b.get("request_contact") for row in self.markup.get("keyboard", []) for b in row)


def option(message: Message, typed: str) -> Button | None:
    """The button a typed number presses: an option labelled "3. ...", or a navigation button for
    0/00/98/99; None when the message has no such button."""
    for button in message.buttons:
        if typed in NAVIGATION and button.typed == typed and not re.match(r"\d+\. ", button.label):
            return button
        if typed not in NAVIGATION and button.label.startswith(f"{typed}. "):
            return button
        if decode(button.data) is None and button.typed == typed:  # a button that is no menu's option
            return button
    return None


@dataclass
class Answer:
    """What one update brought: the messages shown (new or edited) and a press's notice, if any."""

    messages: list[Message]
    notice: str = ""


class TelegramUser:
    """One Telegram user in a private chat with the bot (chat id = user id)."""

    def __init__(self, chat: TelegramChat, db: Engine, user_id: int, clock: Callable[[], datetime],
                 updates: Iterator[int], delivered: bool = False,
                 unanswered: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.chat = chat
        self.db = db
        self.user_id = user_id
        self.clock = clock
        self.updates = updates  # update ids, shared by every user of one bot
        self.delivered = delivered  # mark the rows shown as sent: no worker sends them to a real chat
        self.unanswered = unanswered  # what happens to an update the chat will try again later (a partner down)
        self.messages: dict[int, Message] = {}
        self.last: Message | None = None  # the message the user looks at: the latest shown
        self.menu: Message | None = None  # the latest menu as it was drawn (a later edit may replace it)
        self._seen = _top(db)
        self._next_message = 1000
        self._queries = 0

    async def type(self, text: str) -> Answer:
        return await self._deliver({"message": self._message(text=text)})

    async def press(self, button: Button) -> Answer:
        self._queries += 1
        shown = self.last.id if self.last else 0
        query = {"id": f"sim-{self.user_id}-{self._queries}", "from": self._who(), "chat_instance": "sim",
                 "data": button.data, "message": {**self._message(text="menu"), "message_id": shown}}
        return await self._deliver({"callback_query": query})

    async def share(self, msisdn: str) -> Answer:
        """Share one's own number, as the contact button does."""
        contact = {"phone_number": msisdn.lstrip("+"), "first_name": "Tester", "user_id": self.user_id}
        return await self._deliver({"message": self._message(contact=contact)})

    def _who(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": "Tester"}

    def _message(self, **content: Any) -> dict[str, Any]:
        return {"message_id": 1, "date": int(self.clock().timestamp()), "from": self._who(),
                "chat": {"id": self.user_id, "type": "private"}, **content}

    async def _deliver(self, body: dict[str, Any]) -> Answer:
        """Store the update as the webhook does, answer it as the webhook's processing does, show the answer."""
        now = self.clock().astimezone(timezone.utc)  # as the webhook stamps it (SQLite keeps no offset)
        row = to_row(from_json({"update_id": next(self.updates), **body}, None), BOT, now)
        inbox_id = await asyncio.to_thread(store, self.db, row)
        if inbox_id is not None and not await self.chat.process(inbox_id) and self.unanswered:
            await self.unanswered(inbox_id)
        return await asyncio.to_thread(self._receive)

    def _receive(self) -> Answer:
        with self.db.begin() as conn:
            rows = conn.execute(select(TO).where(TO.c.chat_id == self.user_id, TO.c.id > self._seen)
                                .order_by(TO.c.id)).all()
            if rows and self.delivered:
                conn.execute(update(TO).where(TO.c.id.in_([r.id for r in rows]), TO.c.status == "pending")
                             .values(status="sent", error="shown in shortcode sim"))
        self._seen = max([self._seen] + [r.id for r in rows])
        answer = Answer([])
        for row in rows:
            answer.notice = answer.notice or row.notice
            if row.text:
                answer.messages.append(self._show(row))
        return answer

    def _show(self, row: Any) -> Message:
        markup = json.loads(row.markup) if row.markup else {}
        if row.edit_message_id in self.messages:
            message = self.messages[row.edit_message_id]
            message.text, message.markup = row.text, markup
        else:
            self._next_message += 1
            message = self.messages[self._next_message] = Message(self._next_message, row.text, markup)
        self.last = message
        if message.buttons:
            self.menu = Message(message.id, message.text, markup)
        return message


def user_id(msisdn: str) -> int:
    """A Telegram user id for a subscriber's simulated chat: the number's digits (one user per number)."""
    return int(msisdn.lstrip("+"))


def update_ids(db: Engine) -> Iterator[int]:
    """Update ids after the highest the simulator stored in this database."""
    start = next_offset(db, BOT)
    return iter(range(start, start + 10**9))


def _top(db: Engine) -> int:
    with db.connect() as conn:
        return conn.execute(select(TO.c.id).order_by(TO.c.id.desc()).limit(1)).scalar() or 0
