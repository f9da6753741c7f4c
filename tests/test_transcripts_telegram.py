"""Every recorded conversation under tests/transcripts/ also replays on the Telegram channel: a linked chat
user, numbers pressed as buttons, each on a scratch database of its own and the real Redis."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.tools import tg_transcripts

FILES = sorted((Path(__file__).parent / "transcripts").glob("*.yaml"))
GOLF_EN = Path(__file__).parent / "transcripts" / "golf_en.yaml"


def script(tmp_path, steps: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text('subscriber: "+8613800000172"\nlang: en\nnow: "2026-11-23T10:00:00+08:00"\nsteps:\n' + steps)
    return path


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_transcript_on_telegram(path, core, redis_url):
    miss = await tg_transcripts.replay(path, core, redis_url)
    assert miss is None, miss.report()


def test_all_twelve_transcripts_are_played():
    assert len(FILES) == 12


async def test_numbers_are_pressed_as_buttons_and_other_text_is_typed(core):
    """"3" presses "3. Golf"; "one" (a wrong answer to a question) is typed, as the echo shows."""
    shown: list[str] = []
    assert await tg_transcripts.replay(GOLF_EN, core, echo=shown.append) is None
    assert any(s.startswith("> [press 3. Golf]\n") for s in shown)
    assert any(s.startswith("> one\n") for s in shown)
    assert any(s.startswith("> [press Home]\n") for s in shown)  # 00


async def test_a_wrong_title_fails_with_what_telegram_showed(tmp_path, core):
    bad = script(tmp_path, '  - dial: "*126#"\n  - expect: |\n      CON Shortcode service\n'
                           '      1. My account\n      2. My points\n      3. Golf\n      4. Service packages\n'
                           '      5. Doctor registration\n      6. Traffic fines\n')
    miss = await tg_transcripts.replay(bad, core)
    assert miss.step == 2 and "-CON Shortcode service" in miss.report() and "+Shortcode services" in miss.report()


async def test_an_option_missing_from_the_buttons_fails(tmp_path, core):
    """The exact screen's options must be the message's buttons: one option fewer is a mismatch."""
    bad = script(tmp_path, '  - dial: "*126#"\n  - expect: |\n      CON Shortcode services\n'
                           '      1. My account\n      2. My points\n      3. Golf\n')
    miss = await tg_transcripts.replay(bad, core)
    assert miss.step == 2 and "option buttons" in miss.actual


async def test_a_fragment_neither_in_the_text_nor_on_a_button_fails(tmp_path, core):
    bad = script(tmp_path, '  - dial: "*126#"\n  - expect_contains: ["1. My account", "7. Lottery"]\n')
    miss = await tg_transcripts.replay(bad, core)
    assert miss.step == 2 and miss.expected == "... 7. Lottery ..." and "no button '7. Lottery'" in miss.actual


async def test_back_and_home_are_expected_as_buttons(tmp_path, core):
    """ "0 Back 00 Home" on a menu is Back and Home buttons: the main menu has none, so expecting it fails."""
    bad = script(tmp_path, '  - dial: "*126#"\n  - expect_contains: "0 Back 00 Home"\n')
    miss = await tg_transcripts.replay(bad, core)
    assert miss.step == 2 and "Back and Home buttons expected" in miss.actual


async def test_a_service_code_the_webhook_refuses_fails_on_telegram_too(tmp_path, core):
    miss = await tg_transcripts.replay(script(tmp_path, '  - dial: "*999#"\n'), core)
    assert miss.step == 1 and "unknown serviceCode '*999#'" in miss.actual


BUSY = ('  - dial: "*126#"\n  - send: "2"\n  - send: "1"\n  - partner: "boss down"\n  - send: "0"\n'
        '  - expect: "END Sorry, the service is busy. Please dial again in a moment."\n  - partner: "boss up"\n')


async def test_an_apology_then_continue_goes_on_from_the_chats_latest_menu_as_ussd_resumes(tmp_path, core):
    """USSD apologises and offers to resume; Telegram apologises when it gives up and keeps its session:
    the same transcript holds on both channels."""
    from bot.tools import transcripts

    path = script(tmp_path, BUSY + '  - dial: "*126#"\n  - expect_contains: "Welcome back"\n  - send: "1"\n'
                                   '  - expect: "CON You have 55,670 points, worth ¥1,113.40. They expire on Nov 30, '
                                   '2026.\\n0 Back 00 Home"\n  - send: "0"\n'
                                   '  - expect_contains: "CON Points: 55,670"\n')
    assert await transcripts.replay(path, core) is None
    assert await tg_transcripts.replay(path, core) is None


async def test_after_the_resume_window_a_dial_is_the_main_menu_on_both_channels(tmp_path, core):
    from bot.tools import transcripts

    path = script(tmp_path, BUSY + '  - wait: 3600\n  - dial: "*126#"\n  - expect_contains: "CON Shortcode services"\n'
                                   '  - send: "2"\n  - expect_contains: "CON Points: 55,670"\n')
    assert await transcripts.replay(path, core) is None
    assert await tg_transcripts.replay(path, core) is None
