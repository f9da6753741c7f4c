"""How an expected USSD screen is held to a Telegram message: options as buttons, USSD paging ignored,
titles line by line, an END screen without buttons."""
from __future__ import annotations

import json

from bot.channels.buttons import encode
from bot.tools.tg_client import Message
from bot.tools.tg_compare import Layout, view


def message(text: str, options: list[str] = (), nav: tuple[str, ...] = ("0", "00")) -> Message:
    labels = {"0": "Back", "00": "Home", "98": "Next ▶", "99": "◀ Previous"}
    rows = [[{"text": o, "callback_data": encode(5, o.split(".")[0])}] for o in options]
    rows += [[{"text": labels[t], "callback_data": encode(5, t)} for t in nav]] if nav else []
    return Message(1, text, {"inline_keyboard": rows} if rows else {})


def test_a_menu_matches_its_buttons_and_title(core):
    layout = Layout(core.catalogs)
    shown = message("Choose a course", ["1. Mission Hills", "2. Pine Valley"])
    assert layout.exact("CON Choose a course\n1. Mission Hills\n2. Pine Valley\n0 Back 00 Home\n", shown) is None
    assert "option buttons" in layout.exact("CON Choose a course\n1. Mission Hills\n0 Back 00 Home", shown)
    assert "text lines" in layout.exact("CON Choose a date\n1. Mission Hills\n2. Pine Valley", shown)


def test_a_ussd_page_needs_only_be_among_the_telegram_page(core):
    """USSD pages by bytes, Telegram by 10: a USSD page 2 with 98/99 is a part of Telegram's page."""
    layout = Layout(core.catalogs)
    shown = message("Tee times", [f"{i}. 07:{i:02}" for i in range(1, 11)], ("0", "00", "98"))
    assert layout.exact("CON Tee times\n5. 07:05\n6. 07:06\n98 More\n99 Previous\n0 Back 00 Home", shown) is None
    assert "option buttons" in layout.exact("CON Tee times\n5. 07:05\n11. 07:11\n98 More", shown)


def test_an_end_screen_has_no_buttons_and_back_home_need_buttons(core):
    layout = Layout(core.catalogs)
    assert "END screen" in layout.exact("END Goodbye", message("Goodbye", [], ("0", "00")))
    assert layout.exact("END Goodbye", message("Goodbye", [], ())) is None
    assert "Back and Home" in layout.contains("0 Back 00 Home", message("Menu", ["1. A"], ("98",)))
    assert layout.contains("How many players?\n0 Back 00 Home", message("How many players?", [], ())) is None


def test_the_terminal_shows_buttons_as_numbers_to_type():
    shown = message("Main", ["1. Golf", "2. Points"], ("99", "0", "00", "98"))
    assert view(shown).splitlines() == ["Main", "[1] Golf  [2] Points  [◀ 99]  [0] Back  [00] Home  [98 ▶]"]
    assert json.dumps(shown.markup)  # a plain Bot API keyboard
