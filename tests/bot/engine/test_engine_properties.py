"""Property: any input sequence on the shipped flows never raises, never overflows, always serialises."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.engine.engine import Context
from bot.engine.flow import TIERS, Profile
from integrations.services import simulated
from bot.engine.session import dumps, loads
from flows import OPERATIONS

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)

inputs = st.one_of(
    st.sampled_from(["0", "00", "1", "2", "3", "4", "98", "99", "", " 1 ", "01"]),
    st.text(max_size=30),
)
profiles = st.builds(
    Profile, msisdn=st.just("+8613800000001"), name=st.text(min_size=1, max_size=8), tier=st.sampled_from(TIERS),
    lang=st.sampled_from(["zh_Hans", "en"]), timezone=st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York"]))


@pytest.fixture
def services(db):
    return simulated(db)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(profile=profiles, steps=st.lists(st.tuples(inputs, st.integers(0, 200)), max_size=25),
       redial=st.booleans())
def test_random_inputs_never_raise_overflow_or_lose_state(core, services, profile, steps, redial):
    ctx = Context(profile, core.renderers["ussd"], services)
    renderer = ctx.renderer
    now = NOW
    turn = core.engines["ussd"].begin(None, profile.msisdn, "r", now, ctx)
    for text, wait in steps:
        now += timedelta(seconds=wait)
        if turn.session.ended or (redial and wait > 150):
            turn = core.engines["ussd"].begin(turn.session, profile.msisdn, f"r{wait}", now, ctx)
        else:
            turn = core.engines["ussd"].step(turn.session, text, now, ctx)
        for _ in range(4):  # carry out calls as the dispatcher does, against the simulated partners
            if turn.call is None:
                break
            outcome = OPERATIONS[turn.call.operation](services, turn.call)
            turn = core.engines["ussd"].resume(turn.session, outcome, now, ctx)
        rendered = renderer.render(turn.screen, turn.session.lang, turn.session.page)
        assert rendered.fits, rendered.text
        assert loads(dumps(turn.session)) == turn.session
        assert turn.session.errors < core.settings.session.max_wrong_inputs or turn.session.ended
        assert turn.session.location[0] in core.engines["ussd"].flows
