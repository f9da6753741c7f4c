"""The Telegram doors of the privacy check (tests/privacy.py): where a user's texts, names, username,
shared number and user id enter or leave this process, so that every test's are looked for in logs and
RQ records, not only the privacy tests' canary. The doors: the webhook's body (even one refused with a
400), the poller's updates, `TelegramOutbound.write`, the sender's Bot API calls, and the simulated
Telegram's own updates and requests (a test may drive it alone)."""
from __future__ import annotations

import json
from typing import Any, Callable

from tests.privacy import remember, remember_name, remember_phone, remember_user

USER_KEYS = frozenset({"user_id", "chat_id"})
NAME_KEYS = frozenset({"first_name", "last_name", "username"})
BODY_KEYS = frozenset({"text", "caption", "notice"})


def note_update(value: Any) -> None:
    """Remember what an update (or a Bot API request's parameters) says about its user: the ids of users
    and private chats, names, shared numbers and texts. The bot's own user is no one's data."""
    if isinstance(value, list):
        for item in value:
            note_update(item)
        return
    if not isinstance(value, dict) or value.get("is_bot") is True:
        return
    if "first_name" in value or value.get("type") == "private":
        remember_user(value.get("id"))
    for key, item in value.items():
        if key in USER_KEYS:
            remember_user(item)
        elif key == "phone_number":
            remember_phone(item)
        elif key in NAME_KEYS:
            remember_name(item)
        elif key in BODY_KEYS and isinstance(item, str):
            remember(item)
        else:
            note_update(item)


def note_body(body: bytes) -> None:
    """A webhook body as received: its update's data, or the whole text when it is not JSON."""
    try:
        note_update(json.loads(body))
    except (UnicodeDecodeError, ValueError):
        remember(body.decode("utf-8", "replace"))


def note_row(row: Any) -> None:
    """A telegram_outbox row (or what `TelegramOutbound.write` is given): its chat and its texts."""
    remember_user(row.get("chat_id"))
    for text in (row.get("text"), row.get("notice")):
        if isinstance(text, str):
            remember(text)


def record_telegram() -> None:
    from bot.channels import telegram, telegram_poll
    from bot.channels.telegram_outbound import TelegramOutbound
    from integrations.telegram.simulator import Simulator
    from integrations.telegram.state import Telegram
    from jobs import telegram_calls

    telegram.parse = _noting(telegram.parse, lambda body, *_: note_body(body))
    telegram_poll.to_row = _noting(telegram_poll.to_row, lambda update, *_: note_update(update.to_dict()))
    TelegramOutbound.write = staticmethod(_noting(TelegramOutbound.write, _written))
    telegram_calls.deliver = _noting(telegram_calls.deliver, lambda bot, row: note_row(getattr(row, "_mapping", {})))
    Telegram._update = _noting(Telegram._update, lambda sim, kind, payload: note_update(payload))
    Simulator.call = _noting(Simulator.call, lambda sim, token, name, params: note_update(params))


def _written(conn, chat_id, msisdn, drawn, *_, notice: str = "", **__) -> None:
    note_row({"chat_id": chat_id, "text": drawn.text if drawn else "", "notice": notice})


def _noting(function: Callable[..., Any], note: Callable[..., None]) -> Callable[..., Any]:
    """`function`, noting its arguments first (a coroutine function stays one: its call is returned)."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        note(*args, **kwargs)
        return function(*args, **kwargs)
    return wrapper
