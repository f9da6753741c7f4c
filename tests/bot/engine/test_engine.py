"""The engine on its own: pure steps, navigation, errors, paging, timeout and resume."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.engine import events as ev
from bot.engine.engine import Context, Engine, Policy
from bot.engine.flow import Ask, Choice, End, Flow, Invalid, Menu, Profile
from integrations.services import simulated
from bot.engine.session import Session
from bot.engine.text import T, Verbatim

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
PROFILE = Profile("+8613800000001", "张伟", "gold", "en", "Asia/Shanghai")


def _many(view):
    return [Choice(T("Option {n}", n=Verbatim(f"number {n:02d} with a long label")), "done") for n in range(1, 21)]


def _age(text, view):
    return int(text) if text.isdigit() and 0 < int(text) < 130 else Invalid(T("Enter an age from 1 to 129."))


TEST_FLOW = Flow("test", "pick", {
    "pick": Menu(lambda v: T("Pick one"), _many, exits=("done",)),
    "done": Ask(lambda v: T("Your age?"), _age, key="age", goto="bye"),
    "bye": End(lambda v: T("Thanks, {age}.", age=str(v.values["age"]))),
})


@pytest.fixture
def engine(core):
    flows = {**core.engines["ussd"].flows, "test": TEST_FLOW}
    return Engine(flows, core.menus.root, Policy(idle_timeout=120, resume_window=600, max_wrong_inputs=3))


@pytest.fixture
def ctx(core, db):
    return Context(PROFILE, core.renderers["ussd"], simulated(db))


def dial(engine, ctx, previous=None, now=NOW):
    return engine.begin(previous, PROFILE.msisdn, "r1", now, ctx, "*126#")


def run(engine, ctx, *inputs, session=None, now=NOW):
    turn = dial(engine, ctx) if session is None else None
    session = session or turn.session
    for text in inputs:
        turn = engine.step(session, text, now, ctx)
        session = turn.session
    return turn


def text(ctx, turn):
    return ctx.renderer.render(turn.screen, turn.session.lang, turn.session.page).text


def test_dial_shows_main_menu_and_announces_start(engine, ctx):
    """A new dial lands on the root menu in the subscriber's language."""
    turn = dial(engine, ctx)
    assert turn.session.location == ("menu", "main")
    assert text(ctx, turn).startswith("Shortcode services\n1. My account\n2. My points")
    assert turn.events == (ev.SessionStarted("*126#"),)


def test_menu_reprompts_on_out_of_range_choice(engine, ctx):
    """A wrong choice re-shows the same screen with a one-line error above it."""
    turn = run(engine, ctx, "7")
    assert turn.session.location == ("menu", "main")
    assert text(ctx, turn).splitlines()[:2] == ["Invalid choice, try again.", "Shortcode services"]
    assert isinstance(turn.events[0], ev.InputRejected)


def test_three_wrong_inputs_in_a_row_end_politely(engine, ctx):
    turn = run(engine, ctx, "9", "x", "")
    assert turn.screen.final and turn.session.ended
    assert "Too many wrong entries" in text(ctx, turn)
    assert ev.SessionEnded("too_many_errors") in turn.events


def test_a_valid_input_resets_the_wrong_count(engine, ctx):
    turn = run(engine, ctx, "9", "9", "1", "9", "9")
    assert not turn.session.ended and turn.session.location == ("account", "home")


def test_zero_goes_back_and_double_zero_goes_home(engine, ctx):
    turn = run(engine, ctx, "1", "1")
    assert turn.session.location == ("account", "bill")
    assert run(engine, ctx, "0", session=turn.session).session.location == ("account", "home")
    home = run(engine, ctx, "00", session=turn.session)
    assert home.session.location == ("menu", "main") and home.session.stack == ()


def test_info_screen_accepts_only_navigation(engine, ctx):
    turn = run(engine, ctx, "1", "1", "5")
    assert turn.session.location == ("account", "bill") and turn.session.error


def test_long_menu_pages_with_98_and_99_without_cutting_options(engine, ctx):
    session = Session(PROFILE.msisdn, "r1", "test", "pick", "en", NOW.timestamp())
    first = engine.screen(session, NOW, ctx)
    pages = ctx.renderer.pages(first, "en")
    assert len(pages) > 1 and sum(len(p) for p in pages) == 20
    page2 = engine.step(session, "98", NOW, ctx)
    assert page2.session.page == 1
    shown = text(ctx, page2)
    assert "99 Previous" in shown and f"{pages[1][0] + 1}. Option" in shown
    assert ctx.renderer.budget.fits(shown)
    back = engine.step(page2.session, "99", NOW, ctx)
    assert back.session.page == 0
    assert engine.step(session, "99", NOW, ctx).session.error  # no page before the first


def test_choice_on_a_later_page_keeps_its_number(engine, ctx):
    session = Session(PROFILE.msisdn, "r1", "test", "pick", "en", NOW.timestamp())
    turn = engine.step(session, "20", NOW, ctx)
    assert turn.session.location == ("test", "done")


def test_input_is_validated_and_collected(engine, ctx):
    session = Session(PROFILE.msisdn, "r1", "test", "done", "en", NOW.timestamp())
    bad = engine.step(session, "200", NOW, ctx)
    assert "Enter an age from 1 to 129." in text(ctx, bad)
    good = engine.step(bad.session, "42", NOW, ctx)
    assert good.session.values["age"] == 42 and good.screen.final
    assert ev.SessionEnded("completed") in good.events


def test_idle_session_times_out(engine, ctx):
    turn = dial(engine, ctx)
    late = engine.step(turn.session, "1", NOW + timedelta(seconds=121), ctx)
    assert late.screen.final and "timed out" in text(ctx, late)


def test_new_dial_within_resume_window_offers_to_continue(engine, ctx):
    deep = run(engine, ctx, "1", "2").session
    offer = dial(engine, ctx, deep, NOW + timedelta(seconds=300))
    assert text(ctx, offer).startswith("Welcome back. Continue where you left off?\n1. Continue\n2. Start over")
    cont = engine.step(offer.session, "1", NOW + timedelta(seconds=301), ctx)
    assert cont.session.location == ("account", "balance")
    again = engine.step(offer.session, "2", NOW + timedelta(seconds=301), ctx)
    assert again.session.location == ("menu", "main")


def test_new_dial_after_resume_window_starts_fresh(engine, ctx):
    deep = run(engine, ctx, "1", "2").session
    fresh = dial(engine, ctx, deep, NOW + timedelta(seconds=601))
    assert fresh.session.location == ("menu", "main") and not fresh.session.resume


def test_language_change_applies_at_once(engine, ctx):
    turn = run(engine, ctx, "1", "3", "1")
    assert turn.session.lang == "zh_Hans"
    assert ev.LanguageChanged("zh_Hans") in turn.events
    assert text(ctx, turn).startswith("完成")


def test_timed_out_hop_counts_so_a_retry_of_it_is_a_replay(engine, ctx):
    turn = dial(engine, ctx)
    late = engine.step(turn.session, "1", NOW + timedelta(seconds=121), ctx)
    assert late.session.hops == 1
    assert "timed out" in text(ctx, type(late)(late.session, engine.screen(late.session, NOW, ctx)))


def test_goto_own_flow_start_is_valid():
    from bot.engine.flowcheck import check_flows
    from bot.engine.flow import Show
    loop = Flow("loop", "a", {"a": Show(lambda v: T("x"), exits=("flow:loop",))})
    check_flows({"loop": loop})


def test_list_lines_page_with_98_and_are_not_choices(engine, ctx, core):
    from bot.engine.flow import Show
    lines = Flow("lines", "show", {"show": Show(lambda v: T("Ledger"),
                                                items=lambda v: [T("line {n}", n=str(n)) for n in range(40)])})
    eng = Engine({**engine.flows, "lines": lines}, core.menus.root)
    session = Session(PROFILE.msisdn, "r1", "lines", "show", "en", NOW.timestamp())
    first = eng.screen(session, NOW, ctx)
    rendered = ctx.renderer.render(first, "en", 0).text
    assert rendered.startswith("Ledger\nline 0\nline 1") and "1. line" not in rendered and "98 More" in rendered
    page2 = eng.step(session, "98", NOW, ctx)
    assert page2.session.page == 1 and "line 0\n" not in text(ctx, page2)
    assert eng.step(session, "1", NOW, ctx).session.error  # a line is not a choice


def test_a_screen_reads_its_partner_data_once_even_when_paged(engine, ctx, monkeypatch):
    """The tee-time screen needs the free slots for its title and its choices; 98 reuses that screen."""
    calls = []
    golf = ctx.services.golf
    original = golf.free_slots
    monkeypatch.setattr(golf, "free_slots", lambda *a: calls.append(a) or original(*a))
    gold = Profile(PROFILE.msisdn, "x", "gold", "en", "Asia/Shanghai")
    gctx = Context(gold, ctx.renderer, ctx.services)
    session = Session(PROFILE.msisdn, "r1", "golf", "day", "en", NOW.timestamp(), values={"course": 1})
    turn = engine.step(session, "3", NOW, gctx)
    assert turn.session.state == "slot" and len(calls) == 1
    page2 = engine.step(turn.session, "98", NOW, gctx)
    assert page2.session.page == 1 and len(calls) == 2


def test_wrong_answer_to_the_resume_question_reshows_it_with_the_error_line(engine, ctx):
    """"1 Continue / 2 Start over" answered with anything else: the question again, the error line on top."""
    deep = run(engine, ctx, "1", "2").session
    offer = dial(engine, ctx, deep, NOW + timedelta(seconds=300))
    wrong = engine.step(offer.session, "7", NOW + timedelta(seconds=301), ctx)
    assert wrong.session.resume and isinstance(wrong.events[0], ev.InputRejected)
    assert text(ctx, wrong).startswith("Invalid choice, try again.\nWelcome back. Continue where you left off?\n1.")
    cont = engine.step(wrong.session, "1", NOW + timedelta(seconds=302), ctx)
    assert cont.session.location == ("account", "balance") and not cont.session.error and cont.session.errors == 0
    assert not text(ctx, cont).startswith("Invalid choice")
