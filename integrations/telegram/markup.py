"""Reply markup as Telegram checks it: inline keyboards (callback buttons), reply keyboards (with
`request_contact` buttons), `remove_keyboard` and `force_reply`; and finding the button a user presses."""
from __future__ import annotations

from typing import Any

from integrations.telegram import MAX_CALLBACK_DATA, bad_request

INLINE_ACTIONS = ("callback_data", "url", "switch_inline_query", "switch_inline_query_current_chat", "pay",
                  "copy_text", "web_app", "login_url", "callback_game", "switch_inline_query_chosen_chat")


def check(markup: Any) -> dict | None:
    """The markup a method was given, checked; raises a Bad Request the way Telegram words it."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return {**markup, "inline_keyboard": [[_inline(b) for b in row] for row in _rows(markup["inline_keyboard"])]}
    if "keyboard" in markup:
        return {**markup, "keyboard": [[_reply(b) for b in row] for row in _rows(markup["keyboard"])]}
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _rows(rows: Any) -> list[list]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return rows


def _inline(button: Any) -> dict:
    if not isinstance(button, dict) or not str(button.get("text", "")).strip():
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    actions = [a for a in INLINE_ACTIONS if a in button]
    if len(actions) != 1:
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = str(button["callback_data"]).encode()
        if not 1 <= len(data) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    return button


def _reply(button: Any) -> dict:
    button = {"text": button} if isinstance(button, str) else button
    if not isinstance(button, dict) or not str(button.get("text", "")).strip():
        raise bad_request("can't parse keyboard button: text is empty")
    return button


def inline_buttons(markup: dict | None) -> list[dict]:
    return [b for row in (markup or {}).get("inline_keyboard", []) for b in row]


def reply_buttons(markup: dict | None) -> list[dict]:
    return [b for row in (markup or {}).get("keyboard", []) for b in row]


def pick(buttons: list[dict], label: str | None, data: str | None) -> dict | None:
    """The button a user means: by its label, or by its callback_data."""
    for button in buttons:
        if (label is not None and button.get("text") == label) or \
                (data is not None and button.get("callback_data") == data):
            return button
    return None
