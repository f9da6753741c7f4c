"""Pieces every product shares: confirm/cancel choices and paying by phone bill or points."""
from __future__ import annotations

from bot.flow import Choice, View
from bot.text import Money, Number, T

POINTS_PER_YUAN = 50


def points_for(fen: int) -> int:
    """What an amount costs in points: 50 points = 1 yuan = 100 fen."""
    return fen * POINTS_PER_YUAN // 100


def yes_no(yes: str, no: str = "home"):
    return lambda view: [Choice(T("Confirm"), yes), Choice(T("Cancel"), no)]


def pay_choices(fen: int, goto: str) -> list[Choice]:
    """Bill or points; the price is recorded with the choice, so what is confirmed is what is charged."""
    return [Choice(T("Phone bill {amount}", amount=Money.from_fen(fen)), goto, values=(("pay", "bill"), ("price", fen))),
            Choice(T("Points {points}", points=Number(points_for(fen))), goto,
                   values=(("pay", "points"), ("price", fen)))]


def paid(fen: int, view: View) -> T:
    """How the chosen payment reads on a confirm screen."""
    if view.values["pay"] == "points":
        return T("{points} points", points=Number(points_for(fen)))
    return T("{amount} on your bill", amount=Money.from_fen(fen))
