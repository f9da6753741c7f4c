"""Subscriber records as the engine sees them: load a profile, record a language change."""
from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession

from bot.engine.flow import Profile
from bot.models import Subscriber


_S = Subscriber.__table__
_PROFILE = select(_S.c.msisdn, _S.c.name, _S.c.tier, _S.c.language, _S.c.timezone).where(
    _S.c.msisdn == bindparam("msisdn"))


class Subscribers:
    """Reads and writes the subscriber table; cheap primary-key lookups on the hot path."""

    def __init__(self, engine: Engine, default_timezone: str = "Asia/Shanghai") -> None:
        self.engine = engine
        self.default_timezone = default_timezone

    def profile(self, msisdn: str) -> Profile | None:
        """One primary-key read per turn, in SQLAlchemy Core: the ORM session costs ~1 ms more a hop."""
        with self.engine.connect() as conn:
            row = conn.execute(_PROFILE, {"msisdn": msisdn}).first()
        if row is None:
            return None
        return Profile(msisdn=row.msisdn, name=row.name, tier=row.tier, lang=row.language,
                       timezone=row.timezone or self.default_timezone)

    def set_language(self, msisdn: str, lang: str) -> None:
        with DbSession(self.engine) as db:
            db.exec(update(Subscriber).where(Subscriber.msisdn == msisdn).values(language=lang))
            db.commit()


def to_profile(row: Subscriber, default_timezone: str = "Asia/Shanghai") -> Profile:
    return Profile(msisdn=row.msisdn, name=row.name, tier=row.tier, lang=row.language,
                   timezone=row.timezone or default_timezone)
