"""The operator's BOSS (billing and points): bill, prepaid balance and the points ledger, and what the
care reminders read from it (bill cycles, balance crossings, birthdays, the roaming feed, arrears)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterator, NamedTuple, Protocol, Sequence


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
    kind: str  # opening, redeem, payment, refund, transfer_out, transfer_in, expiry, award
    ref: str


@dataclass(frozen=True)
class Result:
    """The answer to a points or bill operation; the same key always gets the first answer."""

    ok: bool
    reason: str = ""  # insufficient, daily_limit, unknown_recipient, same_recipient, already (for an award:
    #                   ok, credited earlier under this key),
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


@dataclass(frozen=True)
class Bill:
    """A monthly statement: `period` is the month it covers ("2026-11"), issued on the 1st of the next
    month and due on the 15th (the simulated cycle; a real BOSS says its own dates)."""

    msisdn: str
    period: str
    amount_fen: int  # the bill
    due_fen: int  # still unpaid
    issued_on: date
    due_on: date


@dataclass(frozen=True)
class LowBalance:
    msisdn: str
    balance_fen: int
    crossed_at: datetime  # when the balance last went from >= threshold to < threshold: one reminder per crossing


@dataclass(frozen=True)
class Ending:
    """A service package that ends (the simulated BOSS has no discounts yet)."""

    msisdn: str
    package: str  # the package key as flows/packages.py knows it
    until: date


@dataclass(frozen=True)
class RoamingEvent:
    id: int
    msisdn: str
    country: str  # ISO 3166 alpha-2, "JP"
    at: datetime


@dataclass(frozen=True)
class RoamingTariff:
    country: str
    day_fen: int  # the daily roaming package price
    data_mb: int


@dataclass(frozen=True)
class Suspension:
    msisdn: str
    owed_fen: int  # every unpaid bill due by the one that triggers it
    suspend_on: date


class Usage(NamedTuple):
    """A subscriber's usage in one month, as the BOSS's monthly summary holds it (a tuple: millions are read)."""

    month: str  # "2026-11"
    arpu_fen: int
    voice_min: int
    data_mb: int
    sms: int
    topup_fen: int
    active_days: int
    calls: int
    offnet_calls: int  # calls to other operators' numbers
    complaints: int
    arrears_days: int
    tenure_months: int


class UnknownAccount(LookupError):
    """A number the BOSS has no account for (the simulation's injections refuse it)."""


class Boss(Protocol):
    def account(self, msisdn: str) -> Account | None: ...

    def history(self, msisdn: str, offset: int, limit: int) -> tuple[list[Entry], int]: ...

    def spend_points(self, msisdn: str, points: int, key: str, kind: str, ref: str,
                     topup_fen: int = 0) -> Result: ...

    def refund_points(self, msisdn: str, points: int, key: str, ref: str) -> Result: ...

    def award_points(self, msisdn: str, points: int, key: str, ref: str) -> Result:
        """Credit bonus points (a campaign's offer) once per key: the first call answers ok, every later one
        ok with reason "already" and nothing credited; "unknown_account" credits nothing."""

    def awarded(self, key_prefix: str) -> int:
        """How many offers were taken under keys starting with `key_prefix` ("cmp:7:"): points credited by
        `award_points` and packages paid by `subscribe`, each key once (a campaign report's "accepted")."""

    def transfer_points(self, sender: str, recipient: str, points: int, key: str, daily_limit: int,
                        since: datetime) -> Result: ...

    def charge_bill(self, msisdn: str, amount_fen: int, key: str, description: str) -> Result: ...

    def refund_bill(self, msisdn: str, amount_fen: int, key: str, description: str) -> Result: ...

    def payment(self, key: str) -> tuple[str, int] | None: ...  # ("points", n) or ("bill", fen) under key

    def subscriptions(self, msisdn: str) -> list[Subscription]: ...

    def subscribe(self, msisdn: str, package: str, price_fen: int, points: int, until: date, key: str) -> Result: ...

    def renew(self, msisdn: str, package: str, price_fen: int, points: int, until: date, key: str) -> Result:
        """Pay and move an active package's end to `until`; once per key. "already" when it already ends
        then or later (renewed by another key), "lapsed" when it is no longer active."""

    def unsubscribe(self, msisdn: str, package: str) -> Result: ...

    # -- what the care reminders read; the many-row ones are read in keyset pages, never as one list --
    def bills_issued(self, on: date) -> Iterator[Bill]: ...  # bills issued that day

    def bills_due(self, on: date) -> Iterator[Bill]: ...  # bills with due_on == on and due_fen > 0

    def low_balances(self, threshold_fen: int) -> Iterator[LowBalance]: ...  # prepaid balance < threshold now

    def packages_ending(self, on: date) -> Iterator[Ending]: ...  # active subscriptions whose until == on

    def points_expiring(self, cycle_end: date) -> Iterator[tuple[str, int]]: ...  # (msisdn, points lapsing) > 0

    def birthdays(self, month: int, day: int, year: int | None = None) -> Iterator[str]: ...
    # msisdns born that day; (2, 28) in a common `year` also yields Feb 29 birthdays. The caller decides the
    # year (the birthday's date in the subscriber's zone); without one, the year of the BOSS's own clock.

    def roaming_events(self, after_id: int, limit: int) -> list[RoamingEvent]: ...  # the feed, oldest first

    def roaming_tariff(self, country: str) -> RoamingTariff | None: ...

    def suspensions(self, on: date) -> Iterator[Suspension]: ...  # lines to be suspended for arrears on `on`

    def usage(self, months: Sequence[str]) -> Iterator[list[tuple[str, list[Usage]]]]: ...
    # pages of (msisdn, its usage in `months`, oldest first), in msisdn order; a subscriber is never split
    # across pages; one without usage in any of the months is not in them

    def usage_rows(self, months: Sequence[str], lo: str = "",
                   hi: str | None = None) -> Iterator[list[list[tuple]]]: ...
    # the same, leaner, for the subscribers with lo <= msisdn < hi (None: no upper bound): pages of
    # subscribers, each a list of plain tuples laid out as `Usage` with the msisdn after them, oldest first

    # -- the simulation's injections (a real BOSS feeds these from usage, top-ups and the network) --
    def set_balance(self, msisdn: str, balance_fen: int, at: datetime) -> None: ...  # records crossings

    def record_roaming(self, msisdn: str, country: str, at: datetime) -> int: ...  # a feed event; its id
