"""Every recorded conversation under tests/transcripts/ replays against the real dispatcher and Redis."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot import transcripts
from bot.local import local_dispatcher

FILES = sorted((Path(__file__).parent / "transcripts").glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_transcript(path, core, redis_url):
    clock = transcripts.clock_for(transcripts.load(path))
    async with local_dispatcher(core, clock, redis_url) as dispatcher:
        miss = await transcripts.run(path, dispatcher, clock)
    assert miss is None, miss.report()


def test_there_are_transcripts_for_both_languages():
    assert {p.stem for p in FILES} >= {"account_zh", "account_en", "points_zh", "points_en"}


async def test_a_wrong_expectation_is_reported_with_a_diff(tmp_path, core):
    bad = tmp_path / "bad.yaml"
    bad.write_text('subscriber: "+8613800000001"\nlang: en\nsteps:\n  - dial: "*126#"\n  - expect: "CON Nope"\n')
    clock = transcripts.Clock()
    async with local_dispatcher(core, clock) as dispatcher:
        miss = await transcripts.run(bad, dispatcher, clock)
    assert miss.step == 2 and "-CON Nope" in miss.report() and "+CON Shortcode services" in miss.report()
