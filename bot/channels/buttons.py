"""Telegram buttons carry a press as `callback_data` (at most 64 bytes): the input it stands for and the
session hop the menu was drawn at. A press whose hop is not the session's current one was made on an older
message: it is answered "this menu has expired" and never applied to the current screen."""
from __future__ import annotations

from dataclasses import dataclass

PREFIX = "p1"  # the format's version: a press in another format (an older release) is expired too
MAX_BYTES = 64  # Telegram's limit on callback_data


@dataclass(frozen=True)
class Press:
    hop: int  # Session.hops when the menu was drawn
    input: str  # what typing would have sent: "3", "0", "00", "98", "99"


def encode(hop: int, text: str) -> str:
    data = f"{PREFIX}:{hop}:{text}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback_data over {MAX_BYTES} bytes")
    return data


def decode(data: str) -> Press | None:
    """The press a button's data stands for; None for anything we did not write (never applied)."""
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isdigit() or not parts[2]:
        return None
    if not (parts[2].isascii() and parts[2].isdigit() and len(parts[2]) <= 4):
        return None
    return Press(int(parts[1]), parts[2])
