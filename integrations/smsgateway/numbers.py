"""Whether the simulated gateway takes a number: phonenumbers' `is_valid_number(parse(number))`, answered from
phonenumbers' own metadata without its parser for a plain E.164 number whose country code has one region.

A reminder run sends to a million distinct numbers, and phonenumbers spends ~50 µs on each (mostly the
lenient parsing of formatted input). For "+" and digits, with no national prefix to strip and no leading
zero, its parse is the country code and the rest as they stand, and validity is its number-type check,
which `_valid_for` repeats with the same patterns, lengths and order. Anything else goes to phonenumbers."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

_E164 = re.compile(r"\+[1-9][0-9]{3,16}", re.ASCII)  # 4-17 digits: a country code and at least 2 more
NON_GEO = "001"
# phonenumbers' `_number_type_helper` order; a number of one of these types is valid. The mobile pattern is
# only tried apart when it differs from the fixed-line one, as there.
TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
         "fixed_line")


class Plan(NamedTuple):
    """A country code's numbering plan, for the fast path."""

    digits: int  # length of the country code
    region: str
    national_prefix: re.Pattern | None  # what phonenumbers may strip from the front of a national number


def valid(number: str) -> bool:
    """Exactly phonenumbers' answer (tests/integrations/test_smsgateway_numbers.py compares the two)."""
    answer = plain(number)
    return _parsed_valid(number) if answer is None else answer


def plain(number: str) -> bool | None:
    """phonenumbers' answer for a plain E.164 number on the fast path, which is then its own E.164 form;
    None where the fast path does not apply."""
    plan = _plan(number[1:4]) if _E164.fullmatch(number) else None
    if plan is not None:
        national = number[1 + plan.digits:]
        stripped = plan.national_prefix is not None and plan.national_prefix.match(national)
        if len(national) >= 2 and national[0] != "0" and not stripped:
            return _valid_for(plan.region, len(national), national)
    return None


@lru_cache(maxsize=65_536)
def _parsed_valid(number: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


@lru_cache(maxsize=1_000)
def _plan(first: str) -> Plan | None:
    """The plan of the country code at the start of `first` (its first three digits), found as phonenumbers'
    `_extract_country_code` finds it; None where the fast path does not apply (several regions share the
    code, a non-geographic code, no metadata)."""
    for size in range(1, 4):
        regions = COUNTRY_CODE_TO_REGION_CODE.get(int(first[:size]))
        if regions is not None:
            break
    else:
        return None
    if len(regions) != 1 or regions[0] == NON_GEO or PhoneMetadata.metadata_for_region(regions[0]) is None:
        return None
    prefix = PhoneMetadata.metadata_for_region(regions[0]).national_prefix_for_parsing
    return Plan(size, regions[0], re.compile(prefix) if prefix else None)


def _valid_for(region: str, length: int, national: str) -> bool:
    pattern = _PATTERNS.get((region, length))
    if pattern is None:
        pattern = _PATTERNS[region, length] = _pattern(region, length)
    return pattern is not False and pattern.fullmatch(national) is not None


_PATTERNS: dict[tuple[str, int], re.Pattern | bool] = {}  # at most one per region and length: bounded


def _pattern(region: str, length: int) -> re.Pattern | bool:
    """One expression for phonenumbers' check of a national number of this length: the general pattern
    matches it whole and so does one of the number types' (`_is_number_matching_desc`: a type whose possible
    lengths leave this one out never matches). False: no number of this length is valid. The patterns have
    no back-references, so they can stand side by side in one expression."""
    metadata = PhoneMetadata.metadata_for_region(region)
    names = TYPES if metadata.same_mobile_and_fixed_line_pattern else TYPES + ("mobile",)
    types = [d.national_number_pattern for d in (getattr(metadata, n) for n in names) if _fits(d, length)]
    if not types or not _fits(metadata.general_desc, length):
        return False
    general = metadata.general_desc.national_number_pattern
    return re.compile(f"(?=(?:{general})\\Z)(?:" + "|".join(f"(?:{t})" for t in types) + ")")


def _fits(desc, length: int) -> bool:
    return desc is not None and bool(desc.national_number_pattern) and \
        (not desc.possible_length or length in desc.possible_length)
