"""What a care agent asks for when they make a campaign: who (the audience), what (a text per language or a
reminder kind), an optional retention offer, when and how fast. Validated once, here, with messages an agent
can act on; everything past this module trusts a `CampaignSpec`."""
from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flows.offers import MAX_POINTS
from flows.packages import PACKAGES
from jobs.reminder_kinds import KIND_NAME, TIERS

ZONES = ("blue", "green", "yellow", "red", "white")  # docs/churn.md, best to worst
LANGUAGES = {"en": "en", "zh": "zh_Hans", "zh_Hans": "zh_Hans"}  # accepted -> the subscriber table's code
TEXT_LANGUAGES = ("en", "zh")  # a campaign's text must say it in both
PREFIX = re.compile(r"^\+\d{1,14}$")
MAX_TEXT = 480  # before the offer line and the opt-out hint; the preview shows what it costs in segments
TYPED_BY_CODE = ("reply stop", "回复td", "reply 1", "回复1")  # the code appends these; an agent must not


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _known(values: list[str], allowed: tuple[str, ...] | dict, what: str) -> list[str]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {bad}: choose from {list(allowed)}")
    return list(dict.fromkeys(values))


class Audience(_Strict):
    """Who gets it; an empty list means any. Opted-out subscribers are never in it (counted as suppressed)."""

    zones: list[str] = []
    tiers: list[str] = []
    languages: list[str] = []  # the subscriber table's codes ("en", "zh_Hans"); "zh" is taken as "zh_Hans"
    cities: list[str] = []  # the subscriber data has no city: refused unless empty (use prefixes)
    prefixes: list[str] = []  # "+86138"
    min_tenure_months: int | None = Field(default=None, ge=0, le=1200)
    active_within_days: int | None = Field(default=None, ge=1, le=180)

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: list[str]) -> list[str]:
        return _known(value, ZONES, "zones")

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: list[str]) -> list[str]:
        return _known(value, TIERS, "tiers")

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(LANGUAGES[v] for v in _known(value, LANGUAGES, "languages")))

    @field_validator("cities")
    @classmethod
    def _cities(cls, value: list[str]) -> list[str]:
        if value:
            raise ValueError("the subscriber data has no city: choose by number prefix instead (prefixes)")
        return value

    @field_validator("prefixes")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not PREFIX.match(p)]
        if bad:
            raise ValueError(f"prefixes must be '+' and digits, like '+86138': {bad}")
        return list(dict.fromkeys(value))


class Offer(_Strict):
    """A retention offer taken by replying 1: bonus points, or a service package at an offer price."""

    points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    package: str | None = None
    price_fen: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_form(self) -> Offer:
        package = self.package is not None or self.price_fen is not None
        if (self.points is None) == (not package):
            raise ValueError("an offer is either points, or package with price_fen: exactly one of the two")
        if package and (self.package is None or self.price_fen is None):
            raise ValueError("a package offer needs both package and price_fen")
        if package and self.package not in PACKAGES:
            raise ValueError(f"unknown package {self.package!r}: choose from {sorted(PACKAGES)}")
        return self

    def goto_values(self, campaign: int) -> dict[str, int | str]:
        """What `offers.claim` reads from the reply's goto (flows/offers.py)."""
        if self.points is not None:
            return {"campaign": campaign, "points": self.points}
        return {"campaign": campaign, "package": str(self.package), "price_fen": int(self.price_fen or 0)}


class CampaignSpec(_Strict):
    """A campaign as an agent writes it: exactly one of `text` (per language) and `kind` (a reminder kind)."""

    name: str = Field(min_length=1, max_length=80)
    audience: Audience
    text: dict[str, str] | None = None
    kind: str | None = None
    offer: Offer | None = None
    start_at: datetime | None = None
    rate_per_second: int | None = Field(default=None, ge=1, le=10_000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a campaign needs a name")
        return value.strip()

    @field_validator("text")
    @classmethod
    def _text(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if set(value) != set(TEXT_LANGUAGES):
            raise ValueError(f"text must be given in exactly these languages: {list(TEXT_LANGUAGES)}")
        for lang, words in value.items():
            _one_text(lang, words)
        return {lang: value[lang].strip() for lang in TEXT_LANGUAGES}

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str | None) -> str | None:
        if value is not None and not KIND_NAME.match(value):
            raise ValueError(f"{value!r} is not a reminder kind name (menus/reminders.toml)")
        return value

    @field_validator("start_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("start_at needs a time zone offset, e.g. 2026-12-03T10:00:00+08:00")
        return value

    @model_validator(mode="after")
    def _text_or_kind(self) -> CampaignSpec:
        if (self.text is None) == (self.kind is None):
            raise ValueError("a campaign has either text (per language) or kind (a reminder kind), exactly one")
        return self


def _one_text(lang: str, words: str) -> None:
    """One language's text: said, not too long, and without what the code appends itself."""
    if not words.strip():
        raise ValueError(f"text[{lang}] is empty")
    if len(words) > MAX_TEXT:
        raise ValueError(f"text[{lang}] has {len(words)} characters; at most {MAX_TEXT}")
    typed = [t for t in TYPED_BY_CODE if t in words.lower()]
    if typed:
        raise ValueError(f"text[{lang}] must not say {typed[0]!r}: the offer line and the opt-out hint are "
                         "added by the system")
