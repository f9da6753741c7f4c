"""Every recorded conversation under tests/transcripts/ replays against the real dispatcher and Redis,
each on a scratch database of its own: the same result every time and in any order."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.tools import transcripts
from bot.tools.local import local_dispatcher

FILES = sorted((Path(__file__).parent / "transcripts").glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_transcript(path, core, redis_url):
    miss = await transcripts.replay(path, core, redis_url)
    assert miss is None, miss.report()


def test_there_are_transcripts_for_both_languages():
    assert {p.stem for p in FILES} >= {"account_zh", "account_en", "points_zh", "points_en"}


async def test_every_transcript_passes_again_and_in_reverse_order_in_one_process(core):
    """A transcript that books, pays or transfers leaves nothing behind for the next run or the next file."""
    for path in [*reversed(FILES), *FILES]:
        miss = await transcripts.replay(path, core)
        assert miss is None, miss.report()


async def test_a_replay_leaves_the_development_database_alone(core):
    """The configured database is not where a transcript books: its subscribers' points stay as they were."""
    from sqlalchemy import text

    async with local_dispatcher(core) as dispatcher:
        before = dispatcher.subscribers.engine.connect().execute(text("SELECT points FROM boss_account")).all()
    assert await transcripts.replay(Path(__file__).parent / "transcripts" / "points_en.yaml", core) is None
    async with local_dispatcher(core) as dispatcher:
        with dispatcher.subscribers.engine.connect() as conn:
            assert conn.execute(text("SELECT points FROM boss_account")).all() == before
            assert conn.execute(text("SELECT count(*) FROM points_entry WHERE kind != 'opening'")).scalar() == 0


async def test_a_wrong_expectation_is_reported_with_a_diff(tmp_path, core):
    bad = tmp_path / "bad.yaml"
    bad.write_text('subscriber: "+8613800000001"\nlang: en\nsteps:\n  - dial: "*126#"\n  - expect: "CON Nope"\n')
    miss = await transcripts.replay(bad, core)
    assert miss.step == 2 and "-CON Nope" in miss.report() and "+CON Shortcode services" in miss.report()


async def test_a_booking_code_reaches_the_handset_by_sms_as_in_production(tmp_path, core):
    """The confirming screen's SMS (Confirmations) is what `expect_sms` sees, once, after the confirming hop."""
    script = tmp_path / "golf_sms.yaml"
    script.write_text('subscriber: "13800000011"\nlang: en\nnow: "2026-11-23T10:00:00+08:00"\nsteps:\n'
                      '  - dial: "*126#"\n' + "".join(f'  - send: "{k}"\n' for k in "31131111") +
                      '  - expect_contains: "Code G"\n  - expect_sms: ["Booked", "Code G"]\n'
                      '  - send: "00"\n  - expect_contains: "CON Shortcode services"\n')
    shown: list[str] = []
    assert await transcripts.replay(script, core, echo=shown.append) is None
    sms = [s for s in shown if "SMS from 12580" in s]
    assert len(sms) == 1 and "[SMS GSM-7" in sms[0] and "segment(s)]" in sms[0]


async def test_a_service_code_the_webhook_refuses_fails_the_transcript(tmp_path, core):
    script = tmp_path / "code.yaml"
    script.write_text('steps:\n  - dial: "*999#"\n')
    miss = await transcripts.replay(script, core)
    assert miss.step == 1 and "unknown serviceCode '*999#'" in miss.actual


async def test_expect_sms_fails_when_the_hop_sent_no_text(tmp_path, core):
    """A screen that confirms nothing sends no SMS: an `expect_sms` after it is a mismatch, not a pass."""
    script = tmp_path / "no_sms.yaml"
    script.write_text('lang: en\nsteps:\n  - dial: "*126#"\n  - expect_sms: "Booked"\n')
    miss = await transcripts.replay(script, core)
    assert (miss.step, miss.expected, miss.actual) == (2, "... Booked ...", "(no SMS)")
