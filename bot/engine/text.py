"""Language-neutral text: a message id (the English source string) plus typed parameters.

Flows build `T(...)` values; the renderer translates and formats them for the session's locale,
so one screen can be rendered in every language (which is how `shortcode lint` checks them).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Union


@dataclass(frozen=True)
class Money:
    """An amount in yuan, formatted by babel for the locale (¥1,280.00)."""

    amount: Decimal
    currency: str = "CNY"

    @classmethod
    def from_fen(cls, fen: int) -> "Money":
        return cls(Decimal(fen) / 100)

    @property
    def pattern(self) -> str | None:
        """One style in every language: babel writes CN¥ in English, and "¥10" stood beside "CN¥236.00"."""
        symbol = SYMBOLS.get(self.currency)
        return f"{symbol}#,##0.00" if symbol else None


SYMBOLS = {"CNY": "¥"}  # the sign subscribers see on every price tag, whatever their screen language


@dataclass(frozen=True)
class Number:
    """An integer or decimal formatted with the locale's grouping (12,800)."""

    value: int | Decimal


@dataclass(frozen=True)
class Day:
    """A calendar date in the locale's medium format (Nov 30, 2026 / 2026年11月30日), or a CLDR
    skeleton such as "MMMEd" (Tue, Nov 24 / 11月24日周二)."""

    value: date
    skeleton: str = ""


@dataclass(frozen=True)
class Localized:
    """A name a partner gives in each language (a course, a hospital): no catalog entry needed."""

    en: str
    zh_Hans: str


@dataclass(frozen=True)
class Verbatim:
    """Text shown as it is, never translated (a name, a code the subscriber typed)."""

    value: str


Param = Union[str, int, Money, Number, Day, Verbatim, Localized, "T", datetime]


@dataclass(frozen=True)
class T:
    """A translatable message: `T("You have {points} points.", points=Number(1200))`."""

    msgid: str
    params: tuple[tuple[str, Param], ...] = ()

    def __init__(self, msgid: str, **params: Param) -> None:
        object.__setattr__(self, "msgid", msgid)
        object.__setattr__(self, "params", tuple(sorted(params.items())))
        object.__setattr__(self, "_hash", hash((msgid, self.params)))

    def __hash__(self) -> int:  # computed once: screens are looked up by value on every hop
        return self._hash

