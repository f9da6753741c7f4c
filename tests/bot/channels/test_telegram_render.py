"""The Telegram renderer: a menu as buttons with a navigation row, pages as the engine turns them, within
Telegram's limits for every screen lint renders."""
from __future__ import annotations

import json

import pytest

from bot.channels import buttons
from bot.channels.telegram_render import NEXT, PREVIOUS, draw, problems
from bot.dispatcher import Reply
from bot.engine.flow import Screen
from bot.engine.text import T
from bot.tools.lint import demo_services, lint_telegram, samples


@pytest.fixture(scope="module")
def services():
    with demo_services() as found:
        yield found


def keyboard(drawn) -> list[list[dict]]:
    return json.loads(drawn.markup)["inline_keyboard"] if drawn.markup else []


def menu(n: int, back: bool = True) -> Screen:
    return Screen("menu", T("Choose"), tuple(T(f"Option {i + 1}") for i in range(n)), back=back)


def reply_of(core, screen: Screen, page: int = 0, lang: str = "en") -> Reply:
    rendered = core.renderers["telegram"].render(screen, lang, page)
    return Reply(rendered.text, rendered.final, screen, rendered.page, rendered.pages, lang)


def test_the_telegram_channel_pages_menus_ten_options_a_page(core):
    """The engine's pages for Telegram hold at most 10 options, so 98/99 agree with the buttons."""
    assert core.renderers["telegram"].pages(menu(23), "en") == [list(range(10)), list(range(10, 20)), [20, 21, 22]]
    assert core.renderers["sms"].budget.per_page == 0
    entry = core.channels["telegram"]
    assert entry.key_prefix == "tg:" and not entry.offers_resume and entry.budget.gsm7 == 4096


def test_a_menu_draws_one_button_per_option_labelled_as_typed(core):
    """Typing N works as pressing "N. option": the label says the number, the data carries it."""
    drawn = draw(reply_of(core, menu(3)), 41, core.catalogs)
    rows = keyboard(drawn)
    assert drawn.text == "Choose"
    assert [r[0]["text"] for r in rows[:3]] == ["1. Option 1", "2. Option 2", "3. Option 3"]
    assert [buttons.decode(r[0]["callback_data"]) for r in rows[:3]] == [
        buttons.Press(41, "1"), buttons.Press(41, "2"), buttons.Press(41, "3")]
    assert [buttons.decode(b["callback_data"]).input for b in rows[3]] == ["0", "00"]


def test_a_paged_menu_draws_previous_and_next_where_they_apply(core):
    """First page: ▶ only; middle: ◀ and ▶; last: ◀ only; each with the input 98/99 the engine turns."""
    say = lambda t: core.catalogs.render("en", t)  # noqa: E731
    inputs = []
    for page in range(3):
        rows = keyboard(draw(reply_of(core, menu(23), page), 7, core.catalogs))
        nav = rows[-1]
        inputs.append([buttons.decode(b["callback_data"]).input for b in nav])
        options = [r[0]["text"] for r in rows[:-1]]
        assert options[0].startswith(f"{page * 10 + 1}. ")
        if page > 0:
            assert nav[0]["text"] == say(PREVIOUS)
        if page < 2:
            assert nav[-1]["text"] == say(NEXT)
    assert inputs == [["0", "00", "98"], ["99", "0", "00", "98"], ["99", "0", "00"]]


def test_the_root_menu_has_no_back_and_end_and_input_screens_no_keyboard(core):
    assert keyboard(draw(reply_of(core, menu(2, back=False)), 1, core.catalogs)) == [
        [{"text": "1. Option 1", "callback_data": "p1:1:1"}], [{"text": "2. Option 2", "callback_data": "p1:1:2"}]]
    assert draw(reply_of(core, Screen("end", T("Thanks"), back=False)), 1, core.catalogs).markup == ""
    asked = draw(reply_of(core, Screen("input", T("Your plate?"), (), T("Not a plate"))), 1, core.catalogs)
    assert asked == type(asked)("Not a plate\nYour plate?", "")


def test_an_info_screen_shows_its_lines_in_the_text(core):
    screen = Screen("info", T("History"), (T("line a"), T("line b")), numbered=False)
    drawn = draw(reply_of(core, screen), 5, core.catalogs)
    assert drawn.text == "History\nline a\nline b"
    assert [buttons.decode(b["callback_data"]).input for b in keyboard(drawn)[0]] == ["0", "00"]


def test_navigation_labels_are_translated(core):
    rows = keyboard(draw(reply_of(core, menu(12), 1, "zh_Hans"), 3, core.catalogs))
    labels = [b["text"] for b in rows[-1]]
    assert labels == [core.catalogs.render("zh_Hans", t) for t in (PREVIOUS, T("Back"), T("Home"))]
    assert all(label.isascii() is False for label in labels)


def test_every_screen_lint_renders_draws_within_telegram_limits(core, services):
    """4096 characters a message, short button labels, 64 bytes of callback_data: on every page."""
    renderer = core.renderers["telegram"]
    assert sum(1 for _ in samples(core.engines["ussd"], renderer, services)) > 100
    assert lint_telegram(core.engines["ussd"], renderer, services) == []


def test_lint_reports_a_label_telegram_would_cut(core):
    drawn = draw(reply_of(core, Screen("menu", T("Pick"), (T("x" * 80),))), 1, core.catalogs)
    assert any("button of" in p for p in problems(drawn))
    assert any("text of" in p for p in problems(type(drawn)("y" * 4097, "")))
