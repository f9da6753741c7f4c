"""One normalisation of phone numbers for testers, gateways and subscribers: E.164, or refused."""
from __future__ import annotations

import pytest

from bot.msisdn import BadNumber, normalise

REFUSED = "not a valid phone number for region CN"


@pytest.mark.parametrize("raw", ["13800000005", "+8613800000005", "+86 138 0000 0005", "008613800000005"])
def test_a_subscriber_number_is_written_in_e164_however_it_was_typed(raw):
    """A local, international or spaced form of one mobile number gives one E.164 number."""
    assert normalise(raw) == "+8613800000005"


@pytest.mark.parametrize("raw", ["12345", "+8612345", "+8610000000000", "hello", "", "+447700900123"])
def test_a_number_outside_the_numbering_plan_is_refused_with_one_message(raw):
    """`12345` is not taken for `+8612345`: short, unassigned and non-numbers get the same answer."""
    with pytest.raises(BadNumber) as caught:
        normalise(raw)
    assert str(caught.value) == REFUSED
