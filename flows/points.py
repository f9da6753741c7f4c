"""Points balance: how many, what they are worth (50 points = 1 yuan) and when they expire."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.flow import Flow, Show, View
from bot.text import Day, Money, Number, T

POINTS_PER_YUAN = 50


def cycle_end(today: date) -> date:
    """The points cycle runs December to November: points expire on the 30th of November."""
    return date(today.year + 1 if today.month == 12 else today.year, 11, 30)


def value_of(points: int) -> Money:
    return Money(Decimal(points) / POINTS_PER_YUAN)


def _balance(view: View) -> T:
    points = view.profile.points
    return T("You have {points} points, worth {value}. They expire on {day}.",
             points=Number(points), value=value_of(points), day=Day(cycle_end(view.now.date())))


FLOW = Flow(name="points", start="balance", states={"balance": Show(_balance)})
