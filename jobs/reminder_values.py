"""What a reminder's template is filled with: the values a selection read (plain JSON, also kept for the
reply that continues it) turned into typed text parameters for the subscriber's language and tier, and the
widest sample values `shortcode lint` renders every template with."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Mapping

from babel import Locale

# the engine's text types, as flows use them: pure values, rendered by the catalogs the worker lends
from bot.engine.text import Day, Localized, Money, Number, T, Verbatim
from flows.common import POINTS_PER_YUAN
from flows.packages import PACKAGES
from flows.points import REWARDS

from jobs.reminder_kinds import Kind

HALF = {"am": T("AM"), "pm": T("PM")}  # the doctor flow's words for a half-day
SHORT = "MMMd"  # Dec 15 / 12月15日: a reminder's dates are weeks away at most


@dataclass(frozen=True)
class Recipient:
    """What a reminder needs of a subscriber (the subscriber table's columns)."""

    msisdn: str
    name: str
    tier: str
    language: str
    timezone: str


def _day(iso: str, skeleton: str = SHORT) -> Day:
    return Day(date.fromisoformat(iso), skeleton)


def _money(fen: int) -> Money:
    return Money.from_fen(int(fen))


def _bill_issued(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    year, month = (int(x) for x in d["period"].split("-"))
    return {"month": Day(date(year, month, 1), "yMMMM"), "amount": _money(d["amount_fen"]), "due_on": _day(d["due_on"])}


def _bill_due(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    return {"due": _money(d["due_fen"]), "due_on": _day(d["due_on"])}


def _low_balance(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    reward = REWARDS[d["reward"]]
    return {"balance": _money(d["balance_fen"]), "threshold": _money(d["threshold_fen"]),
            "topup": _money(reward.topup_fen), "points": Number(reward.points)}


def _package_ending(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any] | None:
    """None when the package cannot be renewed at the subscriber's tier (no price): no offer to make."""
    package = PACKAGES.get(d["package"])
    fen = package.price(r.tier) if package else None
    if package is None or fen is None:
        return None
    per = T("{amount}/month") if package.monthly else T("{amount}/year")
    return {"package": package.name, "until": _day(d["until"]), "price": T(per.msgid, amount=_money(fen))}


def _points_expiring(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    return {"points": Number(d["points"]), "value": Money(Decimal(d["points"]) / POINTS_PER_YUAN),
            "cycle_end": _day(d["cycle_end"])}


def country_name(code: str) -> Localized:
    """A country as babel (CLDR) names it in each language: Japan / 日本."""
    return Localized(Locale.parse("en").territories.get(code, code),
                     Locale.parse("zh_Hans").territories.get(code, code))


def _roaming(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    if d.get("day_fen") is None:
        tariff = T("standard rates apply")
    else:
        tariff = T("{price} a day for {data} MB of data", price=_money(d["day_fen"]), data=Number(d["data_mb"]))
    return {"country": country_name(d["country"]), "tariff": tariff}


def _named(d: Mapping[str, Any], what: str) -> Localized:
    return Localized(d[f"{what}_en"], d[f"{what}_zh"])


def _appointment(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    return {"doctor": _named(d, "doctor"), "department": _named(d, "department"), "hospital": _named(d, "hospital"),
            "day": _day(d["day"]), "half": HALF.get(d["half"], Verbatim(d["half"])), "number": Number(d["number"]),
            "code": Verbatim(d["code"])}


def _tee_time(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    slot = int(d["slot"])
    return {"course": _named(d, "course"), "day": _day(d["day"]), "time": Verbatim(f"{slot // 60:02d}:{slot % 60:02d}"),
            "players": Number(d["players"]), "code": Verbatim(d["code"])}


def mask_plate(plate: str) -> str:
    """粤B***45: the province and city letter and the last two, never the whole plate in a text message."""
    return plate[:2] + "***" + plate[-2:] if len(plate) > 4 else "***"


def _inspection(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    return {"plate": Verbatim(mask_plate(d["plate"])), "due_on": _day(d["due_on"])}


def _birthday(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    benefits = kind.params["benefits"]
    return {"name": Verbatim(r.name), "benefit": T(benefits.get(r.tier, benefits["regular"]))}


def _holiday(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    return {"holiday": T(d["holiday"])}


def _suspension(kind: Kind, d: Mapping[str, Any], r: Recipient) -> dict[str, Any]:
    return {"owed": _money(d["owed_fen"]), "suspend_on": _day(d["suspend_on"])}


PARAMS: dict[str, Callable[[Kind, Mapping[str, Any], Recipient], dict[str, Any] | None]] = {
    "bill-issued": _bill_issued, "bill-due": _bill_due, "low-balance": _low_balance,
    "package-ending": _package_ending, "points-expiring": _points_expiring, "roaming": _roaming,
    "appointment": _appointment, "tee-time": _tee_time, "inspection-due": _inspection, "birthday": _birthday,
    "holiday": _holiday, "suspension": _suspension,
}


def message(kind: Kind, data: Mapping[str, Any], recipient: Recipient) -> T | None:
    """The reminder as a translatable message, or None when there is nothing to offer this subscriber."""
    params = PARAMS[kind.trigger](kind, data, recipient)
    return None if params is None else T(kind.template, **params)


# -- the widest values a template must hold (shortcode lint) ---------------------------------------------
WIDE = Recipient("+8613899999999", "Alexandria", "diamond", "en", "Asia/Shanghai")
_NAMES = {"doctor_en": "Dr Ouyang Wenjing", "doctor_zh": "欧阳文静", "department_en": "Cardiology",
          "department_zh": "心血管内科", "hospital_en": "Peking Union Medical College Hospital",
          "hospital_zh": "北京协和医院", "course_en": "Mission Hills Shenzhen", "course_zh": "深圳观澜湖"}
SAMPLES: dict[str, Mapping[str, Any]] = {
    "bill-issued": {"period": "2026-12", "amount_fen": 9_999_999, "due_on": "2026-12-15"},
    "bill-due": {"period": "2026-12", "due_fen": 9_999_999, "due_on": "2026-12-15"},
    "low-balance": {"balance_fen": 999, "threshold_fen": 1000, "reward": "topup50", "crossed_at": "2026-12-02T08:30:00"},
    "package-ending": {"package": "car_full", "until": "2026-12-31"},
    "points-expiring": {"points": 9_999_999, "cycle_end": "2026-11-30"},
    "roaming": {"country": "GB", "day_fen": 3000, "data_mb": 1024, "event": 1},
    "appointment": {**_NAMES, "day": "2026-12-30", "half": "am", "number": 88, "code": "D12345678"},
    "tee-time": {**_NAMES, "day": "2026-12-30", "slot": 958, "players": 4, "code": "GABCDEF9"},
    "inspection-due": {"plate": "粤BD12345", "due_on": "2026-12-31"},
    "birthday": {"day": "2026-12-02"},
    "holiday": {"holiday": "Mid-Autumn Festival"},
    "suspension": {"owed_fen": 9_999_999, "suspend_on": "2026-12-31"},
}


def samples(kind: Kind) -> list[Mapping[str, Any]]:
    """Sample values for a kind: every holiday of its table, else the trigger's widest values."""
    if kind.trigger == "holiday":
        names = {n for days in kind.params["holidays"].values() for n in days}
        return [{"holiday": n} for n in sorted(names)]
    if kind.trigger == "roaming":
        return [SAMPLES["roaming"], {"country": "GB", "day_fen": None, "data_mb": None, "event": 1}]
    return [SAMPLES[kind.trigger]]


def sample_recipients(kind: Kind) -> list[Recipient]:
    """Every tier for the birthday's benefits; the widest subscriber for the rest."""
    if kind.trigger == "birthday":
        return [Recipient(WIDE.msisdn, WIDE.name, tier, "en", WIDE.timezone) for tier in kind.params["benefits"]]
    return [WIDE]
