"""A campaign's messages through the real SMS sender and its gate, against the simulated gateway over
loopback HTTP, on fixed clocks: quiet hours in the subscriber's zone hold a campaign launched at 20:55 until
08:00, and the report's numbers add up (suppressed, capped, deferred, sent, delivered, replied, accepted,
zones against the control group)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from integrations.boss.tables import BossAccount
from integrations.services import simulated
from integrations.smsgateway.client import GatewayClient
from jobs import campaigns as c
from jobs.campaign_run import CampaignSetup, Run
from jobs.campaign_tables import CampaignMember
from jobs.delivery import record_report
from jobs.gate import Gate
from jobs.outbox import O, Sender
from jobs.tables import ChurnScore, OptOut, SendCap
from tests.jobs.campaign_world import CATALOGS, LI, ZHAO, spec, world
from tests.jobs.test_gate import Clock, gateway  # noqa: F401  (the simulated gateway over loopback: a fixture)

UTC = timezone.utc
M = CampaignMember.__table__


def shanghai(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """December `day` 2026 at this time in Shanghai (UTC+8), as UTC."""
    return datetime(2026, 12, day, hour, minute, second, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture
def engine(sql_url):
    engine = world(sql_url, 40, opted_out=(4, 9))
    yield engine
    engine.dispose()


def launch(engine, now: datetime, **changes) -> int:
    cid = c.create(engine, spec(audience={}, **changes), LI, now)["id"]
    c.preview(engine, cid, LI, now, CATALOGS, None, control_share=0.2)
    c.approve(engine, cid, ZHAO, now, 10_000)
    c.launch(engine, cid, LI, now)
    Run(engine, cid, CATALOGS, setup=CampaignSetup(10), clock=Clock(now))()
    return cid


def ids(engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(O.c.id).order_by(O.c.id)).scalars())


async def send(engine, base: str, at: datetime, which: list[int]) -> Sender:
    import asyncio

    sender = Sender(engine, GatewayClient(base, "shortcode", "k"), backoff=(0, 0, 0), clock=Clock(at), gate=Gate())
    await asyncio.to_thread(sender.send, which)
    return sender


async def test_launched_at_20_55_it_sends_nothing_from_21_00_until_08_00(gateway, engine):
    """Some go before 21:00; at 21:00 the rest wait (deferred) and nothing is accepted all night, even when
    every due row is handed to the sender again; at 08:00 the rest go, each member once."""
    gw, base = gateway
    cid = launch(engine, shanghai(2, 20, 55))
    rows = ids(engine)
    await send(engine, base, shanghai(2, 20, 59), rows[:5])
    assert gw.accepted == 5
    await send(engine, base, shanghai(2, 21, 0), rows)
    assert gw.accepted == 5 and c.status(engine, cid)["deferred"] == len(rows) - 5
    for night in (shanghai(2, 23, 30), shanghai(3, 3, 0), shanghai(3, 7, 59, 59)):
        sender = Sender(engine, GatewayClient(base, "shortcode", "k"), clock=Clock(night), gate=Gate())
        await send(engine, base, night, sender.due() + rows)
        assert gw.accepted == 5, night
    await send(engine, base, shanghai(3, 8, 0), rows)
    status = c.status(engine, cid)
    assert gw.accepted == len(rows) == status["sent"] == status["written"] and status["deferred"] == 0
    assert len({m.to for m in gw.messages.values()}) == len(rows)


async def test_the_report_numbers_add_up(gateway, engine):
    """audience = control + written; written = sent + suppressed at send time + capped; suppressed counts
    the opted out at preview and at send time; delivered, replied and accepted as they happened; the zones
    of those messaged against the control group's."""
    gw, base = gateway
    now = shanghai(3, 10)
    cid = launch(engine, now)
    with engine.connect() as conn:
        messaged = sorted(conn.execute(select(M.c.msisdn).where(M.c.campaign_id == cid, M.c.control == False))  # noqa: E712
                          .scalars())
        control = sorted(conn.execute(select(M.c.msisdn).where(M.c.campaign_id == cid, M.c.control == True))  # noqa: E712
                         .scalars())
    late_stop, capped, replier, taker = messaged[:4]
    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn=late_stop, opted_out=True, channel="sms", text="TD",
                                                     changed_at=now))
        conn.execute(insert(SendCap.__table__).values(msisdn=capped, cap_class="marketing", window="d:2026-12-03",
                                                      sent=1))
    await send(engine, base, now, ids(engine))
    with engine.connect() as conn:
        gids = list(conn.execute(select(O.c.gateway_message_id).where(O.c.status == "sent").order_by(O.c.id))
                    .scalars())
    record_report(engine, gids[0], "Success", now)
    record_report(engine, gids[1], "Failed", now)
    _replies(engine, cid, now, [replier, taker, control[0]], before=[messaged[5]])
    services = simulated(engine, lambda: now)
    with engine.begin() as conn:
        conn.execute(insert(BossAccount.__table__).values(msisdn=taker, points=0, balance_fen=0, bill_fen=0))
    assert services.boss.award_points(taker, 2000, f"cmp:{cid}:{taker}", f"cmp:{cid}").ok
    assert services.boss.award_points(taker, 2000, f"cmp:{cid}:{taker}", f"cmp:{cid}").ok  # a second "1"
    worse = _scores(engine, messaged, control)

    report = c.report(engine, cid, services)
    written = len(messaged)
    assert report["audience"] == written + len(control) == 38 and report["control"] == len(control)
    assert (report["written"], report["sent"], report["capped"]) == (written, written - 2, 1)
    assert report["suppressed"] == 2 + 1  # two at preview, one at send time
    assert (report["delivered"], report["failed"], report["deferred"]) == (1, 1, 0)
    assert (report["replied"], report["accepted"]) == (2, 1)
    zones = report["zones"]
    assert zones["baseline_week"] == "2026-W49" and zones["week"] == "2026-W51"
    assert zones["messaged"]["scored"] == written and zones["messaged"]["better"] == written // 2
    share = round(worse / len(control), 4)
    assert zones["control"] == {"scored": len(control), "better": 0, "worse": worse, "same": len(control) - worse,
                                "better_share": 0.0, "worse_share": share, "same_share": round(1 - share, 4)}
    assert zones["messaged"]["worse"] == 0 and zones["effect"]["worse_share"] == -share


def _replies(engine, cid, now, who: list[str], before: list[str]) -> None:
    """A "1" from each of `who` after the launch, twice from the first; one from `before` before it."""
    from bot.models import SmsInbox

    rows = [(m, now + timedelta(minutes=5)) for m in who] + [(who[0], now + timedelta(minutes=6))]
    rows += [(m, now - timedelta(days=1)) for m in before]
    with engine.begin() as conn:
        conn.execute(insert(SmsInbox.__table__), [
            {"gateway": "sim", "message_id": f"r{n}", "msisdn": m, "short_code": "12580", "text": " 1",
             "received_at": at} for n, (m, at) in enumerate(rows)])


def _scores(engine, messaged: list[str], control: list[str]) -> int:
    """Two weeks on: half of those messaged went from their zone to blue; the control group all to white
    (dormant). Returns how many of the control group that made worse (those not white already)."""
    t = ChurnScore.__table__
    with engine.begin() as conn:
        old = {r.msisdn: r.zone for r in conn.execute(select(t.c.msisdn, t.c.zone).where(t.c.week == "2026-W49"))}
        better = [m for m in messaged if old[m] != "blue"][: len(messaged) // 2]
        rows = [{"msisdn": m, "week": "2026-W51", "score": 0.1, "reasons": "",
                 "zone": "blue" if m in better else ("white" if m in control else old[m])}
                for m in messaged + control]
        conn.execute(insert(t), rows)
    return sum(old[m] != "white" for m in control)
