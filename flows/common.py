"""Pieces every product shares: confirm and cancel choices, the pay screen, and the one way to charge and
refund by phone bill or points, so that no product can take a refused payment for a paid one."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.engine.flow import Choice, Outcome, View
from bot.engine.text import Money, Number, T
from integrations.boss import Result

POINTS_PER_YUAN = 50
METHODS = ("bill", "points")


def points_for(fen: int) -> int:
    """What an amount costs in points: 50 points = 1 yuan = 100 fen."""
    return fen * POINTS_PER_YUAN // 100


# -- choices ------------------------------------------------------------------------------------
def yes_no(yes: str, no: str = "home"):
    return lambda view: [Choice(T("Confirm"), yes), Choice(T("Cancel"), no)]


def cancel_or_keep(yes: str, no: str):
    """A cancel dialog: "Cancel" would be both the action and the way out, so each label says which it is."""
    return lambda view: [Choice(T("Yes, cancel"), yes), Choice(T("No, keep it"), no)]


def held_points(view: View) -> int:
    """The points the subscriber holds, read from the BOSS once per screen."""
    account = view.once("account", lambda: view.services.boss.account(view.profile.msisdn))
    return account.points if account else 0


def pay_choices(view: View, fen: int, goto: str, short: str = "short") -> list[Choice]:
    """Bill or points; the price is recorded with the choice, so what is confirmed is what is charged.
    The points option gives the unit and the balance; one the balance cannot cover says so, and leads
    straight to `short` rather than to a hold and a confirmation that could only be refused."""
    points, held = points_for(fen), held_points(view)
    bill = Choice(T("Phone bill {amount}", amount=Money.from_fen(fen)), goto, values=(("pay", "bill"), ("price", fen)))
    if held < points:
        return [bill, Choice(T("Not enough points: {points} needed, you have {held}", points=Number(points),
                               held=Number(held)), short)]
    return [bill, Choice(T("Points {points} pts (you have {held})", points=Number(points), held=Number(held)),
                         goto, values=(("pay", "points"), ("price", fen)))]


def paid(fen: int, view: View) -> T:
    """How the chosen payment reads on a confirm screen."""
    if view.values["pay"] == "points":
        return T("{points} points", points=Number(points_for(fen)))
    return T("{amount} on your bill", amount=Money.from_fen(fen))


# -- the payment saga ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Payment:
    """What is taken or given back, in the method's own unit: fen on the bill, or points."""

    method: str  # "bill" or "points"
    amount: int

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown payment method {self.method!r}")

    @classmethod
    def of(cls, method: str, fen: int) -> Payment:
        """A price in fen as the chosen method takes it (points at 50 a yuan)."""
        return cls(method, points_for(fen) if method == "points" else fen)

    @property
    def points(self) -> int:
        return self.amount if self.method == "points" else 0


def charge(services: Any, msisdn: str, payment: Payment, key: str, what: str) -> Result:
    """Take a payment, once per key. A refusal (too few points, a declined bill) is a failed Result that
    the caller must route on: `refused` names the outcome to show."""
    if payment.method == "points":
        return services.boss.spend_points(msisdn, payment.amount, key, "payment", what)
    return services.boss.charge_bill(msisdn, payment.amount, key, what)


def refund(services: Any, msisdn: str, payment: Payment, key: str, what: str) -> Result:
    """Give a payment back, once per key; a failed Result means nothing was given back yet."""
    if payment.method == "points":
        return services.boss.refund_points(msisdn, payment.amount, key, what)
    return services.boss.refund_bill(msisdn, payment.amount, key, f"{what} refund")


def paid_under(services: Any, key: str) -> Payment | None:
    """What the BOSS took under a key, in its own unit: what a refund of it must give back."""
    found = services.boss.payment(key)
    return Payment(*found) if found else None


def refused(result: Result) -> Outcome:
    """The outcome a flow shows for a refused charge: "insufficient" points, or the bill "declined"."""
    return Outcome("insufficient" if result.reason == "insufficient" else "declined")


FAILED = Outcome("failed")  # no route: the previous screen again, with an apology; a retry is safe by key
