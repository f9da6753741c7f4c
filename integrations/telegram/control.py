"""The simulator's control API (JSON, not part of the Bot API): act as a user (type, press a button, share
a contact, block the bot), read a chat's transcript, the stats and the timeline, and set faults."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Awaitable, Callable

from aiohttp import web

from integrations.telegram.simulator import SIMULATOR, Simulator
from integrations.telegram.state import Chat, ControlError

PROFILE = ("first_name", "last_name", "username", "language_code", "phone_number")
Action = Callable[[Simulator, Chat, dict], Any]


def _acting(action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A user's action: `user_id` names the user (created on first use, as pressing Start does), profile
    fields update them; the answer is the update the action created."""
    async def handler(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            user_id = int(body["user_id"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "a JSON object with an integer user_id is required")
        sim = request.app[SIMULATOR]
        chat = sim.telegram.user(user_id, **{k: body.get(k) for k in PROFILE})
        try:
            return web.json_response({"update": action(sim, chat, body)})
        except ControlError as exc:
            return _error(exc.status, str(exc))
        except KeyError as exc:
            return _error(400, f"{exc.args[0]} is required")
    return handler


def _text(sim: Simulator, chat: Chat, body: dict) -> dict:
    return sim.telegram.user_text(chat, str(body["text"]))


def _press(sim: Simulator, chat: Chat, body: dict) -> dict:
    label, data = body.get("label"), body.get("data")
    if label is None and data is None:
        raise ControlError(400, "label or data is required")
    message_id = body.get("message_id")
    return sim.telegram.press(chat, label, data, int(message_id) if message_id else None)


def _contact(sim: Simulator, chat: Chat, body: dict) -> dict:
    """Own number by default; `contact` ({phone_number, first_name, user_id?}) shares someone else's."""
    other = body.get("contact")
    if other is None:
        return sim.telegram.user_contact(chat, plus=bool(body.get("plus")))
    return sim.telegram.user_contact(chat, str(other["phone_number"]), other.get("first_name"),
                                     other.get("user_id"), plus=True)


def _block(sim: Simulator, chat: Chat, body: dict) -> dict | None:
    return sim.telegram.block(chat, True)


def _unblock(sim: Simulator, chat: Chat, body: dict) -> dict | None:
    return sim.telegram.block(chat, False)


async def chat(request: web.Request) -> web.Response:
    """A chat's transcript: every message (the bot's with its keyboard and edit history) and the answers
    the bot gave to button presses."""
    sim = request.app[SIMULATOR]
    found = sim.telegram.chats.get(int(request.match_info["chat_id"]))
    if found is None:
        return _error(404, "no such chat: a user starts one by acting")
    return web.json_response({"chat": found.as_json(), "blocked": found.blocked, "keyboard": found.keyboard,
                              "messages": [asdict(m) for m in found.messages.values()], "answers": found.answers})


async def chats(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    return web.json_response([{"id": c.user.id, "blocked": c.blocked, "messages": len(c.messages)}
                              for c in sim.telegram.chats.values()])


async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATOR].stats())


async def timeline(request: web.Request) -> web.Response:
    """`?after=SEQ&limit=N`: each update's first POST to the webhook ("delivery") and each message Telegram
    accepted ("accepted", with its chat and message id), with wall-clock times; `next` is the `after` to
    ask with next time."""
    try:
        after, limit = int(request.query.get("after", 0)), int(request.query.get("limit", 10_000))
    except ValueError:
        return _error(400, "after and limit are integers")
    line = request.app[SIMULATOR].timeline
    events = line.after(after, limit)
    return web.json_response({"events": events, "next": events[-1]["seq"] if events else max(after, 0)})


async def faults(request: web.Request) -> web.Response:
    """GET shows the faults; POST changes the keys it names (`flood` partly) and shows the result."""
    limits = request.app[SIMULATOR].limits
    if request.method == "POST":
        try:
            limits.set(await request.json())
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))
    return web.json_response(asdict(limits.faults))


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def add_routes(router: web.UrlDispatcher) -> None:
    for name, action in {"text": _text, "press": _press, "contact": _contact, "block": _block,
                         "unblock": _unblock}.items():
        router.add_post(f"/control/{name}", _acting(action))
    router.add_get("/control/chats", chats)
    router.add_get("/control/chats/{chat_id:-?\\d+}", chat)
    router.add_get("/control/stats", stats)
    router.add_get("/control/timeline", timeline)
    router.add_route("*", "/control/faults", faults)
