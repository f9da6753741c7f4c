"""The Bot API methods Shortcode uses, one function each: parameters in (form values are text, objects
are JSON inside them, as python-telegram-bot sends them), Telegram's result out, or an `ApiError`."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlparse

from integrations.telegram import bad_request
from integrations.telegram.delivery import Webhook

if TYPE_CHECKING:
    from integrations.telegram.simulator import Simulator

Params = dict[str, Any]
COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def get_me(sim: Simulator, p: Params) -> dict:
    return sim.telegram.me()


def send_message(sim: Simulator, p: Params) -> dict:
    return sim.telegram.send(p.get("chat_id"), p.get("text"), _json(p, "reply_markup"))


def edit_message_text(sim: Simulator, p: Params) -> dict:
    if "inline_message_id" in p:
        raise bad_request("the simulator keeps no inline messages")
    return sim.telegram.edit(p.get("chat_id"), p.get("message_id"), p.get("text"), _json(p, "reply_markup"))


def answer_callback_query(sim: Simulator, p: Params) -> bool:
    text = p.get("text")
    if text is not None and len(str(text)) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    return sim.telegram.answer(p.get("callback_query_id"), text, p.get("show_alert", False))


def set_my_commands(sim: Simulator, p: Params) -> bool:
    commands = _json(p, "commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for entry in commands:
        if not isinstance(entry, dict) or not COMMAND.match(str(entry.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(entry.get("description", ""))) <= 256:
            raise bad_request("command description must be non-empty")
    sim.telegram.commands[_scope(p)] = commands
    return True


def get_my_commands(sim: Simulator, p: Params) -> list:
    return sim.telegram.commands.get(_scope(p), [])


def set_webhook(sim: Simulator, p: Params) -> bool:
    url = str(p.get("url", ""))
    if not url:
        return delete_webhook(sim, p)
    if urlparse(url).scheme not in ("http", "https"):  # Telegram wants https; loopback tests use http
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = str(p.get("secret_token") or "")
    if secret and not SECRET_TOKEN.match(secret):
        raise bad_request("secret token contains unallowed characters")
    connections = _int(p, "max_connections", 40)
    if not 1 <= connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    if _bool(p, "drop_pending_updates"):
        sim.updates.forget()
    sim.updates.set_allowed(_json(p, "allowed_updates"))
    sim.updates.set_webhook(Webhook(url, secret, connections))
    return True


def delete_webhook(sim: Simulator, p: Params) -> bool:
    if _bool(p, "drop_pending_updates"):
        sim.updates.forget()
    sim.updates.set_webhook(None)
    return True


def get_webhook_info(sim: Simulator, p: Params) -> dict:
    webhook = sim.updates.webhook
    info = webhook.info() if webhook else {"url": "", "has_custom_certificate": False}
    return {**info, "pending_update_count": len(sim.updates.pending),
            "allowed_updates": sorted(sim.updates.allowed)}


async def get_updates(sim: Simulator, p: Params) -> list:
    limit = _int(p, "limit", 100)
    offset = _int(p, "offset", 0)
    sim.updates.set_allowed(_json(p, "allowed_updates"))
    try:
        timeout = max(0.0, float(p.get("timeout") or 0))
    except (TypeError, ValueError):
        raise bad_request("invalid timeout specified") from None
    return await sim.updates.get(offset, max(1, min(100, limit)), timeout)


# Method names are case-insensitive in the Bot API.
METHODS: dict[str, Callable[..., Any]] = {
    "getme": get_me, "sendmessage": send_message, "editmessagetext": edit_message_text,
    "answercallbackquery": answer_callback_query, "setmycommands": set_my_commands,
    "getmycommands": get_my_commands, "setwebhook": set_webhook, "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info, "getupdates": get_updates,
}


def _json(p: Params, name: str) -> Any:
    value = p.get(name)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        what = "reply keyboard markup" if name == "reply_markup" else name
        raise bad_request(f"can't parse {what} JSON object") from None


def _int(p: Params, name: str, default: int) -> int:
    value = p.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def _bool(p: Params, name: str) -> bool:
    return p.get(name) in (True, "true", "True", "1", 1)


def _scope(p: Params) -> str:
    scope = _json(p, "scope") or {"type": "default"}
    return f"{scope.get('type', 'default')}|{p.get('language_code') or ''}"
