"""The Bot API calls of one telegram_outbox row through python-telegram-bot, and what its errors mean for
the row: flood (wait `retry_after`), blocked (never again), refused (a request Telegram will never take),
or worth a retry (timeouts, 5xx, network)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from jobs.telegram import NOT_MODIFIED, markup_of

EDIT_REFUSED = ("message to edit not found", "message can't be edited")


async def deliver(bot: Any, row: Any) -> int | None:
    """Answer the press (if any), then edit the pressed message or send a new one; the message id."""
    if row.callback_id:
        await _answer(bot, row.callback_id, row.notice)
    if not row.text:
        return None
    markup = markup_of(row.markup)
    if row.edit_message_id is not None:
        try:
            message = await bot.edit_message_text(row.text, chat_id=row.chat_id, message_id=row.edit_message_id,
                                                  reply_markup=markup)
            return message.message_id if hasattr(message, "message_id") else row.edit_message_id
        except BadRequest as exc:
            reason = exc.message.lower()  # PTB capitalises Telegram's description
            if NOT_MODIFIED in reason:  # the screen already shows this: done
                return row.edit_message_id
            if not any(m in reason for m in EDIT_REFUSED):
                raise
            # the message is gone or too old to edit: the answer comes as a new message instead
    message = await bot.send_message(row.chat_id, row.text, reply_markup=markup)
    return message.message_id


async def _answer(bot: Any, callback_id: str, notice: str) -> None:
    """A press is answered once; a second answer (a retried row) is "query is too old", which is fine."""
    try:
        await bot.answer_callback_query(callback_id, text=notice or None)
    except BadRequest:
        pass


def classify(exc: Exception) -> str:
    if isinstance(exc, RetryAfter):
        return "flood"
    if isinstance(exc, Forbidden):
        return "blocked"
    if isinstance(exc, BadRequest) or isinstance(exc, ValueError):
        return "refused"
    if isinstance(exc, TelegramError):
        return "retry"
    return "unexpected"


def retry_after(exc: RetryAfter) -> float:
    """Seconds to wait: PTB 22 gives an int or a timedelta."""
    wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
