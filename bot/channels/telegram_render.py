"""STAND-IN (tg-in's branch): the Telegram renderer's agreed signature, drawing text only. tg-out's version
(inline keyboards with `buttons.encode`) replaces this file at merge."""
from __future__ import annotations

from dataclasses import dataclass

from bot.dispatcher import Reply
from bot.engine.catalogs import Catalogs


@dataclass(frozen=True)
class Drawn:
    text: str
    markup: str  # reply_markup as Bot API JSON, "" for none


def draw(reply: Reply, hop: int, catalogs: Catalogs) -> Drawn:
    """The reply as one Telegram message; `hop` is what its buttons will carry (unused by the stand-in)."""
    return Drawn(reply.text, "")
