"""Golf tee sheets: courses, tee times every 8 minutes from 06:30 to 16:00, one group of up to 4 a time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterator, Protocol

FIRST_SLOT = 6 * 60 + 30  # minutes after midnight
LAST_SLOT = 16 * 60
SLOT_MINUTES = 8
SLOTS = tuple(range(FIRST_SLOT, LAST_SLOT + 1, SLOT_MINUTES))
MAX_PLAYERS = 4
DAYS_AHEAD = 14


@dataclass(frozen=True)
class Course:
    id: int
    name_en: str
    name_zh: str
    weekday_fee_fen: int  # green fee per player
    weekend_fee_fen: int

    def fee_fen(self, day: date) -> int:
        return self.weekend_fee_fen if day.weekday() >= 5 else self.weekday_fee_fen


@dataclass(frozen=True)
class Booking:
    code: str
    course_id: int
    day: date
    slot: int
    players: int
    amount_fen: int
    points: int
    pay: str  # "bill" or "points"
    status: str  # held, booked, cancelled, expired


@dataclass(frozen=True)
class HoldResult:
    ok: bool
    reason: str = ""  # taken


class TeeSheets(Protocol):
    def courses(self) -> list[Course]: ...

    def free_slots(self, course_id: int, day: date, now: datetime) -> list[int]: ...

    def hold(self, course_id: int, day: date, slot: int, msisdn: str, players: int, key: str,
             until: datetime) -> HoldResult: ...

    def confirm(self, key: str, amount_fen: int, points: int, pay: str, now: datetime) -> Booking | None: ...

    def release(self, key: str, final: bool = False) -> None: ...

    def stale_holds(self, before: datetime) -> list[tuple[str, str]]: ...  # (key, msisdn) of holds lapsed before

    def bookings(self, msisdn: str, since: date) -> list[Booking]: ...

    def booking(self, code: str, msisdn: str) -> Booking | None: ...

    def cancel(self, code: str, msisdn: str) -> Booking | None: ...

    def bookings_on(self, day: date) -> Iterator[tuple[str, Booking]]: ...  # (msisdn, booked), for reminders


def hhmm(slot: int) -> str:
    return f"{slot // 60:02d}:{slot % 60:02d}"
