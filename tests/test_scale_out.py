"""Scale-out, proven on the local cluster (bot/tools/cluster.py: real redis-server and PostgreSQL): two `serve`
and two workers answer a USSD session whose hops alternate between them, an SMS burst delivered to both,
and a bulk reminder send, each applied and submitted once; the ledger and the outbox end as with one of each."""
from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import redis
from aiohttp import ClientSession
from rq import Worker
from sqlalchemy import create_engine, select

from bot.tools.cluster import Cluster, Ports, Topology
from integrations.boss.tables import PointsEntry
from integrations.smsgateway import signing
from jobs.tables import Outbox
from tests.conftest import free_port, scan_rq
from tests.privacy import leaks
from tests.processes import UNGATED, eventually

SENDERS = [f"+86138000000{n:02d}" for n in range(1, 9)]  # each sends 100 points to the next one
TEXTERS = [f"+86138000000{n:02d}" for n in range(21, 51)]  # each texts PTS once, delivered to both serve
BULK_AT = "2026-12-01T10:00"  # the demo's bills are issued that day: every subscriber is due `bill-ready`
SUBSCRIBERS = 1500


def _ports() -> Ports:
    serve = free_port()
    while True:  # serve i listens on serve + i
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", serve + 1))
            break
        except OSError:
            serve = free_port()
    return Ports(serve=serve, gateway=free_port(), telegram=free_port(), redis=free_port(), postgres=free_port())


@dataclass
class Run:
    """What one topology did with the script: the answers, the gateway's counters, the ledger and the outbox."""

    ussd: list[list[str]]
    replays: list[list[str]]
    replies: Counter
    reminded: int
    gateway: dict
    jobs_per_worker: list[int]
    ledger: Counter
    outbox: Counter


@pytest.fixture(scope="module")
def cluster():
    """The stores once for the module (PostgreSQL must be able to enter the folder: not under tmpfs 0700)."""
    base = Path(tempfile.mkdtemp(prefix="shortcode-cluster-"))
    base.chmod(0o755)
    cluster = Cluster(base, _ports(), env={**UNGATED, "SHORTCODE_SCHEDULE_REMINDERS": "false",
                                           "SHORTCODE_LOG_LEVEL": "warning"})
    cluster.start_stores()
    yield cluster
    cluster.stop()
    shutil.rmtree(base, ignore_errors=True)


def run_topology(cluster: Cluster, serve: int, workers: int) -> Run:
    """Fresh data, the topology up, the script, the apps down; every process log checked for leaks."""
    cluster.stop_apps()
    cluster.reset_data()
    cluster.start_apps(Topology(serve=serve, workers=workers, telegram=False, subscribers=SUBSCRIBERS))
    try:
        return asyncio.run(script(cluster, serve))
    finally:
        cluster.stop_apps()
        scan_rq(cluster.redis_url, f"scale-out cluster, {serve} serve + {workers} workers")  # RQ records too
        found = [f"{p.name}: {line}" for p in cluster.logs.glob("*.log") if p.name not in ("redis.log",)
                 for line in leaks(p.read_text(errors="replace"))]
        assert not found, f"logs carry full numbers, secrets or bodies: {found[:5]}"


@pytest.fixture(scope="module")
def scaled(cluster) -> Run:
    return run_topology(cluster, serve=2, workers=2)


async def script(cluster: Cluster, webs: int) -> Run:
    async with ClientSession() as http:
        # one after the other: the points left on each screen and SMS then do not depend on who came first
        walks = [await transfer(http, cluster, webs, i) for i in range(len(SENDERS))]
        await sms_burst(http, cluster, webs)
        await eventually(lambda: _replies(http, cluster, len(TEXTERS)), timeout=30, every=0.2)
        await asyncio.sleep(1)  # a late double would arrive now
        replies = Counter(m["to"] for m in (await _json(http, cluster.gateway + "/control/stats"))["messages"]
                          if m["to"] in TEXTERS)
        reminded = _remind(cluster)
        await eventually(lambda: _settled(cluster), timeout=40, every=0.2)
        await asyncio.sleep(1)
        gateway = await _json(http, cluster.gateway + "/control/counts")
    return Run([w[0] for w in walks], [w[1] for w in walks], replies, reminded, gateway, _jobs(cluster),
               *summaries(cluster))


async def _json(http: ClientSession, url: str) -> dict:
    async with http.get(url) as r:
        return await r.json()


# --- USSD: a points transfer whose hops alternate between the web processes, each hop also replayed ----------
async def transfer(http: ClientSession, cluster: Cluster, webs: int, i: int) -> tuple[list[str], list[str]]:
    """Hop k goes to serve k mod N; the gateway's retry of it goes to the other serve and must get the same
    screen without applying anything again."""
    sender, to = SENDERS[i], SENDERS[(i + 1) % len(SENDERS)]
    inputs = ["2", "4", to, "100", "1"]  # points, transfer, recipient, amount, confirm
    key = cluster.secrets["SHORTCODE_USSD_SECRET"]
    answers, replays = [], []
    for k in range(len(inputs) + 1):
        form = {"sessionId": f"scale{i}", "serviceCode": "*126#", "phoneNumber": sender, "networkCode": "46000",
                "text": "*".join(inputs[:k])}
        for target, into in ((k % webs, answers), ((k + 1) % webs, replays)):
            async with http.post(cluster.web(target) + f"/ussd/africastalking?key={key}", data=form) as r:
                assert r.status == 200
                into.append(await r.text())
    return answers, replays


# --- SMS: a burst, each message delivered to both web processes (a gateway retrying on another node) --------
async def sms_burst(http: ClientSession, cluster: Cluster, webs: int) -> None:
    secret = cluster.secrets["SHORTCODE_SMS_SECRETS"]

    async def deliver(i: int, number: str) -> None:
        form = {"id": f"ATInbound_scale{i}", "from": number, "to": "12580", "text": "PTS",
                "date": "2026-12-03 10:00:00", "linkId": f"scale{i}", "networkCode": "46000"}
        body = urlencode(form).encode()
        for target in {i % webs, (i + 1) % webs}:
            headers = {"Content-Type": "application/x-www-form-urlencoded", **signing.headers(secret, body)}
            async with http.post(cluster.web(target) + "/sms/inbound", data=body, headers=headers) as r:
                assert r.status == 200, await r.text()

    await asyncio.gather(*(deliver(i, n) for i, n in enumerate(TEXTERS)))


async def _replies(http: ClientSession, cluster: Cluster, expected: int) -> bool:
    stats = await _json(http, cluster.gateway + "/control/stats")
    return len({m["to"] for m in stats["messages"] if m["to"] in TEXTERS}) >= expected


# --- bulk: one reminder run, its send jobs taken by whichever worker is free ----------------------------------
def _remind(cluster: Cluster) -> int:
    cluster.shortcode("remind", "bill-ready", "--at", BULK_AT)
    with _engine(cluster) as engine, engine.connect() as conn:
        return len(conn.execute(select(Outbox.id).where(Outbox.kind != "reply")).all())


def _settled(cluster: Cluster) -> bool:
    """Every outbox row has left `pending` (sent, or decided otherwise)."""
    with _engine(cluster) as engine, engine.connect() as conn:
        return not conn.execute(select(Outbox.id).where(Outbox.status == "pending").limit(1)).first()


def _jobs(cluster: Cluster) -> list[int]:
    with redis.Redis.from_url(cluster.redis_url) as conn:
        return sorted(w.successful_job_count for w in Worker.all(connection=conn))


@contextmanager
def _engine(cluster: Cluster):
    engine = create_engine(cluster.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def summaries(cluster: Cluster) -> tuple[Counter, Counter]:
    """The ledger (who, how many points, why) and the outbox (to whom, what kind, its status and text),
    without ids, times or delivery reports, which differ from run to run."""
    E, O = PointsEntry.__table__, Outbox.__table__
    with _engine(cluster) as engine, engine.connect() as conn:
        ledger = Counter(tuple(r) for r in conn.execute(select(E.c.msisdn, E.c.delta, E.c.kind)))
        outbox = Counter(tuple(r) for r in conn.execute(select(O.c.msisdn, O.c.kind, O.c.status, O.c.text)))
    return ledger, outbox


def test_a_ussd_session_alternating_between_two_serve_transfers_once(scaled):
    """Every hop answered the same by both processes; each sender's 100 points left once, arrived once."""
    for answers, replays in zip(scaled.ussd, scaled.replays):
        assert answers == replays
        assert answers[-1].startswith("CON ") and "100" in answers[-1], answers[-1]
    transfers = Counter((msisdn, delta) for (msisdn, delta, kind), n in scaled.ledger.items()
                        for _ in range(n) if kind.startswith("transfer"))
    assert transfers == Counter({**{(s, -100): 1 for s in SENDERS}, **{(s, 100): 1 for s in SENDERS}})


def test_an_sms_burst_delivered_to_both_serve_is_answered_once_per_message(scaled):
    """30 messages, each posted to both web processes: 30 replies, one per number."""
    assert scaled.replies == Counter({n: 1 for n in TEXTERS})


def test_a_bulk_send_over_two_workers_is_submitted_once_per_recipient(scaled):
    """The gateway was offered each message once (repeats included in `offered`), and both workers worked."""
    assert scaled.reminded >= SUBSCRIBERS
    sent = sum(n for (_, _, status, _), n in scaled.outbox.items() if status == "sent")
    assert scaled.gateway["offered"] == scaled.gateway["accepted"] == sent
    assert len(scaled.jobs_per_worker) == 2 and min(scaled.jobs_per_worker) > 0, scaled.jobs_per_worker


def test_the_ledger_and_the_outbox_end_as_with_one_serve_and_one_worker(cluster, scaled):
    """The same script on one serve and one worker leaves the same ledger and outbox."""
    single = run_topology(cluster, serve=1, workers=1)
    assert single.ussd == scaled.ussd
    assert single.ledger == scaled.ledger
    assert single.outbox == scaled.outbox
    assert single.gateway["accepted"] == scaled.gateway["accepted"]
