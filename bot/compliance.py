"""Compliance words, checked before any flow: STOP opts out of reminders and marketing, START opts back
in, HELP answers. Pure: the SMS channel records the choice and sends the confirmation."""
from __future__ import annotations

import unicodedata
from typing import Literal

Word = Literal["stop", "start", "help"]

WORDS: dict[str, Word] = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "QUIT", "END", "TD", "退订", "退定"), "stop"),
    **dict.fromkeys(("START", "UNSTOP", "SUBSCRIBE", "订阅"), "start"),
    **dict.fromkeys(("HELP", "INFO", "帮助"), "help"),
}
_TRAILING = ".!。！"


def compact(text: str) -> str:
    """Width-, case- and space-insensitive form: "Ｓ t o p！" → "STOP" (NFKC folds full-width letters)."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(folded.split()).rstrip(_TRAILING)


def classify(text: str) -> Word | None:
    """The compliance word a whole message is, if it is one; "stop by later" is not."""
    return WORDS.get(compact(text))
