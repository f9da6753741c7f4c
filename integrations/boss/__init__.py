"""The operator's BOSS (billing and points): bill, prepaid balance and the points ledger."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True)
class Account:
    msisdn: str
    points: int
    balance_fen: int
    bill_fen: int


@dataclass(frozen=True)
class Entry:
    """One line of the points ledger: every change of a balance is one, never edited."""

    created_at: datetime
    delta: int
    kind: str  # opening, redeem, payment, refund, transfer_out, transfer_in, expiry
    ref: str


@dataclass(frozen=True)
class Result:
    """The answer to a points or bill operation; the same key always gets the first answer."""

    ok: bool
    reason: str = ""  # insufficient, daily_limit, unknown_recipient, same_recipient, already,
    #                   over_limit (a bill charge past the credit limit), unknown_account
    points_left: int = 0


@dataclass(frozen=True)
class Subscription:
    package: str
    price_fen: int
    points: int
    pay: str  # "bill" or "points"
    until: date
    status: str  # active, cancelled


class Boss(Protocol):
    def account(self, msisdn: str) -> Account | None: ...

    def history(self, msisdn: str, offset: int, limit: int) -> tuple[list[Entry], int]: ...

    def spend_points(self, msisdn: str, points: int, key: str, kind: str, ref: str,
                     topup_fen: int = 0) -> Result: ...

    def refund_points(self, msisdn: str, points: int, key: str, ref: str) -> Result: ...

    def transfer_points(self, sender: str, recipient: str, points: int, key: str, daily_limit: int,
                        since: datetime) -> Result: ...

    def charge_bill(self, msisdn: str, amount_fen: int, key: str, description: str) -> Result: ...

    def refund_bill(self, msisdn: str, amount_fen: int, key: str, description: str) -> Result: ...

    def payment(self, key: str) -> tuple[str, int] | None: ...  # ("points", n) or ("bill", fen) under key

    def subscriptions(self, msisdn: str) -> list[Subscription]: ...

    def subscribe(self, msisdn: str, package: str, price_fen: int, points: int, until: date, key: str) -> Result: ...

    def unsubscribe(self, msisdn: str, package: str) -> Result: ...
