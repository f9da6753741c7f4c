"""Subscriber records as the engine sees them: load a profile, record a language change."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from bot.flow import Profile
from bot.models import Subscriber


class Subscribers:
    """Reads and writes the subscriber table; cheap primary-key lookups on the hot path."""

    def __init__(self, engine: Engine, default_timezone: str = "Asia/Shanghai") -> None:
        self.engine = engine
        self.default_timezone = default_timezone

    def profile(self, msisdn: str) -> Profile | None:
        with DbSession(self.engine) as db:
            row = db.get(Subscriber, msisdn)
            return to_profile(row, self.default_timezone) if row else None

    def set_language(self, msisdn: str, lang: str) -> None:
        with DbSession(self.engine) as db:
            db.exec(update(Subscriber).where(Subscriber.msisdn == msisdn).values(language=lang))
            db.commit()


def to_profile(row: Subscriber, default_timezone: str = "Asia/Shanghai") -> Profile:
    return Profile(msisdn=row.msisdn, name=row.name, tier=row.tier, lang=row.language,
                   timezone=row.timezone or default_timezone)
