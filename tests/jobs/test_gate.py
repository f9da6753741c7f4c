"""The gate at send time for SMS, against the simulated gateway over real HTTP and a real database, with fixed
clocks: opt-out, then quiet hours in the subscriber's own zone, then frequency caps; replies never gated."""
from __future__ import annotations

import asyncio
import threading
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import insert, select, table, column

from bot.db import make_engine, upgrade
from integrations.smsgateway.client import GatewayClient
from integrations.smsgateway.simulator import Gateway, make_gateway_app
from jobs.gate import Cap, Gate, quiet_until, windows
from jobs.outbox import O, Sender, add
from jobs.tables import OptOut, SendCap

SHANGHAI, LONDON = "+8613800000001", "+8613800000002"  # the second one lives in London
SUBSCRIBER = table("subscriber", column("msisdn"), column("name"), column("tier"), column("language"),
                   column("timezone"))
CAP = SendCap.__table__


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# -- the pure parts ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("local, expected", [
    ((20, 59, 59), None),
    ((21, 0, 0), (3, 8, 0)),
    ((23, 59, 59), (3, 8, 0)),
    ((0, 0, 0), (2, 8, 0)),
    ((7, 59, 59), (2, 8, 0)),
    ((8, 0, 0), None),
])
def test_quiet_hours_run_from_21_00_until_08_00_the_next_morning(local, expected):
    """20:59:59 and 08:00:00 may send; from 21:00:00 a message waits for 08:00 (the next morning, or today's
    morning after midnight)."""
    tz = ZoneInfo("Asia/Shanghai")
    got = quiet_until(datetime(2026, 12, 2, *local, tzinfo=tz), time(21), time(8))
    assert got == (None if expected is None else datetime(2026, 12, expected[0], expected[1], expected[2], tzinfo=tz))


def test_a_quiet_window_within_one_day_and_an_empty_one():
    at = datetime(2026, 12, 2, 13, 30, tzinfo=timezone.utc)
    assert quiet_until(at, time(13), time(14)) == datetime(2026, 12, 2, 14, tzinfo=timezone.utc)
    assert quiet_until(at, time(14), time(15)) is None and quiet_until(at, time(8), time(8)) is None


def test_windows_are_the_local_day_and_the_iso_week():
    """The ISO week of Dec 31 2026 is 2026-W53; Jan 1 2027 is still in it (a Friday)."""
    assert windows(date(2026, 12, 2)) == ("d:2026-12-02", "w:2026-W49")
    assert windows(date(2027, 1, 1)) == ("d:2027-01-01", "w:2026-W53")


# -- the SMS sender -----------------------------------------------------------------------------------------

@pytest.fixture
async def gateway():
    gw = Gateway("shortcode", "k")
    server = TestServer(make_gateway_app(gw), host="127.0.0.1")
    await server.start_server()
    yield gw, f"http://127.0.0.1:{server.port}"
    await server.close()


@pytest.fixture
def engine(sql_url):
    upgrade(sql_url)
    engine = make_engine(sql_url)
    with engine.begin() as conn:
        conn.execute(insert(SUBSCRIBER), [
            dict(msisdn=SHANGHAI, name="Li", tier="gold", language="zh_Hans", timezone="Asia/Shanghai"),
            dict(msisdn=LONDON, name="Ann", tier="gold", language="en", timezone="Europe/London")])
    yield engine
    engine.dispose()


def sender(engine, base, clock, gate=None, **kw) -> Sender:
    return Sender(engine, GatewayClient(base, "shortcode", "k"), backoff=(0, 0, 0), clock=clock,
                  gate=gate or Gate(), **kw)


def queue(engine, rows, at: datetime) -> list[int]:
    """(msisdn, cause, kind, cap_class) rows, due at `at`; their ids in order."""
    with engine.begin() as conn:
        for msisdn, cause, kind, cap_class in rows:
            add(conn, msisdn, f"text of {cause}", cause, at, kind, "bill-due" if kind == "reminder" else "",
                cap_class)
        return list(conn.execute(select(O.c.id).where(O.c.cause.in_([r[1] for r in rows])).order_by(O.c.id))
                    .scalars())


def states(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        return {r.cause: (r.status, r.error, r.attempts, r.next_attempt_at.replace(tzinfo=timezone.utc))
                for r in conn.execute(select(O)).all()}


def counters(engine) -> dict[tuple[str, str, str], int]:
    with engine.connect() as conn:
        return {(r.msisdn, r.cap_class, r.window): r.sent for r in conn.execute(select(CAP)).all()}


async def run(s: Sender, ids) -> int:
    return await asyncio.to_thread(s.send, ids)


@pytest.mark.parametrize("instant, sends, deferred", [
    (utc(2026, 12, 2, 12, 59, 59), {SHANGHAI, LONDON}, {}),  # 20:59:59 in Shanghai
    (utc(2026, 12, 2, 13, 0, 0), {LONDON}, {SHANGHAI: utc(2026, 12, 3, 0, 0)}),  # 21:00 Shanghai, 13:00 London
    (utc(2026, 12, 2, 20, 59, 59), {LONDON}, {SHANGHAI: utc(2026, 12, 3, 0, 0)}),  # 20:59:59 London
    (utc(2026, 12, 2, 21, 0, 0), set(), {SHANGHAI: utc(2026, 12, 3, 0, 0), LONDON: utc(2026, 12, 3, 8, 0)}),
])
async def test_quiet_hours_are_each_subscribers_own(gateway, engine, instant, sends, deferred):
    """At one UTC instant a subscriber in Shanghai and one in London are judged by their own clocks: 20:59:59
    sends, 21:00:00 waits for 08:00 local the next morning (pending, the attempt not counted)."""
    gw, base = gateway
    ids = queue(engine, [(SHANGHAI, "sh", "reminder", "care"), (LONDON, "ld", "reminder", "care")], instant)
    s = sender(engine, base, Clock(instant))
    assert await run(s, ids) == len(sends) == gw.accepted
    got = states(engine)
    for number, cause in ((SHANGHAI, "sh"), (LONDON, "ld")):
        if number in sends:
            assert got[cause][0] == "sent"
        else:
            assert got[cause] == ("pending", "quiet hours", 0, deferred[number])
    assert sorted(s.deferred) == sorted(set(deferred.values()))


async def test_a_deferred_row_is_sent_once_at_eight_and_not_before(gateway, engine):
    gw, base = gateway
    night = utc(2026, 12, 2, 14, 30)  # 22:30 in Shanghai
    ids = queue(engine, [(SHANGHAI, "late", "reminder", "care")], night)
    clock = Clock(night)
    s = sender(engine, base, clock)
    assert await run(s, ids) == 0
    clock.now = utc(2026, 12, 2, 23, 59, 59)  # 07:59:59 local
    assert s.due() == [] and await run(s, ids) == 0 and gw.accepted == 0
    clock.now = utc(2026, 12, 3, 0, 0)  # 08:00 local
    assert s.due() == ids and await run(s, ids) == 1 and await run(s, ids) == 0
    assert gw.accepted == 1 and states(engine)["late"][:3] == ("sent", "", 1)


async def test_replies_and_confirmations_are_never_gated(gateway, engine):
    """At 23:00 local, five confirmations and a reply to one subscriber all go at once."""
    gw, base = gateway
    at = utc(2026, 12, 2, 15, 0)
    rows = [(SHANGHAI, f"code:{i}", "confirmation", "") for i in range(5)] + [(SHANGHAI, "reply", "reply", "")]
    ids = queue(engine, rows, at)
    assert await run(sender(engine, base, Clock(at)), ids) == 6 and counters(engine) == {}


async def test_stop_after_queueing_suppresses_before_quiet_hours_and_caps(gateway, engine):
    """The order is opt-out, quiet hours, caps: an opted-out subscriber's reminder is suppressed (final) even
    at night, and takes no cap slot; a reminder held for the night takes none either."""
    gw, base = gateway
    at = utc(2026, 12, 2, 14, 0)  # 22:00 in Shanghai, 14:00 in London
    ids = queue(engine, [(SHANGHAI, "stopped", "reminder", "care"), (LONDON, "ld", "marketing", "")], at)
    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn=SHANGHAI, opted_out=True, channel="sms", text="STOP",
                                                     changed_at=at))
    assert await run(sender(engine, base, Clock(at)), ids) == 1
    assert states(engine)["stopped"][:2] == ("suppressed", "opted out") and states(engine)["ld"][0] == "sent"
    assert counters(engine) == {(LONDON, "marketing", "d:2026-12-02"): 1, (LONDON, "marketing", "w:2026-W49"): 1}


async def test_caps_hold_back_what_is_over_them_as_capped_and_exempt_service(gateway, engine):
    """care: 2 a day, 5 a week; service: exempt. The third care reminder of a day is capped (final, the error
    names the window); the sixth of the week is capped by the week; every service reminder goes."""
    gw, base = gateway
    clock = Clock(utc(2026, 11, 30, 2, 0))  # Monday 10:00 in Shanghai, ISO week 2026-W49
    s = sender(engine, base, clock)
    first = queue(engine, [(SHANGHAI, f"mon:{i}", "reminder", "care") for i in range(3)]
                  + [(SHANGHAI, f"svc:{i}", "reminder", "service") for i in range(4)], clock.now)
    assert await run(s, first) == 6
    assert states(engine)["mon:2"][:2] == ("capped", "capped: care d:2026-11-30")
    for day in (1, 2):  # Tuesday, Wednesday: 2 + 2 + 2 = 6 wanted, 5 allowed
        clock.now += timedelta(days=1)
        ids = queue(engine, [(SHANGHAI, f"day{day}:{i}", "reminder", "care") for i in range(2)], clock.now)
        await run(s, ids)
    got = states(engine)
    assert got["day2:1"][:2] == ("capped", "capped: care w:2026-W49") and got["day2:0"][0] == "sent"
    assert gw.accepted == 2 + 4 + 2 + 1 and counters(engine)[(SHANGHAI, "care", "w:2026-W49")] == 5
    assert counters(engine)[(SHANGHAI, "care", "d:2026-12-02")] == 1  # the week's refusal undid the day's count


async def test_a_row_the_gateway_does_not_take_gives_its_cap_slot_back(gateway, engine):
    """The gateway fails the request: the reminder waits for a retry and the day's slot is free again, so it
    is counted once, when it is sent."""
    gw, base = gateway
    at = utc(2026, 12, 2, 2, 0)
    ids = queue(engine, [(SHANGHAI, "r", "reminder", "care")], at)
    gw.faults.error_rate = 1.0
    s = sender(engine, base, Clock(at))
    assert await run(s, ids) == 0 and states(engine)["r"][0] == "pending"
    assert set(counters(engine).values()) == {0}
    gw.faults.error_rate = 0.0
    assert await run(s, ids) == 1 and set(counters(engine).values()) == {1}


async def test_a_worker_dying_after_counting_does_not_count_the_row_twice(gateway, engine):
    """The slot is taken and the row marked in one transaction; the worker dies before the submit; the row
    taken over after the claim lapses is sent on the slot it already holds."""
    gw, base = gateway
    clock = Clock(utc(2026, 12, 2, 2, 0))
    ids = queue(engine, [(SHANGHAI, "r", "reminder", "care")], clock.now)
    dying = sender(engine, base, clock)
    dying.client.send_many = lambda *a, **k: (_ for _ in ()).throw(SystemExit)
    with pytest.raises(SystemExit):
        await run(dying, ids)
    assert set(counters(engine).values()) == {1}
    clock.now += timedelta(seconds=61)
    assert await run(sender(engine, base, clock), ids) == 1 and set(counters(engine).values()) == {1}


class LinedUp(Gate):
    """The gate with both workers lined up before each batch, so their cap transactions run at the same moment
    (left alone, the gateway's answers pace the two into turns and the race is seldom run)."""

    def lined_up(self) -> LinedUp:
        object.__setattr__(self, "barrier", threading.Barrier(2, timeout=2))  # one per test: a broken one stays so
        return self

    def screen(self, *args, **kw):
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:  # the other worker is done
            pass
        return super().screen(*args, **kw)


@pytest.mark.parametrize("subscribers, day_cap", [(1, 7), (25, 1)])
async def test_two_workers_racing_never_pass_the_cap(gateway, engine, subscribers, day_cap):
    """Two workers, 50 reminders each, gated one by one at the same moment: for one subscriber, or for 25 with
    4 reminders each (side by side in both workers, so every subscriber's cap is raced): exactly the cap is
    sent, the rest capped, and the counters say so (SQLite and PostgreSQL)."""
    gw, base = gateway
    at = utc(2026, 12, 2, 2, 0)
    gate = LinedUp(caps={"care": Cap(day=day_cap, week=20)}).lined_up()
    numbers = [f"+86139{n:08d}" for n in range(subscribers)]
    ids = queue(engine, [(numbers[i * subscribers // 100], f"r:{i}", "reminder", "care") for i in range(100)], at)

    def worker(mine: list[int]) -> int:
        return sender(engine, base, Clock(at), gate=gate, chunk=1).send(mine)

    sent = await asyncio.gather(asyncio.to_thread(worker, ids[0::2]), asyncio.to_thread(worker, ids[1::2]))
    statuses = [st[0] for st in states(engine).values()]
    cap = day_cap * subscribers
    assert sum(sent) == cap == gw.accepted == statuses.count("sent") and statuses.count("capped") == 100 - cap
    assert counters(engine) == {(n, "care", w): day_cap for n in numbers for w in ("d:2026-12-02", "w:2026-W49")}
