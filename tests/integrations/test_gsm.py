"""The counter against hand-checked vectors: GSM-7 septets, UCS-2 units and SMS segments."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from integrations.gsm import GSM7_BASIC, GSM7_EXTENDED, count, units

VECTORS = [
    # text, encoding, units, segments (counted by hand)
    ("", "GSM-7", 0, 1),
    ("Hello", "GSM-7", 5, 1),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),  # 2 x 153
    ("a" * 307, "GSM-7", 307, 3),
    ("€", "GSM-7", 2, 1),
    ("^{}\\[~]|€", "GSM-7", 18, 1),
    ("\f", "GSM-7", 2, 1),
    ("a" * 159 + "€", "GSM-7", 161, 2),  # the escape pair does not fit: two parts
    ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", "GSM-7", 42, 1),  # 10+2+2+11+4+2+6+5
    ("你好", "UCS-2", 2, 1),
    ("😀", "UCS-2", 2, 1),  # one emoji is a surrogate pair
    ("a" * 70 + "中", "UCS-2", 71, 2),
    ("中" * 70, "UCS-2", 70, 1),
    ("中" * 134, "UCS-2", 134, 2),  # 2 x 67
    ("中" * 135, "UCS-2", 135, 3),
    ("ç", "UCS-2", 1, 1),  # lower-case c-cedilla is not in GSM-7 (only Ç is)
    ("`", "UCS-2", 1, 1),
]


@pytest.mark.parametrize("text,encoding,n,segments", VECTORS)
def test_count_matches_hand_checked_vectors(text, encoding, n, segments):
    result = count(text)
    assert (result.encoding, result.units, result.segments) == (encoding, n, segments)


def test_escape_pair_never_straddles_two_parts():
    """152 septets then €: 154 > 153, so € starts part two; 153 + 153 + 1 would be wrong."""
    text = "a" * 152 + "€" + "a" * 152
    # part 1: 152 a (the pair would make 154), part 2: € + 151 a = 153, part 3: 1 a
    assert count(text).segments == 3


def test_surrogate_pair_never_straddles_two_parts():
    text = "中" * 66 + "😀" + "中" * 66
    # part 1: 66 (the pair would make 68), part 2: pair + 65 = 67, part 3: 1
    assert count(text).segments == 3


def test_units_of_mixed_text_switch_the_whole_text_to_ucs2():
    assert units("Points: 100 积分") == len("Points: 100 积分")
    assert units("€ 积") == 3  # in UCS-2 the euro sign is one unit


def walked(text: str) -> tuple[str, int, int]:
    """The count character by character, as the network fills parts: the reference for `count`."""
    gsm7 = all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)
    sizes = [2 if (c in GSM7_EXTENDED if gsm7 else ord(c) > 0xFFFF) else 1 for c in text]
    single, part = (160, 153) if gsm7 else (70, 67)
    if sum(sizes) <= single:
        return ("GSM-7" if gsm7 else "UCS-2"), sum(sizes), 1
    parts, used = 1, 0
    for size in sizes:
        if used + size > part:
            parts, used = parts + 1, 0
        used += size
    return ("GSM-7" if gsm7 else "UCS-2"), sum(sizes), parts


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ9 @¥é\nΔ€^{}|\f中积`ç😀🎉\ud83d"), max_size=420))
def test_count_agrees_with_the_character_walk_on_any_text(text):
    """The shortcuts (no walk without two-unit characters) change no count."""
    result = count(text)
    assert (result.encoding, result.units, result.segments) == walked(text)
