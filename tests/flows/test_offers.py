"""The offers flow on the engine and the simulated BOSS: a campaign's values enter at `offers.claim`, are
checked, and a points offer credits once per campaign and subscriber, however often it is claimed."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.engine.engine import Context
from bot.engine.flow import TIERS, Call, Profile
from flows import OPERATIONS, offers
from flows.packages import PACKAGES
from integrations.services import simulated

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
GOLD = Profile("+8613800000001", "张伟", "gold", "en", "Asia/Shanghai")  # 12,800 points, bill ¥188.50
POINTS = {"campaign": 7, "points": 2_000}


@pytest.fixture
def services(db):
    return simulated(db, clock=lambda: NOW)


def claim(core, services, values: dict, replies: tuple[str, ...] = (), profile: Profile = GOLD) -> str:
    """Enter the flow as a campaign's "1" does, answer `replies`, carry out calls; the last screen's text."""
    engine, ctx = core.engines["sms"], Context(profile, core.renderers["sms"], services)
    turn = engine.begin(None, profile.msisdn, "r", NOW, ctx, start="offers.claim", values=values)
    for text in (None, *replies):
        if text is not None:
            turn = engine.step(turn.session, text, NOW, ctx)
        while turn.call is not None:
            turn = engine.resume(turn.session, OPERATIONS[turn.call.operation](services, turn.call), NOW, ctx)
    rendered = ctx.renderer.render(turn.screen, profile.lang, 0)
    assert rendered.fits, rendered.text
    return rendered.text


def test_a_points_offer_credits_at_once_and_a_second_claim_says_already(core, services):
    """The second claim of one campaign's offer (a goto written twice) credits nothing and says so."""
    assert claim(core, services, POINTS).startswith("You received 2,000 points; balance 14,800.")
    assert claim(core, services, POINTS).startswith("You already received this offer; balance 14,800.")
    assert services.boss.account(GOLD.msisdn).points == 14_800 and services.boss.awarded("cmp:7:") == 1


def test_another_campaigns_offer_is_a_new_credit(core, services):
    claim(core, services, POINTS)
    assert claim(core, services, {**POINTS, "campaign": 8}).startswith("You received 2,000 points; balance 16,800.")


def test_a_retried_award_call_credits_once(services):
    """The dispatcher may run one Call again after a timeout: the BOSS key is the offer's, so it pays once."""
    call = Call("offers.award", offers.offer_key(7, GOLD.msisdn), (("msisdn", GOLD.msisdn), ("points", 2_000),
                                                                    ("campaign", 7)))
    assert [offers.award(services, call).name for _ in range(3)] == ["ok", "already", "already"]
    assert services.boss.account(GOLD.msisdn).points == 14_800


@pytest.mark.parametrize("values", [
    {"points": 2_000}, {"campaign": True, "points": 2_000}, {"campaign": "7", "points": 2_000},
    {"campaign": 7, "points": 0}, {"campaign": 7, "points": -5}, {"campaign": 7, "points": "2000"},
    {"campaign": 7, "points": offers.MAX_POINTS + 1}, {"campaign": 7},
    {"campaign": 7, "package": "health_plus", "price_fen": 4_000}, {"campaign": 7, "package": "health"},
    {"campaign": 7, "package": "health", "price_fen": 6_001}, {"campaign": 7, "package": "health", "price_fen": 0},
], ids=str)
def test_an_offer_whose_values_make_no_sense_is_refused_and_changes_nothing(core, services, values):
    """The goto's values are checked, never trusted: a broken campaign credits and charges nothing."""
    before = services.boss.account(GOLD.msisdn)
    assert claim(core, services, values).startswith("This offer is no longer available. Nothing was charged.")
    assert services.boss.account(GOLD.msisdn) == before and services.boss.subscriptions(GOLD.msisdn) == []


def test_a_package_offer_confirms_then_subscribes_at_the_offer_price_on_the_bill(core, services):
    offer = {"campaign": 7, "package": "car_full", "price_fen": 15_000}
    assert claim(core, services, offer).startswith(
        "Car-owner full at ¥150.00/year instead of ¥200.00/year. Subscribe?\n1. Yes\n2. No")
    assert claim(core, services, offer, ("1",)).startswith("Subscribed to Car-owner full until")
    [held] = services.boss.subscriptions(GOLD.msisdn)
    assert (held.package, held.price_fen, held.pay) == ("car_full", 15_000, "bill")
    assert services.boss.account(GOLD.msisdn).bill_fen == 18_850 + 15_000 and services.boss.awarded("cmp:7:") == 1
    assert claim(core, services, offer).startswith("You already have Car-owner full. Nothing was charged.")


def test_a_declined_package_offer_charges_nothing(core, services):
    offer = {"campaign": 7, "package": "car_full", "price_fen": 15_000}
    assert claim(core, services, offer, ("2",)).startswith("No problem: nothing was charged.")
    assert services.boss.subscriptions(GOLD.msisdn) == [] and services.boss.account(GOLD.msisdn).bill_fen == 18_850


def test_a_package_not_sold_at_the_subscribers_tier_is_no_longer_offered(core, services):
    """Golf service is for silver and above: a regular subscriber's offer of it is refused, nothing charged."""
    regular = Profile("+8613800000001", "Li", "regular", "en", "Asia/Shanghai")
    offer = {"campaign": 7, "package": "golf", "price_fen": 10_000}
    assert claim(core, services, offer, profile=regular).startswith("This offer is no longer available.")
    assert services.boss.subscriptions(regular.msisdn) == []


def test_a_monthly_package_offer_is_priced_by_the_month_and_lasts_a_month(core, services):
    """¥3.00 a month is not ¥3.00 a year: the period is part of both prices, and of the subscription."""
    offer = {"campaign": 7, "package": "health_tips", "price_fen": 300}
    assert claim(core, services, offer).startswith("Health tips at ¥3.00/month instead of ¥5.00/month.")
    claim(core, services, offer, ("1",))
    assert services.boss.subscriptions(GOLD.msisdn)[0].until == date(2026, 12, 23)


plain = st.one_of(st.integers(-10, 10**9), st.booleans(), st.none(), st.text(max_size=12),
                  st.sampled_from(sorted(PACKAGES)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(st.sampled_from(["campaign", "points", "package", "price_fen"]), plain),
       tier=st.sampled_from(TIERS), lang=st.sampled_from(["zh_Hans", "en"]),
       replies=st.lists(st.sampled_from(["1", "2", "0", "x"]), max_size=3))
def test_any_goto_values_never_raise_overflow_or_credit_twice(core, services, values, tier, lang, replies):
    """Whatever a broken or hostile goto holds: a screen that fits, and never more than one credit a key."""
    profile = Profile(GOLD.msisdn, "Li", tier, lang, "Asia/Shanghai")
    for _ in range(2):
        claim(core, services, values, tuple(replies), profile)
    credits = [e for e in services.boss.history(GOLD.msisdn, 0, 10_000)[0] if e.kind == "award"]
    assert len({e.ref for e in credits}) == len(credits)
    assert sum(e.delta for e in credits) <= offers.MAX_POINTS * len(credits)
