"""A campaign of a reminder kind on a real database and a fixed clock: each member the kind is due for gets the
kind's reminder with their own values, exactly once (repeated, raced; SQLite and PostgreSQL), under the
campaign's cause; the others get nothing and are counted as not due; an offer's line and goto win over the
kind's own, and without an offer the kind's goto is written as a reminder run writes it."""
from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from jobs import campaigns as c
from jobs.campaign_kind import KindPartners
from jobs.campaign_run import CampaignSetup, Run
from jobs.campaign_tables import CampaignMember
from jobs.reminders import run as reminder_run
from jobs.tables import Outbox, ReminderGoto
from tests.jobs.campaign_world import both, engine  # noqa: F401  (fixtures)
from tests.jobs.campaign_world import CATALOGS, LI, NOW, ZHAO, number, spec, world
from tests.jobs.reminder_fakes import KINDS, SETUP, Bill, FakeBoss, LowBalance, services

O, G, M = Outbox.__table__, ReminderGoto.__table__, CampaignMember.__table__
BILLED = range(0, 60, 3)  # every third subscriber has a bill issued today (Dec 3 in Shanghai)


def boss() -> FakeBoss:
    """Bills issued on NOW's day, each its own amount (¥1.00 + i yuan); low balances for every fourth."""
    return FakeBoss(bills=[Bill(number(i), "2026-12", 100 * (i + 1), 100 * (i + 1), date(2026, 12, 3),
                                date(2026, 12, 15)) for i in BILLED],
                    lows=[LowBalance(number(i), 500 + i, NOW - timedelta(hours=1)) for i in range(0, 60, 4)])


def launched(engine, kind="bill-ready", **changes) -> int:
    """A campaign of `kind` to everyone (60 people, about 6 held back), previewed, approved and launched."""
    cid = c.create(engine, spec(audience={}, text=None, kind=kind, **changes), LI, NOW)["id"]
    c.preview(engine, cid, LI, NOW, CATALOGS, None, control_share=0.1)
    c.approve(engine, cid, ZHAO, NOW, 10_000)
    c.launch(engine, cid, LI, NOW)
    return cid


def go(engine, cid, svc, batch=7) -> dict:
    return Run(engine, cid, CATALOGS, setup=CampaignSetup(batch), partners=KindPartners(svc, SETUP),
               clock=lambda: NOW)()


def sent_to(engine, cid) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(M.c.msisdn).where(M.c.campaign_id == cid, M.c.control == False)).scalars())  # noqa: E712


def texts(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.msisdn: r.text for r in conn.execute(select(O))}


def gotos(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        return {g.msisdn: (g.kind, g.goto, g.cause, json.loads(g.params)) for g in conn.execute(select(G))}


def test_a_bill_campaign_sends_members_with_a_bill_their_own_amount_and_others_nothing(engine):
    """Each billed member reads their own bill; the unbilled ones get nothing and are counted as not due."""
    cid = launched(engine, offer=None)
    out = go(engine, cid, services(boss=boss()))
    members, billed = sent_to(engine, cid), {number(i) for i in BILLED}
    written = texts(engine)
    assert set(written) == members & billed and out["written"] == len(written) > 0
    for i in (i for i in BILLED if number(i) in members):  # English every 5th (campaign_world.people)
        assert written[number(i)] == (f"Your December 2026 bill is ¥{i + 1}.00, due Dec 15. Reply STOP to opt out."
                                      if i % 5 == 0 else f"您2026年12月账单金额¥{i + 1}.00，请于12月15日前缴费。回复TD退订")
    status = c.status(engine, cid)
    assert (status["state"], status["written"], status["not_due"]) == ("done", len(written), len(members - billed))
    assert gotos(engine) == {}  # bill-ready continues nothing


def test_the_members_text_is_exactly_what_a_reminder_run_renders(engine, tmp_path):
    """The same kind, subscribers and moment: the campaign's texts are the reminder run's, cause aside."""
    svc = services(boss=boss())
    cid = launched(engine, offer=None)
    go(engine, cid, svc)
    campaign = texts(engine)
    other = world(f"sqlite:///{tmp_path}/r.db", 60)
    reminder_run(KINDS["bill-ready"], NOW, other, svc, CATALOGS, SETUP)
    assert campaign == {m: t for m, t in texts(other).items() if m in campaign}
    other.dispose()


def test_a_kind_campaign_run_twice_and_concurrently_writes_each_message_once(both):
    """Three runs at once and one after: one message per due member, written and not_due counted once."""
    svc = services(boss=boss())
    cid = launched(both)
    results = []
    threads = [threading.Thread(target=lambda: results.append(go(both, cid, svc, batch=3))) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    results.append(go(both, cid, svc))
    with both.connect() as conn:
        counted = Counter(conn.execute(select(O.c.cause)).scalars())
    due = sent_to(both, cid) & {number(i) for i in BILLED}
    assert set(counted.values()) == {1} and set(counted) == {f"cmp:{cid}:{m}" for m in due}
    status = c.status(both, cid)
    assert sum(r["written"] for r in results) == len(due) == status["written"]
    assert status["not_due"] == len(sent_to(both, cid)) - len(due)


def test_with_an_offer_the_offer_line_then_the_hint_and_the_goto_is_the_offers(engine):
    """low-balance has its own goto (points.topup): the campaign's offer wins, line and goto."""
    cid = launched(engine, kind="low-balance")
    go(engine, cid, services(boss=boss()))
    written = texts(engine)
    low = sent_to(engine, cid) & {number(i) for i in range(0, 60, 4)}
    assert set(written) == low
    assert written[number(20)] == ("Your balance is ¥5.20, below ¥10.00. Reply 1 to top up ¥50.00 with 2,500 "
                                   "points. Reply 1 to get 2,000 points. Reply STOP to opt out.")
    assert written[number(4)].endswith("。回复1领取2,000积分。回复TD退订")
    assert {m: g[1:] for m, g in gotos(engine).items()} == {
        m: ("offers.claim", f"cmp:{cid}:{m}", {"campaign": cid, "points": 2000}) for m in low}


def test_without_an_offer_the_kinds_own_goto_is_written_with_the_members_values(engine):
    """As a reminder run writes it (kind, goto, values), under the campaign's cause."""
    cid = launched(engine, kind="low-balance", offer=None)
    go(engine, cid, services(boss=boss()))
    found = gotos(engine)
    assert number(20) in found and set(found) == set(texts(engine))
    kind, goto, cause, values = found[number(20)]
    assert (kind, goto, cause) == ("low-balance", "points.topup", f"cmp:{cid}:{number(20)}")
    assert (values["balance_fen"], values["threshold_fen"], values["reward"]) == (520, 1000, "topup50")


def test_a_kind_campaign_without_partners_fails_loudly_and_writes_nothing(engine):
    cid = launched(engine)
    with pytest.raises(RuntimeError, match="needs the partners"):
        Run(engine, cid, CATALOGS, clock=lambda: NOW)()
    assert texts(engine) == {}
