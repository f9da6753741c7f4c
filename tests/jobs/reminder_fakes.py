"""A small BOSS and partners answering the reminders' Protocol methods (the shapes of issue 12's partner
data): the edge of our world, faked so the runs are tested alone."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import insert

from bot.db import make_engine, upgrade
from bot.i18n import load_catalogs
from bot.models import Subscriber, TelegramLink
from flows import FLOWS
from jobs.reminder_kinds import load_kinds
from jobs.reminders import Reminders

ROOT = Path(__file__).resolve().parents[2]
KINDS = load_kinds(ROOT / "menus" / "reminders.toml", FLOWS)
SETUP = Reminders(KINDS, "Asia/Shanghai", "Asia/Shanghai")
CATALOGS = load_catalogs(ROOT / "locale")


@dataclass(frozen=True)
class Bill:
    msisdn: str
    period: str
    amount_fen: int
    due_fen: int
    issued_on: date
    due_on: date


@dataclass(frozen=True)
class LowBalance:
    msisdn: str
    balance_fen: int
    crossed_at: datetime


@dataclass(frozen=True)
class Ending:
    msisdn: str
    package: str
    until: date


@dataclass(frozen=True)
class RoamingEvent:
    id: int
    msisdn: str
    country: str
    at: datetime


@dataclass(frozen=True)
class RoamingTariff:
    country: str
    day_fen: int
    data_mb: int


@dataclass(frozen=True)
class Suspension:
    msisdn: str
    owed_fen: int
    suspend_on: date


@dataclass
class FakeBoss:
    bills: list[Bill] = field(default_factory=list)
    lows: list[LowBalance] = field(default_factory=list)
    endings: list[Ending] = field(default_factory=list)
    expiring: dict[str, int] = field(default_factory=dict)
    born: dict[str, tuple[int, int]] = field(default_factory=dict)
    events: list[RoamingEvent] = field(default_factory=list)
    tariffs: dict[str, RoamingTariff] = field(default_factory=dict)
    suspended: list[Suspension] = field(default_factory=list)
    fold_feb29: bool = False  # answer (2, 28) with Feb 29 birthdays too, whatever the year
    asked: list[tuple] = field(default_factory=list)

    def bills_issued(self, on):
        return iter([b for b in self.bills if b.issued_on == on])

    def bills_due(self, on):
        return iter([b for b in self.bills if b.due_on == on and b.due_fen > 0])

    def low_balances(self, threshold_fen):
        return iter([x for x in self.lows if x.balance_fen < threshold_fen])

    def packages_ending(self, on):
        return iter([e for e in self.endings if e.until == on])

    def points_expiring(self, cycle_end):
        self.asked.append(("points_expiring", cycle_end))
        return iter(list(self.expiring.items()))

    def birthdays(self, month, day):
        wanted = {(month, day), (2, 29)} if self.fold_feb29 and (month, day) == (2, 28) else {(month, day)}
        return iter([m for m, md in self.born.items() if md in wanted])

    def roaming_events(self, after_id, limit):
        return [e for e in self.events if e.id > after_id][:limit]

    def roaming_tariff(self, country):
        return self.tariffs.get(country)

    def suspensions(self, on):
        return iter([s for s in self.suspended if s.suspend_on == on])


def place(id, en, zh):
    return SimpleNamespace(id=id, name_en=en, name_zh=zh)


@dataclass
class FakeHospital:
    booked: list[tuple[str, object]] = field(default_factory=list)

    def hospitals(self):
        return [place(1, "Union Hospital", "协和医院")]

    def departments(self, hospital_id):
        return [place(11, "Cardiology", "心内科")]

    def doctor(self, doctor_id):
        return SimpleNamespace(id=doctor_id, department_id=11, name_en="Dr Li", name_zh="李医生")

    def appointments_on(self, day):
        return iter([(m, a) for m, a in self.booked if a.day == day])


@dataclass
class FakeGolf:
    booked: list[tuple[str, object]] = field(default_factory=list)

    def courses(self):
        return [SimpleNamespace(id=3, name_en="Mission Hills", name_zh="观澜湖")]

    def bookings_on(self, day):
        return iter([(m, b) for m, b in self.booked if b.day == day and b.status == "booked"])


@dataclass
class FakePolice:
    vehicles: list[tuple[str, object]] = field(default_factory=list)

    def inspections_due(self, on):
        return iter([(m, v) for m, v in self.vehicles if v.inspection_due == on])


def services(**parts) -> SimpleNamespace:
    return SimpleNamespace(boss=parts.get("boss", FakeBoss()), golf=parts.get("golf", FakeGolf()),
                           hospital=parts.get("hospital", FakeHospital()), police=parts.get("police", FakePolice()))


def database(url: str, subscribers: list[tuple[str, str, str, str]]):
    """A migrated database with these subscribers: (msisdn, language, timezone, tier)."""
    upgrade(url)
    engine = make_engine(url)
    if subscribers:
        with engine.begin() as conn:
            conn.execute(insert(Subscriber.__table__), [
                {"msisdn": m, "name": f"Sub {m[-4:]}", "language": lang, "timezone": tz, "tier": tier}
                for m, lang, tz, tier in subscribers])
    return engine


def link_telegram(engine, msisdn: str, chat_id: int, notify: bool = True) -> None:
    with engine.begin() as conn:
        conn.execute(insert(TelegramLink.__table__).values(user_id=chat_id, msisdn=msisdn, chat_id=chat_id, active=True,
                                                           notify=notify, linked_at=datetime.now(timezone.utc),
                                                           update_id=1))
