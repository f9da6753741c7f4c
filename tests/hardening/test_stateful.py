"""Stateful property test: a few subscribers dial, type, redial, text and race each other against the real
dispatcher, a real Redis, a seeded SQLite database and the simulated partners (BOSS points and bill, golf
tee sheets), while a controllable clock jumps past the idle timeout.

After every step the machine checks what must always hold: every stored session is at a real screen
(its location and its back stack exist in the flows, never an Act or Route state), no lock is left behind,
every points balance equals the sum of its ledger and is never negative, every bill equals its opening
plus its charges, nobody sends more than the daily transfer limit, no tee time has two live bookings and
every tee booking's money is consistent with its status, every inbound SMS is answered exactly once, and
every reply is a non-empty string.

Three machines share the rules and invariants: ShortcodeMachine (everything), and two that focus on
the production bugs it found, now fixed, with fewer examples: DailyLimitMachine (one subscriber's
simultaneous transfers broke the daily limit on SQLite: a read before the first write ran outside the
transaction) and ReplayMachine (a replayed hop that ended the "Welcome back" question showed the
question again).

Expensive parts (the seeded database, the core, the Redis client, the event loop) are built once per
module; each example gets a copy of the seeded database file and a fresh Redis key prefix.
`SHORTCODE_STATEFUL_EXAMPLES` sets the number of examples (default 200), `SHORTCODE_STATEFUL_STEPS` the
steps per example (default 20); about 55 s in all on 2 cores.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aredis
import structlog
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, select

from bot.db import make_engine, upgrade
from bot.dispatcher import Inbound, Reply
from bot.engine.flow import Act, Route
from bot.models import SmsInbox
from bot.outbound import Outbound
from bot.rates import MinuteCounter
from bot.tools.seed import seed_demo
from bot.engine.session import Session, loads
from bot.settings import load_settings
from bot.wiring import build_core, build_dispatcher, sms_conversation
from flows.common import points_for
from flows.golf import DISCOUNT
from flows.points import DAILY_TRANSFER_LIMIT, REWARDS
from integrations.boss.tables import BillCharge, BossAccount, PointsEntry
from integrations.golf import SLOTS
from integrations.golf.simulated import booking_code
from integrations.golf.tables import GolfCourse, TeeBooking
from jobs.tables import Outbox

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("SHORTCODE_STATEFUL_EXAMPLES", "200"))
STEPS = int(os.environ.get("SHORTCODE_STATEFUL_STEPS", "20"))

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in Shanghai
CODE = "*126#"
# Demo subscribers (bot.tools.seed): 01 gold 12,800 pts; 02 silver 56,920 pts; 03 regular 39,660; 04 regular 8,041.
SUBS = ("+8613800000001", "+8613800000002", "+8613800000003", "+8613800000004")
GOLFERS = SUBS[:2]  # silver and above: Golf is item 3 of their main menu
STRANGER = "+8613912345678"  # a valid mobile number with no BOSS account
OTHER = "+8613800000012"  # a demo subscriber who holds every tee time but the last one of DAY
COURSE = 2  # Pine Valley Beijing: weekday 1,080 yuan = 54,000 points a player (silver)
DAY = date(2026, 11, 25)  # a Wednesday, two days after NOW
LAST = SLOTS[-1]  # 15:58, the last free tee time of DAY on COURSE

A, E, B = BossAccount.__table__, PointsEntry.__table__, BillCharge.__table__
TB, I, O = TeeBooking.__table__, SmsInbox.__table__, Outbox.__table__

_examples = itertools.count(1)
_refs = itertools.count(1)
_messages = itertools.count(1)


# -- the parts built once ------------------------------------------------------------------------------
@dataclass
class World:
    core: object
    redis: aredis.Redis
    loop: asyncio.AbstractEventLoop
    folder: Path
    template: Path
    opening_bill: dict[str, int]
    weekday_fee: int


def _seed_template(path: Path) -> tuple[dict[str, int], int]:
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    seed_demo(engine, 12)
    with engine.begin() as conn:  # every tee time of DAY on COURSE but the last is booked already
        conn.execute(insert(TB), [dict(code=booking_code(f"pre{s}"), idem_key=f"pre{s}", course_id=COURSE,
                                       day=DAY, slot=s, msisdn=OTHER, players=1, status="booked",
                                       hold_until=NOW, created_at=NOW) for s in SLOTS[:-1]])
        bills = dict(conn.execute(select(A.c.msisdn, A.c.bill_fen)).all())
        fee = conn.execute(select(GolfCourse.__table__.c.weekday_fee_fen)
                           .where(GolfCourse.__table__.c.id == COURSE)).scalar_one()
    engine.dispose()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    return bills, fee


@pytest.fixture(scope="module")
def world(redis_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("stateful")
    template = folder / "template.db"
    bills, fee = _seed_template(template)
    env = {"SHORTCODE_DATABASE_URL": f"sqlite:///{template}", "SHORTCODE_REDIS_URL": redis_url,
           "SHORTCODE_USSD_SECRET": "test-secret", "SHORTCODE_JOBS_INPROCESS_WORKER": "false"}
    core = build_core(load_settings(ROOT / "config.toml", environ=env))
    loop = asyncio.new_event_loop()
    client = aredis.Redis.from_url(redis_url)
    logging_config = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # a line per hop is noise
    yield World(core, client, loop, folder, template, bills, fee)
    structlog.configure(**logging_config)
    loop.run_until_complete(client.aclose())
    loop.close()


class Clock:
    """The dispatcher's and the partners' clock: moves 1 ms per reading (as a real clock does, so two
    conversations never start at the same instant) and jumps when the machine says so."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@dataclass
class Phone:
    """What the USSD gateway keeps for one handset: the session id and the inputs so far."""

    ref: str | None = None
    inputs: list[str] = field(default_factory=list)
    last: Inbound | None = None
    last_reply: Reply | None = None
    epoch: int = -1  # the machine's epoch right after the last reply


# -- strategies ----------------------------------------------------------------------------------------
subs = st.sampled_from(SUBS)
golfers = st.sampled_from(GOLFERS)
keys = st.sampled_from(["0", "00", "1", "2", "3", "4", "5", "6", "7", "8", "9", "98", "99"])
_long = st.builds(lambda c, n: c * n, st.characters(exclude_categories=["Cs"], exclude_characters="*\x00"),
                  st.integers(200, 1000))  # no lone surrogates: bodies arrive as UTF-8
junk = st.one_of(st.just(""), st.text(max_size=30), _long,
                 st.sampled_from([" 1 ", "01", "１", "٣", "1.", "-1", "+8613800000002", "GOLF", "STOP", "帮助"]))
ussd_junk = junk.map(lambda t: t.replace("*", "").replace("\x00", ""))  # the gateway splits on '*'; NUL is a 400
sms_texts = st.one_of(keys, junk.map(lambda t: t.replace("\x00", "")),
                      st.sampled_from(["GOLF", "PTS", "pts", "ＧＯＬＦ", "BILL", "MENU", "积分", "HELP", "STOP",
                                       "START"]))
recipients = st.sampled_from(SUBS + (STRANGER,))
amounts = st.one_of(st.sampled_from([1, 500, 4_000, 6_000, 9_999, 10_000]), st.integers(1, 10_000))
channels = st.sampled_from(["ussd", "sms"])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


SEEN: Counter[str] = Counter()  # outcomes of the scripted operations; printed at the end (pytest -s)


def seen(what: str) -> None:
    SEEN[what] += 1


async def _gather(*aws):
    return await asyncio.gather(*aws)


def _check_reply(reply: Reply) -> None:
    assert isinstance(reply, Reply) and isinstance(reply.text, str) and reply.text.strip(), repr(reply)


class Harness(RuleBasedStateMachine):
    """One example's world (a database copy, a key prefix, a clock, the dispatchers), its plumbing and
    the invariants; the rules come from the mixins below."""

    world: World  # set by the test before it runs
    tolerate_ended_resume_replay = False  # was a bug (see ReplayMachine); fixed, so nothing is tolerated
    replay_every_hop = False  # ReplayMachine: every USSD hop is delivered twice

    def __init__(self) -> None:
        super().__init__()
        w = self.world
        self.n = next(_examples)
        self.path = w.folder / f"ex{self.n}.db"
        shutil.copyfile(w.template, self.path)
        self.db = make_engine(f"sqlite:///{self.path}")
        self.clock = Clock(NOW)
        self.prefix = f"st{self.n}-{uuid.uuid4().hex[:6]}:"
        self.ussd = build_dispatcher(w.core, w.redis, self.db, clock=self.clock)
        self.sms = build_dispatcher(w.core, w.redis, self.db, clock=self.clock, channel="sms")
        for d in (self.ussd, self.sms):
            d.store.prefix = self.prefix
        self.conv = sms_conversation(w.core, self.sms, self.db, Outbound(self.db), w.redis, clock=self.clock)
        self.conv.rate = MinuteCounter(w.redis, f"{self.prefix}rate:")
        self.conv.max_per_minute = 10_000  # the flood limit has its own test
        self.flows = w.core.engines["ussd"].flows
        self.max_wrong = w.core.settings.session.max_wrong_inputs
        self.phones = {m: Phone() for m in SUBS}
        self.texted: dict[str, int] = {}  # msisdn -> id of the last inbox row
        self.epoch = 0

    def teardown(self) -> None:
        async def clean() -> None:
            found = await self.world.redis.keys(self.prefix + "*")
            if found:
                await self.world.redis.delete(*found)
        self.run(clean())
        self.db.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # -- plumbing ------------------------------------------------------------------------------------
    def run(self, coro):
        return self.world.loop.run_until_complete(coro)

    async def dial(self, sub: str) -> Reply:
        p = self.phones[sub]
        p.ref, p.inputs = f"u{next(_refs)}", []
        return await self._hop(sub, None)

    async def press(self, sub: str, text: str) -> Reply:
        """An input on the open USSD session (dialling first when the last screen ended it)."""
        if self.phones[sub].ref is None:
            await self.dial(sub)
        self.phones[sub].inputs.append(text)
        return await self._hop(sub, text)

    async def _hop(self, sub: str, text: str | None) -> Reply:
        p = self.phones[sub]
        p.last = Inbound("ussd", sub, p.ref or "", text, len(p.inputs), CODE)
        self.epoch += 1
        reply = await self.ussd.handle(p.last)
        _check_reply(reply)
        if self.replay_every_hop:  # the gateway delivers it a second time
            self.assert_same_screen(await self.peek(sub), reply, await self.ussd.handle(p.last))
        p.last_reply, p.epoch = reply, self.epoch
        if reply.final:
            p.ref = None
        return reply

    def inbox(self, sub: str, text: str) -> int:
        with self.db.begin() as conn:
            row = conn.execute(insert(I).values(gateway="at", message_id=f"m{next(_messages)}", msisdn=sub,
                                                short_code="12580", text=text, received_at=self.clock()))
            return row.inserted_primary_key[0]

    async def text(self, sub: str, body: str) -> str:
        """One inbound SMS, processed as the SMS channel does; returns the reply written to the outbox."""
        inbox_id = await asyncio.to_thread(self.inbox, sub, body)
        self.texted[sub] = inbox_id
        self.epoch += 1
        assert await self.conv.process(inbox_id)
        return self.answer(inbox_id)

    def answer(self, inbox_id: int) -> str:
        with self.db.connect() as conn:
            rows = conn.execute(select(O.c.text).where(O.c.cause == f"sms-in:{inbox_id}")).scalars().all()
        assert len(rows) == 1, (inbox_id, rows)
        assert isinstance(rows[0], str) and rows[0].strip()
        return rows[0]

    async def peek(self, sub: str, channel: str = "ussd") -> Session | None:
        return await self.ussd.store.peek(self.ussd.channel.session_key(sub) if channel == "ussd" else f"sms:{{{sub}}}")

    async def to_root(self, sub: str) -> None:
        """Bring the USSD session to the main menu: dial if needed, start over on a resume offer, else 00."""
        for _ in range(3):
            if self.phones[sub].ref is None:
                await self.dial(sub)
            s = await self.peek(sub)
            reply = await self.press(sub, "2" if s.resume else "00")
            if not reply.final:
                s = await self.peek(sub)
                assert s.location == ("menu", "main") and not s.resume, s
                return
        raise AssertionError("could not reach the main menu")

    async def walk(self, sub: str, channel: str, path: list[str]) -> Session:
        """A scripted path: on USSD from the main menu, on SMS from a keyword (path[0])."""
        if channel == "ussd":
            await self.to_root(sub)
            for key in path[1:]:
                await self.press(sub, key)
        else:
            for key in path:
                await self.text(sub, key)
        return await self.peek(sub, channel)

    async def send(self, sub: str, channel: str, key: str) -> Session:
        if channel == "ussd":
            await self.press(sub, key)
        else:
            await self.text(sub, key)
        return await self.peek(sub, channel)

    def assert_same_screen(self, session: Session, original: Reply, replayed: Reply) -> None:
        """A replayed hop gets the screen the original got."""
        if self.tolerate_ended_resume_replay and session.ended and session.resume and original != replayed:
            seen("replay after the resume question ended (known bug)")
            return
        assert replayed == original, (session, original, replayed)

    # -- database reads ------------------------------------------------------------------------------
    def points(self, sub: str) -> int:
        with self.db.connect() as conn:
            return conn.execute(select(A.c.points).where(A.c.msisdn == sub)).scalar_one_or_none() or 0

    def money(self) -> dict[str, tuple[int, int]]:
        with self.db.connect() as conn:
            return {m: (p, b) for m, p, b in conn.execute(select(A.c.msisdn, A.c.points, A.c.bill_fen))}

    def entries(self) -> int:
        with self.db.connect() as conn:
            return conn.execute(select(func.count()).select_from(E)).scalar_one()

    def sent_today(self, sub: str) -> int:
        midnight = self.clock.now.astimezone(SH).replace(hour=0, minute=0, second=0, microsecond=0)
        with self.db.connect() as conn:
            rows = conn.execute(select(E.c.delta, E.c.created_at).where(
                E.c.msisdn == sub, E.c.kind == "transfer_out")).all()
        return sum(-d for d, at in rows if _aware(at) >= midnight)

    def last_tee_free(self) -> bool:
        local = self.clock.now.astimezone(SH)
        if not 0 <= (DAY - local.date()).days < 14 or (DAY == local.date() and local.hour * 60 + local.minute >= LAST):
            return False
        now = self.clock.now
        with self.db.connect() as conn:
            rows = conn.execute(select(TB.c.status, TB.c.hold_until).where(
                TB.c.course_id == COURSE, TB.c.day == DAY, TB.c.slot == LAST)).all()
        return not any(s == "booked" or (s == "held" and _aware(h) >= now) for s, h in rows)

    def golf_price(self, sub: str) -> int:
        tier = "gold" if sub == SUBS[0] else "silver"
        return self.world.weekday_fee * (100 - DISCOUNT[tier]) // 100

    def day_key(self) -> str:
        return str((DAY - self.clock.now.astimezone(SH).date()).days + 1)

    # -- invariants ----------------------------------------------------------------------------------
    @invariant()
    def sessions_are_at_legal_screens_and_unlocked(self):
        async def read():
            found = await self.world.redis.keys(self.prefix + "*")
            # sessions and locks; the SMS rate counters (<prefix>rate:...) are sets, checked elsewhere
            return {k.decode(): await self.world.redis.get(k) for k in found
                    if not k.decode().startswith(self.prefix + "rate:")}

        for key, raw in self.run(read()).items():
            assert f"{self.prefix}lock:" not in key, f"lock left behind: {key}"
            version, body = raw.decode().split("|", 1)
            s = loads(body)
            assert int(version) == s.version, (key, raw)
            for flow, state in (s.location, *s.stack):
                assert flow in self.flows and state in self.flows[flow].states, (key, s)
                assert not isinstance(self.flows[flow].states[state], (Act, Route)), (key, s)
            assert s.ended or s.errors < self.max_wrong, (key, s)

    @invariant()
    def ledgers_balance(self):
        with self.db.connect() as conn:
            accounts = conn.execute(select(A.c.msisdn, A.c.points, A.c.bill_fen)).all()
            ledger = dict(conn.execute(select(E.c.msisdn, func.sum(E.c.delta)).group_by(E.c.msisdn)).all())
            bills = dict(conn.execute(select(B.c.msisdn, func.sum(B.c.amount_fen)).group_by(B.c.msisdn)).all())
        known = {m for m, _, _ in accounts}
        assert set(ledger) <= known and set(bills) <= known
        for msisdn, points, bill in accounts:
            assert points >= 0 and points == ledger.get(msisdn, 0), (msisdn, points, ledger.get(msisdn))
            assert bill == self.world.opening_bill[msisdn] + bills.get(msisdn, 0), msisdn

    @invariant()
    def nobody_sends_more_than_the_daily_limit(self):
        with self.db.connect() as conn:
            rows = conn.execute(select(E.c.msisdn, E.c.delta, E.c.created_at).where(E.c.kind == "transfer_out")).all()
        per_day: dict[tuple[str, date], int] = {}
        for msisdn, delta, at in rows:
            day = _aware(at).astimezone(SH).date()
            per_day[(msisdn, day)] = per_day.get((msisdn, day), 0) - delta
        assert all(v <= DAILY_TRANSFER_LIMIT for v in per_day.values()), per_day

    @invariant()
    def tee_times_are_taken_once_and_paid_for(self):
        now = self.clock.now
        with self.db.connect() as conn:
            rows = conn.execute(select(TB)).all()
            paid = {k: v for k, v in conn.execute(select(E.c.idem_key, E.c.delta).where(E.c.idem_key.like("golf:%")))}
            paid.update(conn.execute(select(B.c.idem_key, B.c.amount_fen).where(B.c.idem_key.like("golf:%"))).all())
        live: dict[tuple, int] = {}
        for r in rows:
            if r.status == "booked" or (r.status == "held" and _aware(r.hold_until) >= now):
                live[(r.course_id, r.day, r.slot)] = live.get((r.course_id, r.day, r.slot), 0) + 1
            if r.idem_key.startswith("pre"):
                continue
            pay, refund = paid.get(r.idem_key + ":pay"), paid.get(r.idem_key + ":refund")
            if r.status == "booked":
                assert refund is None and pay == (-r.points if r.pay == "points" else r.amount_fen), r
            elif r.status == "lost":
                assert pay is not None and refund == -pay, r
            elif r.status in ("held", "expired"):
                assert pay is None and refund is None, r
        assert all(n == 1 for n in live.values()), live

    @invariant()
    def every_sms_is_answered_once(self):
        with self.db.connect() as conn:
            inbox = conn.execute(select(I.c.id, I.c.processed_at)).all()
            causes = conn.execute(select(O.c.cause, func.count(), func.min(O.c.text)).where(O.c.cause.like("sms-in:%"))
                                  .group_by(O.c.cause)).all()
        answered = {cause: (n, text) for cause, n, text in causes}
        assert all(n == 1 and text.strip() for n, text in answered.values()), answered
        for inbox_id, processed in inbox:
            assert processed is not None and f"sms-in:{inbox_id}" in answered, inbox_id
        assert len(answered) == len(inbox)


class Inputs:
    """What one subscriber does at a time: dial, type, text, redial, wait, replay, walk an operation."""

    # -- rules: single inputs --------------------------------------------------------------------------
    @rule(sub=subs)
    def dial_code(self, sub):
        self.run(self.dial(sub))

    @rule(sub=subs, key=keys)
    def press_key(self, sub, key):
        self.run(self.press(sub, key))

    @rule(sub=subs, text=ussd_junk)
    def type_junk(self, sub, text):
        self.run(self.press(sub, text))

    @rule(sub=subs, body=sms_texts)
    def text_message(self, sub, body):
        self.run(self.text(sub, body))

    @rule(sub=subs)
    def replay_last_ussd_hop(self, sub):
        """The gateway delivers the last hop again: the same screen, nothing applied, nothing saved."""
        p = self.phones[sub]
        if p.last is None:
            return
        before = (self.run(self.peek(sub)), self.money(), self.entries())
        clean = p.epoch == self.epoch  # nothing happened since the original reply
        self.epoch += 1
        reply = self.run(self.ussd.handle(p.last))
        _check_reply(reply)
        after = (self.run(self.peek(sub)), self.money(), self.entries())
        assert before == after, "a replayed hop changed the session or the partners"
        if clean:
            self.assert_same_screen(after[0], p.last_reply, reply)

    @rule(sub=subs)
    def reprocess_last_sms(self, sub):
        """The re-scan (or a retry) processes an answered message again: no second reply, no change."""
        if sub not in self.texted:
            return
        inbox_id = self.texted[sub]
        before = (self.run(self.peek(sub, "sms")), self.money())
        assert self.run(self.conv.process(inbox_id))
        self.answer(inbox_id)
        assert (self.run(self.peek(sub, "sms")), self.money()) == before

    @rule(seconds=st.one_of(st.integers(1, 60), st.integers(121, 700)))
    def advance_clock(self, seconds):
        self.epoch += 1
        self.clock.now += timedelta(seconds=seconds)

    # -- rules: duplicates racing --------------------------------------------------------------------
    @rule(sub=subs, key=st.one_of(keys, ussd_junk))
    def same_ussd_hop_twice_at_once(self, sub, key):
        """Two deliveries of one new hop at the same time: applied once, both get the same screen."""
        p = self.phones[sub]
        if p.ref is None:
            self.run(self.dial(sub))
        before = self.run(self.peek(sub))
        p.inputs.append(key)
        inbound = Inbound("ussd", sub, p.ref, key, len(p.inputs), CODE)
        self.epoch += 1
        first, second = self.run(_gather(self.ussd.handle(inbound), self.ussd.handle(inbound)))
        _check_reply(first)
        _check_reply(second)
        after = self.run(self.peek(sub))
        self.assert_same_screen(after, first, second)
        assert after.version == before.version + 1 and after.hops == inbound.hop, (before, after)
        p.last, p.last_reply, p.epoch = inbound, first, self.epoch
        if first.final:
            p.ref = None

    @rule(sub=subs, body=st.one_of(keys, st.sampled_from(["PTS", "GOLF", "MENU"])))
    def same_sms_processed_twice_at_once(self, sub, body):
        inbox_id = self.run(asyncio.to_thread(self.inbox, sub, body))
        self.texted[sub] = inbox_id
        before = self.run(self.peek(sub, "sms"))
        self.epoch += 1
        results = self.run(_gather(self.conv.process(inbox_id), self.conv.process(inbox_id)))
        assert results == [True, True]
        self.answer(inbox_id)
        after = self.run(self.peek(sub, "sms"))
        assert after.version == (before.version if before else 0) + 1, (before, after)

    # -- rules: operations walked through the menus ----------------------------------------------------
    def redeem_path(self, channel: str, reward: int) -> list[str]:
        return (["", "2"] if channel == "ussd" else ["PTS"]) + ["3", str(reward), "1"]

    def transfer_path(self, channel: str, to: str, amount: int) -> list[str]:
        return (["", "2"] if channel == "ussd" else ["PTS"]) + ["4", to[3:], str(amount), "1"]

    def golf_path(self, channel: str, players: int, pay: int) -> list[str]:
        return (["", "3"] if channel == "ussd" else ["GOLF"]) + [
            "1", str(COURSE), self.day_key(), "1", str(players), str(pay), "1"]

    @rule(sub=subs, channel=channels, reward=st.integers(1, 3))
    def redeem(self, sub, channel, reward):
        cost = list(REWARDS.values())[reward - 1].points
        before = self.points(sub)
        s = self.run(self.walk(sub, channel, self.redeem_path(channel, reward)))
        after = self.points(sub)
        seen(f"redeem via {channel}: {s.state}")
        if before >= cost:
            assert s.location == ("points", "redeemed") and after == before - cost == s.values["left"], (s, before)
        else:
            assert s.location == ("points", "short") and after == before, (s, before)

    @rule(sub=subs, channel=channels, to=recipients, amount=amounts)
    def transfer(self, sub, channel, to, amount):
        if to == sub:
            to = STRANGER
        money, sent = self.money(), self.sent_today(sub)
        s = self.run(self.walk(sub, channel, self.transfer_path(channel, to, amount)))
        moved = self.money()
        if to not in money:
            expected = "no_recipient"
        elif sent + amount > DAILY_TRANSFER_LIMIT:
            expected = "over_limit"
        elif money[sub][0] < amount:
            expected = "short"
        else:
            expected = "transferred"
        seen(f"transfer via {channel}: {s.state}")
        assert s.location == ("points", expected), (s, expected, money.get(sub), sent)
        if expected == "transferred":
            assert moved[sub][0] == money[sub][0] - amount == s.values["left"]
            assert moved[to][0] == money[to][0] + amount
        else:
            assert moved == money

    @rule(sub=golfers, channel=channels, players=st.integers(1, 4), pay=st.sampled_from([1, 2]))
    def book_last_tee_time(self, sub, channel, players, pay):
        free, money = self.last_tee_free(), self.money()
        s = self.run(self.walk(sub, channel, self.golf_path(channel, players, pay)))
        fen = self.golf_price(sub) * players
        seen(f"last tee time via {channel}: {'free' if free else 'gone'} -> {s.state}")
        if not free:
            assert s.location != ("golf", "booked") and self.money() == money, s
            return
        if pay == 2 and money[sub][0] < points_for(fen):
            assert s.location == ("golf", "short") and self.money() == money, s
            return
        assert s.location == ("golf", "booked"), s
        points, bill = money[sub]
        expected = (points - points_for(fen), bill) if pay == 2 else (points, bill + fen)
        assert self.money()[sub] == expected
        with self.db.connect() as conn:
            row = conn.execute(select(TB).where(TB.c.course_id == COURSE, TB.c.day == DAY, TB.c.slot == LAST,
                                                TB.c.status == "booked")).one()
        assert row.msisdn == sub and row.code == s.values["code"] and row.players == players


class Races:
    """Two operations confirmed at the same moment (outcomes depend on the interleaving)."""

    @rule(first=golfers, players=st.tuples(st.integers(1, 4), st.integers(1, 4)),
          pays=st.tuples(st.sampled_from([1, 2]), st.sampled_from([1, 2])), channel=channels)
    def two_golfers_race_for_the_last_tee_time(self, first, players, pays, channel):
        """Both reach the pay screen of the last free tee time, then choose how to pay at the same time:
        one whose points cannot cover it is told so at once and holds nothing; of those who can pay,
        exactly one gets the hold and the other hears it was taken; then the winner confirms and books."""
        if not self.last_tee_free():
            return
        second = GOLFERS[1] if first == GOLFERS[0] else GOLFERS[0]
        racers = [(first, "ussd", players[0], pays[0]), (second, channel, players[1], pays[1])]
        for sub, ch, n, pay in racers:
            s = self.run(self.walk(sub, ch, self.golf_path(ch, n, pay)[:-2]))
            assert s.location == ("golf", "pay"), s
        money = self.money()
        short = sum(pay == 2 and money[sub][0] < points_for(self.golf_price(sub) * n) for sub, _, n, pay in racers)
        self.epoch += 1
        states = self.run(_gather(*(self.send(sub, ch, str(pay)) for sub, ch, _, pay in racers)))
        seen("golf race: " + "/".join(s.state for s in states))
        able = ["confirm", "taken"][:len(racers) - short]
        assert sorted(s.state for s in states) == sorted(["short"] * short + able), states
        assert self.money() == money
        for (sub, ch, n, pay), s in zip(racers, states):
            if s.state == "confirm":
                assert self.run(self.send(sub, ch, "1")).location == ("golf", "booked")

    @rule(a=subs, b=subs, ops=st.tuples(*[st.sampled_from(["redeem", "transfer"])] * 2),
          rewards=st.tuples(st.integers(1, 3), st.integers(1, 3)), to=st.tuples(recipients, recipients),
          amount=st.tuples(amounts, amounts), channel=channels)
    def two_points_operations_at_once(self, a, b, ops, rewards, to, amount, channel):
        """Two subscribers (or one, on USSD and SMS at once) confirm a redemption or a transfer at the
        same moment: each confirmed operation is applied exactly once, and only those."""
        racers = []
        for n, sub in enumerate((a, b)):
            ch = ("sms" if n == 0 else "ussd") if a == b else (channel if n == 0 else "ussd")
            if ops[n] == "redeem":
                path = self.redeem_path(ch, rewards[n])
                racers.append((sub, ch, "redeem", list(REWARDS.values())[rewards[n] - 1].points, None))
            else:
                dest = STRANGER if to[n] == sub else to[n]
                path = self.transfer_path(ch, dest, amount[n])
                racers.append((sub, ch, "transfer", amount[n], dest))
            s = self.run(self.walk(sub, ch, path[:-1]))
            assert s.location == ("points", "confirm_" + ops[n]), s
        money = self.money()
        self.epoch += 1
        states = self.run(_gather(*(self.send(sub, ch, "1") for sub, ch, *_ in racers)))
        seen(f"points race ({'same' if a == b else 'two'} subscribers): " + "/".join(s.state for s in states))
        expected = {m: p for m, (p, _) in money.items()}
        for (sub, ch, op, points, dest), s in zip(racers, states):
            allowed = {"redeem": {"redeemed", "short"},
                       "transfer": {"transferred", "short", "over_limit", "no_recipient"}}[op]
            assert s.flow == "points" and s.state in allowed, s
            if s.state in ("redeemed", "transferred"):
                expected[sub] -= points
            if s.state == "transferred":
                expected[dest] += points
        assert {m: p for m, (p, _) in self.money().items()} == expected, (racers, states)


class ShortcodeMachine(Inputs, Races, Harness):
    pass


class DailyLimitMachine(Inputs, Harness):
    """The machine without the races of ShortcodeMachine (whose outcomes vary from run to run, which
    would keep hypothesis from replaying a failure), plus one subscriber confirming two transfers at once
    (USSD and SMS) that fit today's limit one by one but not together.

    Left to chance, the two partner calls overlap often enough (about 1 in 6 tries) for hypothesis to
    find the bug, but then cannot replay it reliably. So, during this rule only, both calls meet at a
    barrier right after reading today's total: the interleaving that breaks the limit, every time. A BOSS
    that takes its write lock before that read never lets the second call reach the barrier, which then
    times out, and the rule passes."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier: threading.Barrier | None = None
        sa_event.listen(self.db, "after_cursor_execute", self._meet)

    def _meet(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if (self.barrier is not None and "sum(-points_entry.delta)" in statement
                and "transfer_out" in (parameters or ())):  # the sender's total sent today
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                pass

    @rule(sub=subs, to=subs, channel=channels, picks=st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)))
    def one_subscriber_two_transfers_at_once(self, sub, to, channel, picks):
        """Amounts are picked from what is left today (draws never depend on the state, which the other
        races make nondeterministic): each fits the allowance, both together exceed it."""
        if to == sub:
            to = SUBS[(SUBS.index(sub) + 1) % len(SUBS)]
        allowance, points = DAILY_TRANSFER_LIMIT - self.sent_today(sub), self.points(sub)
        if allowance < 1 or points <= allowance:
            return
        first = 1 + picks[0] % allowance
        low, high = allowance - first + 1, min(allowance, points - first)
        if low > high:
            return
        second = low + picks[1] % (high - low + 1)
        racers = [(channel, first), ("ussd" if channel == "sms" else "sms", second)]
        for ch, amount in racers:
            s = self.run(self.walk(sub, ch, self.transfer_path(ch, to, amount)[:-1]))
            assert s.location == ("points", "confirm_transfer"), s
        self.epoch += 1
        self.barrier = threading.Barrier(2, timeout=0.25)
        try:
            states = self.run(_gather(*(self.send(sub, ch, "1") for ch, _ in racers)))
        finally:
            self.barrier = None
        seen("daily limit race: " + "/".join(s.state for s in states))
        assert [s.state for s in states].count("transferred") <= 1, (
            f"{sub} sent {first} + {second} points at once with {allowance} left of today's "
            f"{DAILY_TRANSFER_LIMIT}", [s.location for s in states])


class ReplayMachine(Inputs, Harness):
    """The machine without the races, every USSD hop delivered twice, and the replay check in full: the
    second delivery of the hop that timed out (or ended with too many wrong entries) on the "Welcome back"
    question gets that question again (CON) instead of the END the first delivery got."""

    tolerate_ended_resume_replay = False
    replay_every_hop = True

    @rule(sub=subs, wait=st.booleans(), key=keys)
    def redial_then_leave_the_resume_question(self, sub, wait, key):
        """Dial again; on "Welcome back", answer after the idle timeout, or answer wrong until the END."""
        self.run(self.dial(sub))
        if not self.run(self.peek(sub)).resume:
            return
        if wait:
            self.epoch += 1
            self.clock.now += timedelta(seconds=self.world.core.settings.session.idle_timeout + 1)
            self.run(self.press(sub, key))
            return
        while self.phones[sub].ref is not None:
            self.run(self.press(sub, "3"))


def _settings(examples: int = EXAMPLES) -> settings:
    """No "explain" phase (it replays a failure dozens of times to annotate it: ~20 s here)."""
    phases = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
    return settings(max_examples=examples, stateful_step_count=STEPS, deadline=None, database=None,
                    phases=phases, report_multiple_bugs=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def test_subscribers_dialling_texting_and_racing_keep_every_invariant(world):
    ShortcodeMachine.world = world
    run_state_machine_as_test(ShortcodeMachine, settings=_settings())
    print("\n".join(f"{n:5d}  {what}" for what, n in sorted(SEEN.items())))


def test_one_subscribers_simultaneous_transfers_respect_the_daily_limit(world):
    """Minimal example: +8613800000001 (12,800 points) confirms 1 point to +8613800000002 by USSD and
    10,000 by SMS at the same moment: both are "transferred", 10,001 sent in one day."""
    DailyLimitMachine.world = world
    run_state_machine_as_test(DailyLimitMachine, settings=_settings(max(10, EXAMPLES // 10)))


def test_a_replayed_hop_gets_the_same_screen_even_when_it_ended_the_resume_question(world):
    """Minimal example: +8613800000001 redeems a top-up by USSD (left on "Done"), dials again, gets
    "Welcome back", answers "0" three times: END "Too many wrong entries"; the same hop delivered again
    gets CON "Welcome back. Continue where you left off?"."""
    ReplayMachine.world = world
    run_state_machine_as_test(ReplayMachine, settings=_settings(max(10, EXAMPLES // 10)))
