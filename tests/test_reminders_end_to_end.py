"""Reminders end to end with real processes over loopback: `shortcode scheduler` fires the low-balance
reminder, a worker sends it through the simulated gateway to the handset, the subscriber replies 1 and lands
on the top-up confirmation, and confirms it. Quiet hours and caps are off, as the wall clock decides here."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import create_engine, select

from integrations.boss.tables import BossAccount
from tests.processes import ROOT, UNGATED, Stack, bring_up, eventually
from tests.test_end_to_end import Handset

SUBSCRIBER = "+8613800000001"  # gold, Chinese, with points to spend


@pytest.fixture
async def stack(tmp_path, redis_url):
    menus = tmp_path / "menus"
    shutil.copytree(ROOT / "menus", menus)
    kinds = (menus / "reminders.toml").read_text()
    low = kinds.index('kind = "low-balance"')
    (menus / "reminders.toml").write_text(kinds[:low] + kinds[low:].replace(
        'class = "care"', 'class = "care"\ncron = "* * * * *"', 1))  # every minute, not every ten
    stack = Stack(tmp_path, redis_url, SHORTCODE_PATHS_MENUS=str(menus), SHORTCODE_SCHEDULE_REMINDERS="true", **UNGATED)
    await bring_up(stack, 50)
    yield stack
    stack.stop()


async def test_the_scheduler_fires_low_balance_the_handset_gets_it_and_reply_1_tops_up(stack):
    stack.run("boss", "balance", SUBSCRIBER, "5")  # below the ¥10 threshold: a crossing, now
    phone = Handset(stack, SUBSCRIBER)
    stack.start("scheduler", "scheduler")

    async def reminded():
        found = [m for m in await phone.messages() if "回复1" in m["text"] and "¥5.00" in m["text"]]
        return found[0] if found else None
    reminder = await eventually(reminded, timeout=120, every=0.5)
    phone.seen = len(await phone.messages())
    assert "回复TD退订" in reminder["text"]

    confirm = await phone.text("1")
    assert confirm.startswith("用2,500积分兑换50元话费？")  # the redeem confirmation, the ¥50 top-up chosen

    engine = create_engine(stack.env["SHORTCODE_DATABASE_URL"])
    with engine.connect() as conn:
        before = conn.execute(select(BossAccount.balance_fen).where(BossAccount.msisdn == SUBSCRIBER)).scalar_one()
    done = await phone.text("1")
    with engine.connect() as conn:
        after = conn.execute(select(BossAccount.balance_fen).where(BossAccount.msisdn == SUBSCRIBER)).scalar_one()
    engine.dispose()
    assert after - before == 5000, done
