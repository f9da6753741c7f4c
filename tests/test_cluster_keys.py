"""Redis Cluster readiness: the real processes (`serve`, a worker, the simulated gateway) on a Redis of this
test's own, a representative workload (USSD hops and a points transfer to another subscriber, SMS turns, a
reminder), then every key in that Redis and every command MONITOR saw is checked: a subscriber's number is
only ever a key's whole hash tag, and what must run on one node (a script, a transaction, a multi-key
command) has its keys on one slot."""
from __future__ import annotations

import pytest
from aiohttp import ClientSession
from sqlalchemy import create_engine, select

from integrations.boss.tables import PointsEntry
from tests.cluster_keys import Keys, Monitor, Seen, cross_slot, untagged
from tests.processes import UNGATED, Stack, bring_up, eventually
from tests.test_end_to_end import Handset

SENDER, RECIPIENT, TEXTER = "+8613800000001", "+8613800000005", "+8613800000011"
NUMBERS = [f"+86138000000{n:02d}" for n in range(1, 51)]  # the demo seed's 50 subscribers


@pytest.fixture
async def stack(tmp_path, own_redis):
    stack = Stack(tmp_path, own_redis.url, **UNGATED)
    await bring_up(stack, 50)
    yield stack
    stack.stop()


async def ussd(http: ClientSession, stack: Stack, ref: str, inputs: list[str]) -> str:
    async with http.post(f"{stack.web}/ussd/africastalking", params={"key": "test-secret"},
                         data={"sessionId": ref, "serviceCode": "*126#", "phoneNumber": SENDER,
                               "networkCode": "46000", "text": "*".join(inputs)}) as r:
        assert r.status == 200
        return await r.text()


async def transfer(stack: Stack) -> None:
    """Points, Transfer, the recipient, 100 points, Confirm: one hop each, as a gateway sends them."""
    steps = ["2", "4", RECIPIENT, "100", "1"]
    async with ClientSession() as http:
        assert (await ussd(http, stack, "t1", [])).startswith("CON ")
        for n in range(1, len(steps) + 1):
            answer = await ussd(http, stack, "t1", steps[:n])
    assert answer.startswith("CON ") and "Sorry" not in answer, answer


def transferred(stack: Stack) -> int:
    engine = create_engine(stack.env["SHORTCODE_DATABASE_URL"])
    with engine.connect() as conn:
        found = conn.execute(select(PointsEntry.delta).where(PointsEntry.msisdn == RECIPIENT,
                                                               PointsEntry.kind == "transfer_in")).scalars().all()
    engine.dispose()
    return sum(found)


async def test_every_key_written_is_tagged_by_its_subscriber_and_every_script_is_on_one_slot(stack, own_redis):
    """USSD, a transfer between two subscribers, SMS and a reminder: no key holds a number outside its hash
    tag, and no script, transaction or multi-key command of Shortcode's spans two slots."""
    monitor = Monitor(own_redis.port)
    monitor.start()
    await transfer(stack)
    assert transferred(stack) == 100
    phone = Handset(stack, TEXTER)
    assert (await phone.text("PTS")).strip() and (await phone.text("1")).strip()
    stack.run("boss", "balance", TEXTER, "5")
    stack.run("remind", "low-balance", "--msisdn", TEXTER)
    await eventually(lambda: phone.messages(), timeout=30)
    await eventually(lambda: _reminded(phone), timeout=30)
    seen = monitor.stop()

    with own_redis.client() as client:
        keys = list(client.scan_iter(count=1000))
        assert untagged(keys, NUMBERS) == [], "keys with a number outside their hash tag"
        assert any(b"{" + SENDER.encode() + b"}" in k for k in keys)  # the workload did write such keys
        known = Keys(client)
        known.learn(seen)
    assert _scripts(seen) >= 10, "MONITOR saw the session scripts"
    assert cross_slot(seen, known) == [], "scripts, transactions or multi-key commands over two slots"


async def _reminded(phone: Handset) -> bool:
    return any("¥5.00" in m["text"] for m in await phone.messages())


def _scripts(seen: list[Seen]) -> int:
    return sum(s.name.startswith("EVAL") for s in seen)


def test_the_checks_catch_an_untagged_key_and_a_script_over_two_subscribers(own_redis):
    """The checks can fail: a session key with the bare number, and one EVAL over two subscribers' keys."""
    monitor = Monitor(own_redis.port)
    monitor.start()
    with own_redis.client() as client:
        client.eval("redis.call('SET', KEYS[1], 1) return redis.call('SET', KEYS[2], 1)", 2,
                    "sc:s:{+8613800000001}", "sc:s:{+8613800000002}")
        client.eval("return redis.call('SET', KEYS[1], 1)", 1, "sc:s:+8613800000003")
        client.eval("redis.call('SET', KEYS[1], 1) return redis.call('SET', KEYS[2], 1)", 2,
                    "sc:lock:{+8613800000004}", "sc:s:{+8613800000004}")
        seen = monitor.stop()
        keys = list(client.scan_iter())
        assert untagged(keys, NUMBERS) == ["sc:s:+8613800000003"]
        known = Keys(client)
        known.learn(seen)
    [bad] = cross_slot(seen, known)
    assert "+8613800000001" in bad and "+8613800000002" in bad
