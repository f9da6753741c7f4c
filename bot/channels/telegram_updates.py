"""Telegram updates converted at the door: a webhook body (or a getUpdates item) parsed with
python-telegram-bot's own `Update.de_json`, then turned into one `telegram_inbox` row. Nothing past this
module sees a PTB type."""
from __future__ import annotations

import json
from datetime import datetime

import telegram

from bot.channels.forms import BadRequest
from bot.models import TelegramInbox
from integrations.telegram import MAX_CALLBACK_DATA, MAX_TEXT

COMMANDS = frozenset({"start", "menu", "lang", "help", "notify", "stop", "unlink"})


def bot_id(token: str) -> str:
    """The bot's id, the token's number part: what a row's `bot` column holds (never the whole token)."""
    return token.split(":", 1)[0]


def parse(body: bytes, bot: telegram.Bot | None) -> telegram.Update:
    """The update a body holds; a 400 with a reason for anything else."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"malformed JSON: {type(exc).__name__}") from None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int) or isinstance(
            data.get("update_id"), bool):
        raise BadRequest("not a Telegram update: an object with an integer update_id is required")
    return from_json(data, bot)


def from_json(data: dict, bot: telegram.Bot | None) -> telegram.Update:
    try:
        update = telegram.Update.de_json(data, bot)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadRequest(f"not a Telegram update: {type(exc).__name__}") from None
    if update is None:
        raise BadRequest("not a Telegram update")
    return update


def to_row(update: telegram.Update, bot: str, now: datetime) -> TelegramInbox:
    """One inbox row: what the user did (`kind`), who they are and where to answer."""
    user, chat = update.effective_user, update.effective_chat
    row = TelegramInbox(bot=bot, update_id=update.update_id, user_id=user.id if user else 0,
                        chat_id=chat.id if chat else (user.id if user else 0), kind="other", received_at=now)
    if (query := update.callback_query) is not None:
        return _press(row, query)
    message = update.message
    if message is None:
        return row
    if message.contact is not None:
        row.kind, row.contact_phone = "contact", message.contact.phone_number[:32]
        row.contact_user_id = message.contact.user_id
    elif message.text:
        row.text = message.text[:MAX_TEXT]
        row.kind = "command" if command(message.text) else "text"
    return row


def _press(row: TelegramInbox, query: telegram.CallbackQuery) -> TelegramInbox:
    row.kind, row.callback_id, row.data = "press", query.id[:64], (query.data or "")[:MAX_CALLBACK_DATA]
    if query.message is not None:
        row.message_id, row.chat_id = query.message.message_id, query.message.chat.id
    return row


def command(text: str) -> str | None:
    """The command a text is ("/Start@shortcode_bot x" → "start"), if it is one of ours."""
    if not text.startswith("/"):
        return None
    name = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""
    return name if name in COMMANDS else None
