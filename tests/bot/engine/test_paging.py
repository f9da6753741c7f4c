"""Paging after a wrong entry: 98/99 walk the same pages whatever error line is on top of the first."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.engine import events as ev
from bot.engine.engine import Context, Turn
from bot.engine.flow import Profile
from bot.tools.lint import WIDEST, demo_services
from bot.engine.session import Session
from integrations.golf import DAYS_AHEAD
from integrations.services import simulated

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
NAV = ("98 ", "99 ", "0 ")


def _ctx(core, db, lang: str) -> Context:
    return Context(Profile("+8613800000001", "x", "gold", lang, "Asia/Shanghai"), core.renderers["ussd"], simulated(db))


def _options(ctx, turn) -> list[str]:
    """The numbered option lines a subscriber sees on the turn's page."""
    lines = ctx.renderer.render(turn.screen, turn.session.lang, turn.session.page).text.splitlines()
    return [line for line in lines if line.split(".")[0].isdigit()]


def _dates(core, ctx, first) -> list[str]:
    seen, turn = _options(ctx, first), first
    while "98" in ctx.renderer.render(turn.screen, turn.session.lang, turn.session.page).text:
        turn = core.engines["ussd"].step(turn.session, "98", NOW, ctx)
        assert not any(isinstance(e, ev.InputRejected) for e in turn.events), "98 shown but refused"
        seen += _options(ctx, turn)
    return seen


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_golf_dates_after_a_wrong_entry_are_each_seen_once_with_98(core, db, lang):
    """A wrong entry on the date list, then 98, 98...: every date shows up once, the first page's last one too."""
    ctx = _ctx(core, db, lang)
    session = Session(ctx.profile.msisdn, "r", "golf", "day", lang, NOW.timestamp(), values={"course": 1})
    wrong = core.engines["ussd"].step(session, "x", NOW, ctx)
    assert wrong.session.error and wrong.session.page == 0
    seen = _dates(core, ctx, wrong)
    assert [line.split(".")[0] for line in seen] == [str(n) for n in range(1, DAYS_AHEAD + 1)]
    assert seen == _dates(core, ctx, Turn(session, core.engines["ussd"].screen(session, NOW, ctx)))  # as without the error


@pytest.fixture
def widest():
    """lint's partners: a subscriber with the widest figures, whose points menu only just fits one page."""
    with demo_services() as services:
        yield services


@pytest.mark.parametrize("flow,state,values,lang,msisdn", [
    ("golf", "day", {"course": 1}, "zh_Hans", None), ("golf", "day", {"course": 1}, "en", None),
    ("points", "home", {}, "zh_Hans", WIDEST),  # one page without the error line, two with it before the fix
])
def test_98_and_99_after_an_error_on_a_paged_list_are_accepted(core, db, widest, flow, state, values, lang, msisdn):
    """After a wrong entry, 98 and 99 turn pages wherever they are shown; never counted as wrong entries."""
    ctx = _ctx(core, db, lang)
    if msisdn:
        ctx = Context(Profile(msisdn, "x", "diamond", lang, "Asia/Shanghai"), ctx.renderer, widest)
    session = Session(ctx.profile.msisdn, "r", flow, state, lang, NOW.timestamp(), values=values)
    wrong = core.engines["ussd"].step(session, "x", NOW, ctx)
    assert "\n98 " in ctx.renderer.render(wrong.screen, lang, 0).text
    more = core.engines["ussd"].step(wrong.session, "98", NOW, ctx)
    assert more.session.page == 1 and more.session.errors == wrong.session.errors and not more.session.error
    back = core.engines["ussd"].step(more.session, "99", NOW, ctx)
    assert back.session.page == 0 and back.session.errors == wrong.session.errors
    twice = core.engines["ussd"].step(core.engines["ussd"].step(back.session, "x", NOW, ctx).session, "98", NOW, ctx)
    assert twice.session.page == 1 and not twice.session.ended
