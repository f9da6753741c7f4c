"""Traffic police: vehicles by plate, bindings to a phone number, violations and inspection dates."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Iterator, Protocol

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Z"  # plates use no I or O
PLATE = re.compile(rf"^[{PROVINCES}][{_LETTER}](?:[{_LETTER}0-9]{{5}}|[DF][{_LETTER}0-9]{{5}}|[{_LETTER}0-9]{{5}}[DF])$")


def normalise_plate(text: str) -> str | None:
    """粤A12345, 京N·8K2Q1, 粤BD12345 (new energy): width- and case-folded, separators dropped."""
    folded = unicodedata.normalize("NFKC", text).upper()
    plate = "".join(c for c in folded if c not in " ·•.-")
    return plate if PLATE.match(plate) else None


@dataclass(frozen=True)
class Violation:
    id: int
    plate: str
    day: date
    place_en: str
    place_zh: str
    offence_en: str
    offence_zh: str
    fine_fen: int
    demerit: int
    paid: bool


@dataclass(frozen=True)
class Vehicle:
    plate: str
    inspection_due: date


@dataclass(frozen=True)
class PayResult:
    ok: bool
    reason: str = ""  # already_paid, unknown


class TrafficPolice(Protocol):
    def bind(self, msisdn: str, plate: str, vin_last6: str) -> str: ...  # "ok", "no_vehicle", "wrong_vin"

    def vehicles(self, msisdn: str) -> list[Vehicle]: ...

    def violations(self, msisdn: str, plate: str) -> list[Violation]: ...  # unpaid, of a plate bound to msisdn

    def pay(self, msisdn: str, violation_id: int, key: str) -> PayResult: ...

    def inspections_due(self, on: date) -> Iterator[tuple[str, Vehicle]]: ...  # (msisdn, bound vehicle due on `on`)
