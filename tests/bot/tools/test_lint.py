"""Every screen `shortcode lint` renders, walked page by page as a subscriber would with 98 and 99."""
from __future__ import annotations

import re

import pytest

from bot.engine import engine as eng
from bot.engine.engine import Turn
from bot.i18n import LANGUAGES
from bot.tools.lint import NOTICES, NOW, Sample, demo_services, samples
from bot.engine.render import BACK, MORE, PREVIOUS


@pytest.fixture(scope="module")
def services():
    with demo_services() as found:
        yield found


def _walk(core, renderer, sample: Sample, lang: str) -> list[str]:
    """The option lines of each page reached with 98 from the first (error on top) and back with 99;
    asserts that "98 More" and "99 Previous" are shown exactly where the engine turns the page."""
    say = renderer.catalogs.render
    more, previous, back = say(lang, MORE), say(lang, PREVIOUS), say(lang, BACK)
    turn, chunks = Turn(sample.session.evolve(lang=lang, page=0), sample.screen), []
    while True:
        lines = renderer.render(turn.screen, lang, turn.session.page).text.split("\n")
        head = ([say(lang, turn.screen.error)] if turn.screen.error else []) + [say(lang, turn.screen.title)]
        head = "\n".join(head).split("\n")
        assert lines[:len(head)] == head, lines
        body = lines[len(head):]
        body = body[:-1] if body[-1:] == [back] else body
        shows_previous = body[-1:] == [previous]
        body = body[:-1] if shows_previous else body
        shows_more = body[-1:] == [more]
        chunks.append(body[:-1] if shows_more else body)
        assert shows_previous == _turns(core, turn, "99", sample, -1), (lang, lines)
        if not _turns(core, turn, "98", sample, 1):
            assert not shows_more, (lang, lines)
            return chunks
        assert shows_more, (lang, lines)
        turn = core.engines["ussd"].step(turn.session, "98", NOW, sample.ctx)
        assert not turn.session.error, "98 is a page turn, never a wrong entry"


def _turns(core, turn: Turn, key: str, sample: Sample, by: int) -> bool:
    """Whether the engine answers `key` by showing the neighbouring page of the same screen."""
    after = core.engines["ussd"].step(turn.session, key, NOW, sample.ctx)
    return (after.session.location == turn.session.location and after.session.page == turn.session.page + by
            and not after.session.error and after.screen is not None)


def _whole(chunks: list[list[str]], options: list[str]) -> bool:
    """Every page holds at least one option and no option is cut between two pages."""
    ends, at = set(), 0
    for option in options:
        at += option.count("\n") + 1
        ends.add(at)
    cuts = [sum(len(c) for c in chunks[:i + 1]) for i in range(len(chunks))]
    return not options and chunks == [[]] or all(chunks) and set(cuts) <= ends


def _options(renderer, screen, lang: str) -> list[str]:
    texts = [renderer.catalogs.render(lang, o) for o in screen.options]
    return [f"{i + 1}. {t}" if screen.numbered else t for i, t in enumerate(texts)]


@pytest.mark.parametrize("channel", ["ussd", "sms"])
def test_every_page_a_subscriber_reaches_shows_every_option_once_whatever_the_error_line(core, services, channel):
    """From the first page (with each error line it may carry), 98 then 99: every option once, in order, no
    option cut, and the nav lines are shown exactly when the engine accepts them."""
    renderer, walked, errors = core.renderers[channel], 0, set()
    for sample in samples(core.engines["ussd"], renderer, services, NOTICES.get(channel, ())):
        for lang in LANGUAGES:
            if sample.session is None:  # the engine's own end screens: no options, no paging
                assert renderer.page_count(sample.screen, lang) == 1
                continue
            chunks = _walk(core, renderer, sample, lang)
            options = _options(renderer, sample.screen, lang)
            expected = "\n".join(options).split("\n") if options else []
            assert sum(chunks, []) == expected, (sample.flow, sample.state, lang, chunks)
            assert _whole(chunks, options), (sample.flow, sample.state, lang, chunks)
            walked += len(chunks) > 1
            errors.add(sample.screen.error)
    assert walked and {None, eng.WRONG_CHOICE, eng.UNAVAILABLE} <= errors  # the walk did page, with each error


def test_every_amount_on_every_screen_has_one_currency_style(core, services):
    """¥1,280.00 in both languages: no "CN¥236.00" beside "¥10"."""
    renderer, amounts = core.renderers["ussd"], set()
    for sample in samples(core.engines["ussd"], renderer, services):
        for lang in LANGUAGES:
            for page in range(renderer.page_count(sample.screen, lang)):
                shown = renderer.render(sample.screen, lang, page).text
                found = re.findall(r"(?:CN)?¥[\d,]*(?:\.\d*)?", shown)
                assert all(re.fullmatch(r"¥\d{1,3}(,\d{3})*\.\d\d", a) for a in found), shown
                amounts.update(found)
    assert len(amounts) > 10
