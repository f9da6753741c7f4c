"""GSM 03.38 and UCS-2 as the network counts them: septets, UTF-16 units and SMS segments."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 basic character set (the escape code 0x1B itself is not text).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs an escape septet plus itself.
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
GSM7 = GSM7_BASIC | GSM7_EXTENDED

Encoding = Literal["GSM-7", "UCS-2"]
SINGLE = {"GSM-7": 160, "UCS-2": 70}
PART = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class Count:
    """What a text costs: its encoding, its length in units and its SMS segments."""

    encoding: Encoding
    units: int
    segments: int

    def as_dict(self) -> dict[str, object]:
        return {"encoding": self.encoding, "units": self.units, "segments": self.segments}


def is_gsm7(text: str) -> bool:
    return GSM7.issuperset(text)


def char_units(text: str) -> tuple[Encoding, list[int]]:
    """The encoding of the whole text and the units of each character, indivisible."""
    if is_gsm7(text):
        return "GSM-7", [2 if c in GSM7_EXTENDED else 1 for c in text]
    return "UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in text]


def units(text: str) -> int:
    """Length in septets (GSM-7) or UTF-16 units (UCS-2)."""
    return sum(char_units(text)[1])


def encoding_of(text: str) -> Encoding:
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def _segments(encoding: Encoding, sizes: list[int]) -> int:
    total = sum(sizes)
    if total <= SINGLE[encoding]:
        return 1
    part, used, count = PART[encoding], 0, 1
    for size in sizes:  # a pair (escape + char, or surrogates) never straddles two parts
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return count


def count(text: str) -> Count:
    """Encoding, units and SMS segment count of a message (a gateway counts every message it takes)."""
    encoding: Encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    pairs = _pairs(encoding, text)
    total = len(text) + pairs
    if total <= SINGLE[encoding]:
        return Count(encoding, total, 1)
    if not pairs:  # every character is one unit: the parts are plain slices
        return Count(encoding, total, -(-total // PART[encoding]))
    return Count(encoding, total, _segments(encoding, char_units(text)[1]))


def _pairs(encoding: Encoding, text: str) -> int:
    """Characters of two units (escape + character in GSM-7, a surrogate pair in UCS-2), found without a
    loop in Python where there are none."""
    if encoding == "GSM-7":
        return 0 if GSM7_BASIC.issuperset(text) else sum(map(text.count, GSM7_EXTENDED))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2 - len(text)


def fits(text: str, gsm7_budget: int, ucs2_budget: int) -> bool:
    """Whether a screen fits the channel's budget in its own encoding."""
    encoding, sizes = char_units(text)
    return sum(sizes) <= (gsm7_budget if encoding == "GSM-7" else ucs2_budget)
