"""Button data round-trips, stays within Telegram's 64 bytes, and anything else is no press at all."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from bot.channels.buttons import MAX_BYTES, Press, decode, encode


@given(st.integers(min_value=0, max_value=2**62), st.sampled_from(["1", "10", "0", "00", "98", "99", "9999"]))
def test_a_press_round_trips_within_telegrams_limit(hop, text):
    data = encode(hop, text)
    assert len(data.encode()) <= MAX_BYTES and decode(data) == Press(hop, text)


@pytest.mark.parametrize("data", ["", "p1", "p1:3", "p1::1", "p1:x:1", "p2:3:1", "p1:3:", "p1:3:golf", "p1:3:1:2",
                                  "p1:3:１", "p1:-1:1", "p1:3:12345"])
def test_data_we_did_not_write_is_no_press(data):
    assert decode(data) is None
