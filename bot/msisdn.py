"""Phone numbers: normalise to E.164 with phonenumbers, and mask them for logs."""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers


class BadNumber(ValueError):
    """Not a valid phone number."""


@lru_cache(maxsize=65536)
def normalise(raw: str, region: str = "CN", strict: bool = False) -> str:
    """E.164 form of a number as a subscriber or gateway writes it ("13800000001", "+86 138...").
    `strict` also checks it against the numbering plan (for numbers a subscriber types). Cached: the
    gateway sends the same number on every hop, and parsing costs ~60 µs."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise BadNumber(f"not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(number) or (strict and not phonenumbers.is_valid_number(number)):
        raise BadNumber("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(msisdn: str) -> str:
    """+8613800000001 -> +86138****0001: enough to tell numbers apart in logs, not to call one."""
    keep = min(6, len(msisdn) - 8)
    if keep < 1:
        return "*" * len(msisdn)
    return msisdn[:keep] + "****" + msisdn[-4:]


_LONG_DIGITS = re.compile(r"\+?\d{9,15}")


def scrub(text: str) -> str:
    """Mask every run of 9-15 digits in free text (a safety net for log messages)."""
    return _LONG_DIGITS.sub(lambda m: mask(m.group()), text)
