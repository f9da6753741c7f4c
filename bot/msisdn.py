"""Phone numbers: normalise to E.164 with phonenumbers, and mask them for logs."""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from integrations.smsgateway.numbers import plain


class BadNumber(ValueError):
    """Not a valid phone number."""


@lru_cache(maxsize=65536)
def normalise(raw: str, region: str = "CN") -> str:
    """E.164 form of a number as a subscriber, a tester or a gateway writes it ("13800000001", "+86 138...").
    One rule everywhere (webhooks, `sim --as`, `/as`, a points transfer): a number that is not valid in
    the numbering plan is refused with the same message, so `12345` is never taken for `+8612345`.
    Cached: the gateway sends the same number on every hop, and parsing costs ~60 µs. A plain E.164 number
    (what gateways send) is checked from phonenumbers' metadata in ~5 µs: a reply burst is all new numbers."""
    if plain(raw) is True:
        return raw
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        raise BadNumber(f"not a valid phone number for region {region}") from None
    if not phonenumbers.is_valid_number(number):
        raise BadNumber(f"not a valid phone number for region {region}")
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
