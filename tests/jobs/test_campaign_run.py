"""A campaign's run on a real database: each member's message written once (repeated, raced), the control
group left out, the offer's goto beside it, pause/resume/cancel honoured between batches and by the rows
already written, pacing by rate, a scheduled start, and the re-scan of runs that died."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from jobs import campaigns as c
from jobs.audit import read
from jobs.campaign_run import MAX_PART, PART, CampaignSetup, Run, stalled
from jobs.campaign_tables import Campaign, CampaignMember
from jobs.tables import Outbox, ReminderGoto, TelegramOutbox
from tests.jobs.campaign_world import both, engine  # noqa: F401  (fixtures)
from tests.jobs.campaign_world import CATALOGS, LI, NOW, ZHAO, spec, world
from tests.jobs.reminder_fakes import link_telegram

O, TO, G, M = Outbox.__table__, TelegramOutbox.__table__, ReminderGoto.__table__, CampaignMember.__table__
LEASE = timedelta(seconds=60)


class Clock:
    """A clock that moves only when something sleeps on it."""

    def __init__(self, now):
        self.now = now
        self.slept: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def launched(engine, now=NOW, **changes) -> int:
    """A campaign to everyone (60 people, about 6 held back), previewed, approved and launched."""
    cid = c.create(engine, spec(audience={}, **changes), LI, now)["id"]
    c.preview(engine, cid, LI, now, CATALOGS, None, control_share=0.1)
    c.approve(engine, cid, ZHAO, now, 10_000)
    c.launch(engine, cid, LI, now)
    return cid


def go(engine, cid, batch=7, clock=None, due=None, **kw) -> dict:
    clock = clock or Clock(NOW)
    return Run(engine, cid, CATALOGS, setup=CampaignSetup(batch), clock=clock, sleep=clock.sleep, **kw)(due)


def members(engine, cid, control=False) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(M.c.msisdn).where(M.c.campaign_id == cid, M.c.control == control)).scalars())


def messages(engine, table=O) -> list:
    with engine.connect() as conn:
        return conn.execute(select(table).order_by(table.c.id)).all()


def causes(engine) -> Counter:
    return Counter(r.cause for r in messages(engine) + messages(engine, TO))


def test_every_member_gets_one_message_and_the_control_group_none(engine):
    """Written in batches, in their language, marketing class, each with the offer's goto; then done."""
    cid = launched(engine)
    out = go(engine, cid)
    sent_to, held = members(engine, cid), members(engine, cid, control=True)
    assert held and out == {"id": cid, "state": "done", "written": len(sent_to)}
    rows = messages(engine)
    assert {r.msisdn for r in rows} == sent_to and not held & {r.msisdn for r in rows}
    assert {r.cause for r in rows} == {f"cmp:{cid}:{m}" for m in sent_to}
    assert {(r.kind, r.cap_class, r.status) for r in rows} == {("marketing", "marketing", "pending")}
    texts = {r.text for r in rows}
    assert texts == {"We value you. Reply 1 to get 2,000 points. Reply STOP to opt out.",
                     "感谢您的一路相伴。回复1领取2,000积分。回复TD退订"}
    with engine.connect() as conn:
        gotos = conn.execute(select(G)).all()
    assert {(g.msisdn, g.goto, g.params, g.cause) for g in gotos} == {
        (m, "offers.claim", f'{{"campaign":{cid},"points":2000}}', f"cmp:{cid}:{m}") for m in sent_to}
    status = c.status(engine, cid)
    assert (status["state"], status["written"]) == ("done", len(sent_to)) and status["finished_at"]
    assert [r["action"] for r in read(engine)][-1] == "campaign.done"


def test_without_an_offer_there_is_no_goto(engine):
    cid = launched(engine, offer=None)
    go(engine, cid)
    assert messages(engine)[0].text in ("We value you. Reply STOP to opt out.", "感谢您的一路相伴。回复TD退订")
    with engine.connect() as conn:
        assert conn.execute(select(G)).all() == []


def test_a_member_who_chose_telegram_gets_it_in_the_chat(engine):
    cid = launched(engine)
    someone = sorted(members(engine, cid))[0]
    link_telegram(engine, someone, 4242)
    go(engine, cid)
    tg = messages(engine, TO)
    assert [(r.msisdn, r.chat_id, r.cause) for r in tg] == [(someone, 4242, f"cmp:{cid}:{someone}")]
    assert someone not in {r.msisdn for r in messages(engine)}


def test_run_twice_writes_nothing_more(both):
    """The second run finds the campaign done; forcing it back to running, it finds every cause written."""
    cid = launched(both)
    first = go(both, cid)
    assert go(both, cid) == {"id": cid, "state": "done", "written": 0}
    with both.begin() as conn:
        conn.execute(update(Campaign.__table__).values(state="running", cursor=""))
    assert go(both, cid)["written"] == 0
    assert set(causes(both).values()) == {1} and sum(causes(both).values()) == first["written"]


def test_concurrent_runs_write_each_message_once(both):
    """Four runs at once, small batches: every member once, the written count exact, one 'done'."""
    cid = launched(both)
    results = []
    threads = [threading.Thread(target=lambda: results.append(go(both, cid, batch=3))) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    counted = causes(both)
    assert set(counted.values()) == {1} and set(counted) == {f"cmp:{cid}:{m}" for m in members(both, cid)}
    assert sum(r["written"] for r in results) == len(counted) == c.status(both, cid)["written"]
    assert [r["action"] for r in read(both)].count("campaign.done") == 1


def test_pause_stops_the_run_and_holds_what_is_written_resume_goes_on(both):
    """Paused after the first batch: no more rows, the written ones held; resumed: released and finished."""
    cid = launched(both)
    paused = []

    def pause_once(channel, ids):
        if not paused:
            paused.append(c.pause(both, cid, LI, NOW))

    assert go(both, cid, enqueue=pause_once)["state"] == "paused"
    rows = messages(both)
    assert len(rows) == 7 and {r.status for r in rows} == {"held"}
    assert go(both, cid)["state"] == "paused" and len(messages(both)) == 7
    c.resume(both, cid, LI, NOW + timedelta(minutes=5))
    assert {r.status for r in messages(both)} == {"pending"}
    assert go(both, cid)["state"] == "done"
    assert set(causes(both).values()) == {1} and len(causes(both)) == len(members(both, cid))


def test_cancel_writes_nothing_more_and_cancels_what_no_sender_took(both):
    """Cancelled after the first batch: the rest never written, the written ones cancelled, but a row a
    sender already took goes on."""
    cid = launched(both)
    done = []

    def cancel_once(channel, ids):
        if not done:
            with both.begin() as conn:  # a sender took the first row already
                conn.execute(update(O).where(O.c.id == ids[0]).values(status="sending"))
            done.append(c.cancel(both, cid, ZHAO, NOW))

    assert go(both, cid, enqueue=cancel_once)["state"] == "cancelled"
    assert go(both, cid)["state"] == "cancelled"
    assert Counter(r.status for r in messages(both)) == {"cancelled": 6, "sending": 1}


def test_a_scheduled_campaign_waits_for_its_start(engine):
    """Before start_at nothing is written and the run is queued for the start; at the start it runs."""
    start = NOW + timedelta(hours=2)
    cid = launched(engine, start_at=start.isoformat())
    queued = []
    assert go(engine, cid, requeue=lambda i, at: queued.append((i, at)))["state"] == "scheduled"
    assert queued == [(cid, start)] and messages(engine) == []
    assert go(engine, cid, clock=Clock(start))["state"] == "done"
    assert [r["action"] for r in read(engine)][-2:] == ["campaign.start", "campaign.done"]


def test_a_paced_run_keeps_to_its_rate(engine):
    """rate 5/s: batches of 5, the clock moved so that 54 members take about 54/5 s."""
    cid = launched(engine, rate_per_second=5)
    clock = Clock(NOW)
    go(engine, cid, batch=1000, clock=clock)
    n = len(members(engine, cid))
    assert clock.now - NOW == timedelta(seconds=(n - n % 5) / 5)


@pytest.mark.parametrize("rate, late, written", [
    (1, None, 1),  # queued at launch: a second's worth
    (3, timedelta(seconds=2), 9),  # its part started 2 s late: three seconds' worth
    (2, timedelta(minutes=5), 20),  # very late: at most ten seconds' worth
])
def test_a_paced_run_writes_a_part_and_queues_the_next_for_when_it_is_due(engine, rate, late, written):
    """The worker never sleeps on a paced run: a part is written and the next queued; a part that started
    late makes up for the wait (up to 10 s), so the rate holds whatever RQ's scheduler's delay."""
    cid = launched(engine, rate_per_second=rate)
    queued, clock = [], Clock(NOW)
    out = go(engine, cid, batch=4, clock=clock, due=NOW - late if late else None,
             requeue=lambda i, at: queued.append((i, at)))
    assert out["written"] == written and clock.slept == []
    assert queued == [(cid, NOW + timedelta(seconds=written / rate))]
    with engine.connect() as conn:
        lease = conn.execute(select(Campaign.__table__.c.run_until)).scalar()
    assert lease.replace(tzinfo=NOW.tzinfo) == NOW + timedelta(seconds=written / rate) + LEASE
    assert MAX_PART == 10 * PART


def test_the_rescan_finds_runs_that_died_and_leaves_live_ones(engine):
    """A running campaign whose lease passed is queued (and leased); a live lease or a future start is not."""
    dead, live = launched(engine), launched(engine)
    future = launched(engine, start_at=(NOW + timedelta(hours=1)).isoformat())
    with engine.begin() as conn:
        t = Campaign.__table__
        conn.execute(update(t).where(t.c.id == dead).values(run_until=NOW - timedelta(seconds=1)))
        conn.execute(update(t).where(t.c.id == live).values(run_until=NOW + timedelta(seconds=30)))
    assert stalled(engine, NOW, LEASE) == [dead]
    assert stalled(engine, NOW, LEASE) == []  # leased by the first re-scan
    assert stalled(engine, NOW + timedelta(hours=1), LEASE) == sorted([dead, live, future])
