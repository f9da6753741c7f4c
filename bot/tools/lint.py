"""`shortcode lint`: render every screen of every flow in every locale and report overflows."""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import insert

from bot.engine import engine as eng
from bot.db import make_engine, upgrade
from bot.engine.engine import Context, Engine
from bot.channels.conversation import UNKNOWN, UNKNOWN_NO_GOLF
from bot.engine.flow import Act, Profile, Route, Screen
from bot.i18n import LANGUAGES
from bot.engine.render import Renderer
from bot.tools.seed import SHOWCASE, seed_demo
from integrations.services import Services, simulated
from bot.engine.session import Session
from bot.engine.text import T
from integrations.gsm import char_units
from integrations.boss.tables import BossAccount, BossSubscription, PointsEntry
from integrations.golf.tables import TeeBooking
from integrations.police.tables import PoliceBinding, PoliceViolation

NOW = datetime(2026, 12, 31, 15, 59, tzinfo=timezone.utc)  # widest dates of the cycle
WIDEST = "+8613899999999"

# The showcase subscriber, and one with the widest figures a screen may have to hold.
PROFILES = (Profile(*SHOWCASE), Profile(WIDEST, "Alexandria", "diamond", "en", "Asia/Shanghai"))
NOTICES = {"sms": (UNKNOWN, UNKNOWN_NO_GOLF), "telegram": (UNKNOWN, UNKNOWN_NO_GOLF)}  # lines a channel puts on top of the main menu


@dataclass(frozen=True)
class Overflow:
    channel: str
    flow: str
    state: str
    lang: str
    page: int
    units: int
    budget: int
    text: str

    def __str__(self) -> str:
        return (f"{self.channel}: flow '{self.flow}' state '{self.state}' locale {self.lang} page {self.page + 1}:"
                f" {self.units} units > {self.budget}\n{self.text}")


@contextmanager
def demo_services() -> Iterator[Services]:
    """Simulated partners on a scratch database: the showcase subscriber and the widest one."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'lint.db'}"
        upgrade(url)
        db = make_engine(url)
        seed_demo(db, 1)
        with db.begin() as conn:
            conn.execute(insert(BossAccount.__table__).values(msisdn=WIDEST, points=9_999_999,
                                                              balance_fen=99_999_999, bill_fen=99_999_999))
            conn.execute(insert(TeeBooking.__table__), [
                dict(code=code, idem_key=code, course_id=3, day=NOW.date(), slot=958 - 8 * i, msisdn=WIDEST,
                     players=4, amount_fen=99_999_999, points=9_999_999, pay="points", status="booked",
                     hold_until=NOW, created_at=NOW) for i, code in enumerate(("GABCDEF9", "GABCDEF8", "GABCDEF7"))])
            conn.execute(insert(PoliceBinding.__table__).values(msisdn=WIDEST, plate="粤BD12345"))
            conn.execute(insert(PoliceViolation.__table__), [
                dict(id=100 + i, plate="粤BD12345", day=NOW.date(), place_en="Shennan Boulevard, Futian District",
                     place_zh="福田区深南大道", offence_en="Running a red light", offence_zh="不按交通信号灯通行",
                     fine_fen=9_999_900, demerit=12) for i in range(4)])
            conn.execute(insert(BossSubscription.__table__), [
                dict(msisdn=WIDEST, package=key, price_fen=28_000, points=0, pay="bill", status="active",
                     until=NOW.date(), idem_key=f"lint-{key}", created_at=NOW)
                for key in ("car_full", "health_full", "car_tips", "health_tips", "golf")])
            conn.execute(insert(PointsEntry.__table__), [
                dict(msisdn=WIDEST, delta=-9_999_999 + i, kind="transfer_out", ref="", idem_key=f"lint{i}",
                     created_at=NOW) for i in range(12)])
        try:
            yield simulated(db)
        finally:
            db.dispose()


@dataclass(frozen=True)
class Sample:
    """One screen lint renders, and the session that shows it (None for the engine's own end screens)."""

    flow: str
    state: str
    screen: Screen
    session: Session | None = None
    ctx: Context | None = None


def samples(engine: Engine, renderer: Renderer, services: Any, notices: tuple[T, ...] = ()) -> Iterator[Sample]:
    """Every state's screen, for each demo profile and sample values, with no error line and with each one
    it may carry; the root menu also with each of the channel's `notices`."""
    for profile in PROFILES:
        ctx = Context(profile, renderer, services)
        for flow in engine.flows.values():
            for name, state in flow.states.items():
                if isinstance(state, (Act, Route)):
                    continue
                errors = (None, *engine.errors(flow.name, name))
                errors += notices if (flow.name, name) == engine.root else ()
                for values in flow.samples:
                    for error in errors:
                        session = Session(profile.msisdn, "lint", flow.name, name, profile.lang, NOW.timestamp(),
                                          values=dict(values), error=error.msgid if error else None)
                        yield Sample(flow.name, name, engine.screen(session, NOW, ctx), session, ctx)
        for error in (None, eng.WRONG_CHOICE):  # the resume question, on a new dial mid-conversation
            session = Session(profile.msisdn, "lint", "account", "home", profile.lang, NOW.timestamp(), resume=True,
                              error=error.msgid if error else None)
            yield Sample("engine", "resume", engine.screen(session, NOW, ctx), session, ctx)
    for text in (eng.TOO_MANY, eng.TIMED_OUT, eng.ENDED):
        yield Sample("engine", text.msgid[:24], Screen("end", text, back=False))


def screens(engine: Engine, renderer: Renderer, services: Any,
            notices: tuple[T, ...] = ()) -> Iterator[tuple[str, str, Screen]]:
    for sample in samples(engine, renderer, services, notices):
        yield sample.flow, sample.state, sample.screen


@dataclass(frozen=True)
class Unfit:
    """A screen Telegram would refuse or cut, drawn as a message with its keyboard."""

    flow: str
    state: str
    lang: str
    page: int
    reasons: tuple[str, ...]
    text: str

    def __str__(self) -> str:
        return (f"telegram: flow '{self.flow}' state '{self.state}' locale {self.lang} page {self.page + 1}: "
                + "; ".join(self.reasons) + f"\n{self.text}")


WIDEST_HOP = 2**63 - 1  # the longest callback_data a button can carry


def lint_telegram(engine: Engine, renderer: Renderer, services: Any) -> list[Unfit]:
    """Every screen drawn as a Telegram message, every page in both locales, checked against its limits."""
    from bot.channels.telegram_render import draw, problems
    from bot.dispatcher import Reply

    found, seen = [], set()
    for flow, state, screen in screens(engine, renderer, services, NOTICES.get("telegram", ())):
        for lang in LANGUAGES:
            pages = renderer.page_count(screen, lang)
            for page in range(pages):
                drawn = draw(Reply("", screen.final, screen, page, pages, lang), WIDEST_HOP, renderer.catalogs)
                reasons = tuple(problems(drawn))
                if reasons and (drawn.text, reasons) not in seen:
                    seen.add((drawn.text, reasons))
                    found.append(Unfit(flow, state, lang, page, reasons, drawn.text))
    return found


def lint(engine: Engine, renderers: dict[str, Renderer], services: Any) -> list[Overflow | Unfit]:
    """Overflows of every channel's budget, and for Telegram what its message and keyboard would break."""
    found: list[Overflow | Unfit] = []
    if "telegram" in renderers:
        found += lint_telegram(engine, renderers["telegram"], services)
    seen = set()
    for channel, renderer in renderers.items():
        for flow, state, screen in screens(engine, renderer, services, NOTICES.get(channel, ())):
            for lang in LANGUAGES:
                for page in range(renderer.page_count(screen, lang)):
                    rendered = renderer.render(screen, lang, page)
                    if not rendered.fits and (channel, rendered.text) not in seen:
                        seen.add((channel, rendered.text))
                        enc, sizes = char_units(rendered.text)
                        budget = renderer.budget.gsm7 if enc == "GSM-7" else renderer.budget.ucs2
                        found.append(Overflow(channel, flow, state, lang, page, sum(sizes), budget, rendered.text))
    return found


@dataclass(frozen=True)
class ReminderUnfit:
    """A reminder template that is too long for SMS, or does not end with the opt-out hint, in one locale."""

    kind: str
    lang: str
    reasons: tuple[str, ...]
    text: str

    def __str__(self) -> str:
        return f"reminders: kind '{self.kind}' locale {self.lang}: " + "; ".join(self.reasons) + f"\n{self.text}"


MAX_REMINDER_SEGMENTS = 2
OPT_OUT_HINTS = {"zh_Hans": "回复TD退订", "en": "Reply STOP to opt out"}  # words bot/compliance.py honours


def lint_reminders(catalogs: Any, kinds: dict) -> tuple[list["ReminderUnfit"], list[str]]:
    """Each reminder template at sample values in every locale: never more than two SMS segments (and a note
    where it takes two), ending with the opt-out hint. Returns (failures, notes)."""
    from integrations.gsm import count
    from jobs.reminder_values import message, sample_recipients, samples

    found, notes = [], []
    for kind in kinds.values():
        for data in samples(kind):
            for recipient in sample_recipients(kind):
                for lang in LANGUAGES:
                    text = catalogs.render(lang, message(kind, data, recipient))
                    segments, reasons = count(text).segments, []
                    if segments > MAX_REMINDER_SEGMENTS:
                        reasons.append(f"{segments} SMS segments > {MAX_REMINDER_SEGMENTS}")
                    if not text.rstrip(".。!！ ").endswith(OPT_OUT_HINTS[lang]):
                        reasons.append(f"does not end with the opt-out hint '{OPT_OUT_HINTS[lang]}'")
                    if reasons:
                        found.append(ReminderUnfit(kind.name, lang, tuple(reasons), text))
                    elif segments > 1:
                        notes.append(f"reminders: kind '{kind.name}' locale {lang}: {segments} SMS segments")
    return _unique(found), sorted(set(notes))


def _unique(found: list) -> list:
    seen, out = set(), []
    for f in found:
        if (f.kind, f.lang, f.reasons) not in seen:
            seen.add((f.kind, f.lang, f.reasons))
            out.append(f)
    return out
