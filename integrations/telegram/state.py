"""What the simulated Telegram holds: users, their private chats with the bot (every message with its
keyboard and edit history), and the updates users' actions create. No I/O: the aiohttp app calls in."""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from integrations.telegram import (CHAT_NOT_FOUND, MAX_TEXT, NOT_MODIFIED, QUERY_TOO_OLD, bad_request, blocked)
from integrations.telegram import markup as mk


class ControlError(Exception):
    """A control-API request that cannot be acted out (no such button, a blocked user typing)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class User:
    id: int
    first_name: str = "Tester"
    last_name: str = ""
    username: str = ""
    language_code: str = ""
    phone_number: str = ""  # what "share my contact" sends

    def as_json(self) -> dict[str, Any]:
        optional = {"last_name": self.last_name, "username": self.username, "language_code": self.language_code}
        return {"id": self.id, "is_bot": False, "first_name": self.first_name,
                **{k: v for k, v in optional.items() if v}}


@dataclass
class Message:
    message_id: int
    sender: str  # "bot" or "user"
    date: int
    text: str = ""
    reply_markup: dict | None = None  # as sent: inline or reply keyboard, remove_keyboard, force_reply
    contact: dict | None = None
    edit_date: int | None = None
    edits: list[dict] = field(default_factory=list)  # earlier versions: text, reply_markup, edit_date


@dataclass
class Chat:
    """A private chat: its id is the user's id, as in Telegram."""

    user: User
    messages: dict[int, Message] = field(default_factory=dict)
    keyboard: dict | None = None  # the reply keyboard the user sees now
    blocked: bool = False
    answers: list[dict] = field(default_factory=list)  # answerCallbackQuery calls about this chat
    ids: Any = field(default_factory=lambda: itertools.count(1))  # user and bot messages share one sequence

    def as_json(self) -> dict[str, Any]:
        user = self.user.as_json()
        return {"id": self.user.id, "type": "private",
                **{k: user[k] for k in ("first_name", "last_name", "username") if k in user}}

    def add(self, sender: str, now: int, **content: Any) -> Message:
        message = Message(next(self.ids), sender, now, **content)
        self.messages[message.message_id] = message
        return message


@dataclass
class Telegram:
    """One bot's world. `emit` receives every update a user's action creates, in update_id order."""

    token: str
    emit: Callable[[dict], None] = lambda update: None
    clock: Callable[[], float] = time.time
    bot_name: str = "Shortcode"
    bot_username: str = "shortcode_bot"
    chats: dict[int, Chat] = field(default_factory=dict)
    commands: dict[str, list[dict]] = field(default_factory=dict)  # by scope and language
    queries: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # id -> chat, message, data (unanswered)

    def __post_init__(self) -> None:
        self.update_ids = itertools.count(1)
        self.query_ids = itertools.count(1)
        head = self.token.split(":")[0]
        self.bot_id = int(head) if head.isdigit() else 1_000_000_001

    def now(self) -> int:
        return int(self.clock())

    def me(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_name, "username": self.bot_username,
                "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False,
                "can_connect_to_business": False, "has_main_web_app": False}

    def bot_user(self) -> dict[str, Any]:
        """The bot as it appears in messages and chat member updates (getMe tells more)."""
        return {k: v for k, v in self.me().items() if k in ("id", "is_bot", "first_name", "username")}

    def message_json(self, chat: Chat, message: Message) -> dict[str, Any]:
        """A message as the Bot API shows it; only an inline keyboard travels with a message."""
        body: dict[str, Any] = {"message_id": message.message_id, "date": message.date, "chat": chat.as_json(),
                                "from": self.bot_user() if message.sender == "bot" else chat.user.as_json()}
        if message.text:
            body["text"] = message.text
        if message.contact:
            body["contact"] = message.contact
        if message.edit_date:
            body["edit_date"] = message.edit_date
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            body["reply_markup"] = message.reply_markup
        return body

    # -- the bot's side (Bot API methods) ---------------------------------------------------------------

    def chat_for_bot(self, chat_id: Any) -> Chat:
        """The chat a method names; the bot reaches only users who started it, and not once they block it."""
        try:
            chat = self.chats.get(int(chat_id))
        except (TypeError, ValueError):
            chat = None
        if chat is None:
            raise bad_request(CHAT_NOT_FOUND)
        if chat.blocked:
            raise blocked()
        return chat

    def send(self, chat_id: Any, text: Any, reply_markup: Any = None) -> dict[str, Any]:
        chat, text, markup = self.chat_for_bot(chat_id), _text(text), mk.check(reply_markup)
        message = chat.add("bot", self.now(), text=text, reply_markup=markup)
        if markup and "keyboard" in markup:
            chat.keyboard = markup
        elif markup and markup.get("remove_keyboard"):
            chat.keyboard = None
        return self.message_json(chat, message)

    def edit(self, chat_id: Any, message_id: Any, text: Any, reply_markup: Any = None) -> dict[str, Any]:
        """Text and inline keyboard replaced in place; an edit without markup drops the keyboard, as in Telegram."""
        chat, text, markup = self.chat_for_bot(chat_id), _text(text), mk.check(reply_markup)
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        message = chat.messages.get(_int(message_id))
        if message is None:
            raise bad_request("message to edit not found")
        if message.sender != "bot" or message.contact:
            raise bad_request("message can't be edited")
        if message.text == text and message.reply_markup == markup:
            raise bad_request(NOT_MODIFIED)
        message.edits.append({"text": message.text, "reply_markup": message.reply_markup,
                              "edit_date": message.edit_date})
        message.text, message.reply_markup, message.edit_date = text, markup, self.now()
        return self.message_json(chat, message)

    def answer(self, query_id: Any, text: Any = None, show_alert: Any = False) -> bool:
        """A callback query is answered once; later answers (or unknown ids) are too old, as in Telegram."""
        found = self.queries.pop(str(query_id), None)
        if found is None:
            raise bad_request(QUERY_TOO_OLD)
        chat_id, message_id, data = found
        self.chats[chat_id].answers.append({"callback_query_id": str(query_id), "message_id": message_id,
                                            "data": data, "text": str(text or ""),
                                            "show_alert": show_alert in (True, "true", "True", "1")})
        return True

    # -- the user's side (control API) ------------------------------------------------------------------

    def user(self, user_id: int, **profile: Any) -> Chat:
        """The user's chat, created on first contact (as pressing Start does); profile fields update it."""
        chat = self.chats.get(user_id)
        if chat is None:
            chat = self.chats[user_id] = Chat(User(user_id))
        for key, value in profile.items():
            if value is not None and hasattr(chat.user, key):
                setattr(chat.user, key, value)
        return chat

    def user_text(self, chat: Chat, text: str) -> dict[str, Any]:
        self._awake(chat)
        return self._user_message(chat, text=text)

    def user_contact(self, chat: Chat, phone: str | None = None, first_name: str | None = None,
                     contact_user_id: int | None = None, plus: bool = False) -> dict[str, Any]:
        """Share a contact: by default the user's own (with their user_id; Telegram's apps send the number
        without its "+"), else someone else's, whose `user_id` differs from the sender's or is absent."""
        self._awake(chat)
        own = phone is None
        number = chat.user.phone_number if own else phone
        if not number:
            raise ControlError(400, "the user has no phone_number of their own: give one, or a contact's")
        contact = {"phone_number": number if plus or not own else number.lstrip("+"),
                   "first_name": first_name or (chat.user.first_name if own else "Contact")}
        owner = chat.user.id if own else contact_user_id
        if owner is not None:
            contact["user_id"] = owner
        if own and chat.user.last_name:
            contact["last_name"] = chat.user.last_name
        return self._user_message(chat, contact=contact)

    def press(self, chat: Chat, label: str | None = None, data: str | None = None,
              message_id: int | None = None) -> dict[str, Any]:
        """Press an inline button (on the given message, else the latest message that has it), else a
        button of the reply keyboard shown now (its text is sent, or the contact for `request_contact`)."""
        self._awake(chat)
        candidates = [chat.messages.get(message_id)] if message_id else reversed(list(chat.messages.values()))
        for message in candidates:
            if message is not None and message.sender == "bot":
                button = mk.pick(mk.inline_buttons(message.reply_markup), label, data)
                if button:
                    return self._callback(chat, message, button)
        button = None if message_id else mk.pick(mk.reply_buttons(chat.keyboard), label, None)
        if button is None:
            where = f"message {message_id}" if message_id else "any message or the reply keyboard"
            raise ControlError(404, f"no such button on {where}")
        if chat.keyboard and chat.keyboard.get("one_time_keyboard"):
            chat.keyboard = None
        if button.get("request_contact"):
            return self.user_contact(chat)
        return self._user_message(chat, text=button["text"])

    def block(self, chat: Chat, blocked: bool) -> dict[str, Any] | None:
        """Block or unblock the bot; the bot hears of it by a `my_chat_member` update."""
        if chat.blocked == blocked:
            return None
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        bot = {"user": self.bot_user()}
        return self._update("my_chat_member", {
            "chat": chat.as_json(), "from": chat.user.as_json(), "date": self.now(),
            "old_chat_member": {**bot, "status": old, **({"until_date": 0} if old == "kicked" else {})},
            "new_chat_member": {**bot, "status": new, **({"until_date": 0} if new == "kicked" else {})}})

    def _awake(self, chat: Chat) -> None:
        if chat.blocked:
            raise ControlError(409, "the user has blocked the bot: unblock it first (as pressing Restart does)")

    def _user_message(self, chat: Chat, **content: Any) -> dict[str, Any]:
        message = chat.add("user", self.now(), **content)
        return self._update("message", self.message_json(chat, message))

    def _callback(self, chat: Chat, message: Message, button: dict) -> dict[str, Any]:
        if "callback_data" not in button:
            raise ControlError(400, "that button opens a link or an app: nothing reaches the bot")
        query_id = f"{self.bot_id}{next(self.query_ids):08d}"
        self.queries[query_id] = (chat.user.id, message.message_id, button["callback_data"])
        return self._update("callback_query", {
            "id": query_id, "from": chat.user.as_json(), "message": self.message_json(chat, message),
            "chat_instance": str(-chat.user.id), "data": button["callback_data"]})

    def _update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self.update_ids), kind: payload}
        self.emit(update)
        return update


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    return text


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request("message to edit not found") from None
