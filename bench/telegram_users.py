"""Telegram users for the benchmark, acted out on the simulated Bot API's control API, and the simulator's
timeline followed to learn when each update reached our webhook and when each reply was accepted."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

CONCURRENCY = 32  # control-API calls in flight, as the SMS bench injects


@dataclass
class User:
    user_id: int
    phone: str
    presses: bool = False  # presses the main menu's first button, else types its number
    data: str = ""  # that button's callback_data, read once linked


@dataclass
class Followed:
    """What the timeline said so far: first delivery time per update_id, accepted times per chat."""

    seq: int = 0
    delivered: dict[int, float] = field(default_factory=dict)
    accepted: dict[int, list[tuple[int, float]]] = field(default_factory=dict)  # chat -> [(seq, at)]

    def reply_after(self, chat_id: int, seq: int) -> float | None:
        """When the first message to this chat after timeline position `seq` was accepted."""
        return next((at for s, at in self.accepted.get(chat_id, []) if s > seq), None)


class Api:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base
        self.followed = Followed()

    async def act(self, action: str, user: User, **body) -> dict:
        async with self.http.post(f"{self.base}/control/{action}", json={"user_id": user.user_id, **body}) as r:
            answer = await r.json()
            if r.status != 200:
                raise RuntimeError(f"control/{action}: {r.status} {answer}")
            return answer["update"]

    async def faults(self, **changes) -> None:
        async with self.http.post(f"{self.base}/control/faults", json=changes) as r:
            assert r.status == 200, await r.text()

    async def follow(self) -> Followed:
        """Read the timeline past what was read before."""
        f = self.followed
        while True:
            async with self.http.get(f"{self.base}/control/timeline", params={"after": f.seq}) as r:
                line = await r.json()
            for e in line["events"]:
                if e["event"] == "delivery":
                    f.delivered.setdefault(e["update_id"], e["at"])
                else:
                    f.accepted.setdefault(e["chat_id"], []).append((e["seq"], e["at"]))
            if line["next"] == f.seq:
                return f
            f.seq = line["next"]

    async def menu_button(self, user: User) -> str:
        """The callback_data of the first button of the latest menu in this user's chat."""
        async with self.http.get(f"{self.base}/control/chats/{user.user_id}") as r:
            chat = await r.json()
        menus = [m for m in chat["messages"] if m["sender"] == "bot" and (m["reply_markup"] or {}).get("inline_keyboard")]
        return menus[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    async def until(self, done, timeout: float, stall: float = 20.0) -> Followed:
        """Follow the timeline until `done(followed)` or no progress for `stall` seconds (or `timeout`)."""
        deadline, last, seen = time.monotonic() + timeout, time.monotonic(), -1
        while True:
            f = await self.follow()
            if done(f):
                return f
            if f.seq != seen:
                seen, last = f.seq, time.monotonic()
            if time.monotonic() > deadline or time.monotonic() - last > stall:
                return f
            await asyncio.sleep(0.2)


async def gather_limited(calls, limit: int = CONCURRENCY) -> list:
    """Run the coroutines `calls` with at most `limit` in flight, answers in order."""
    sem = asyncio.Semaphore(limit)

    async def one(call):
        async with sem:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


async def link(api: Api, users: list[User], timeout: float = 600) -> None:
    """Each user shares their own number; wait for the confirmation and the main menu in every chat."""
    await _acted(api, users, lambda u: api.act("contact", u, phone_number=u.phone), 2, timeout)
    await _read_buttons(api, users)


async def home(api: Api, users: list[User], timeout: float = 600) -> None:
    """Each (linked) user sends /menu; wait for the main menu in every chat. Cheaper than new users."""
    await _acted(api, users, lambda u: api.act("text", u, text="/menu"), 1, timeout)
    await _read_buttons(api, users)


async def _acted(api: Api, users: list[User], action, replies: int, timeout: float) -> None:
    """Every user acts; wait until `replies` messages were accepted in each chat since."""
    start = (await api.follow()).seq
    await gather_limited(action(u) for u in users)
    f = await api.until(lambda f: all(_count_after(f, u.user_id, start) >= replies for u in users), timeout)
    behind = [u for u in users if _count_after(f, u.user_id, start) < replies]
    if behind:
        raise RuntimeError(f"{len(behind)} of {len(users)} users got no main menu in time")


async def _read_buttons(api: Api, users: list[User]) -> None:
    """The main menu's first button, for the users who will press it."""
    pressing = [u for u in users if u.presses]
    for u, data in zip(pressing, await gather_limited(api.menu_button(u) for u in pressing)):
        u.data = data


def _count_after(f: Followed, chat_id: int, seq: int) -> int:
    return sum(s > seq for s, _ in f.accepted.get(chat_id, []))


async def say(api: Api, user: User) -> int:
    """The user's one action of a run: press the main menu's first button, or type "1" (the same choice);
    returns its update_id."""
    update = await (api.act("press", user, data=user.data) if user.presses else api.act("text", user, text="1"))
    return update["update_id"]
