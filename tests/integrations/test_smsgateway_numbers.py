"""The gateway's number check gives phonenumbers' answer for every number, and skips its parser for E.164."""
from __future__ import annotations

import random

import phonenumbers
from hypothesis import given, settings, strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from integrations.smsgateway import numbers
from integrations.smsgateway.numbers import valid


def reference(number: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def near_examples(rng: random.Random) -> list[str]:
    """Every region's example numbers (valid) and copies with their last digits changed (some valid, some not)."""
    found = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        metadata = PhoneMetadata.metadata_for_region(region)
        for name in numbers.TYPES + ("mobile",):
            desc = getattr(metadata, name)
            if desc is None or not desc.example_number:
                continue
            example = f"+{metadata.country_code}{desc.example_number}"
            found.append(example)
            for tail in (1, 3, 6):
                found.append(example[:-tail] + "".join(rng.choice("0123456789") for _ in range(tail)))
    return found


def test_valid_agrees_with_phonenumbers_on_every_country_code_length_and_example():
    """Random digits after every country code at every length, and numbers near every example number."""
    rng = random.Random(12580)
    candidates = near_examples(rng)
    for code in COUNTRY_CODE_TO_REGION_CODE:
        for length in range(1, 18):
            for _ in range(2):
                candidates.append(f"+{code}" + "".join(rng.choice("0123456789") for _ in range(length)))
    wrong = [n for n in candidates if valid(n) != reference(n)]
    assert not wrong and sum(map(reference, candidates)) > 1_000


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="+0123456789 -()x#٣", max_size=20))
def test_valid_agrees_with_phonenumbers_on_formatted_and_odd_input(number):
    assert valid(number) == reference(number)


def test_a_chinese_mobile_number_is_checked_without_phonenumbers_parser(monkeypatch):
    """The fast path: a million distinct numbers must not each cost a parse."""
    def refuse(*args, **kwargs):
        raise AssertionError("parsed")

    monkeypatch.setattr(phonenumbers, "parse", refuse)
    assert valid("+8613900000001") and valid("+8615012345678")
    assert not valid("+861390000000") and not valid("+8610000000000")
