"""Subscriber records as the engine sees them: load a profile, record a language change."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session as DbSession

from bot.engine.flow import Profile
from bot.groupcommit import GroupCommit, read
from bot.models import Subscriber
from integrations.sqlrows import among, built, values


_S = Subscriber.__table__
_COLUMNS = (_S.c.msisdn, _S.c.name, _S.c.tier, _S.c.language, _S.c.timezone)
_PROFILE = select(*_COLUMNS).where(_S.c.msisdn == bindparam("msisdn"))


def _profiles(conn: Connection):
    return select(*_COLUMNS).where(among(conn, "msisdn", "numbers", "text"))


class Subscribers:
    """Reads and writes the subscriber table; cheap primary-key lookups on the hot path."""

    def __init__(self, engine: Engine, default_timezone: str = "Asia/Shanghai") -> None:
        self.engine = engine
        self.default_timezone = default_timezone
        self._batched = GroupCommit(engine, self._profiles, "profiles", linger_s=0, run=read)

    def profile(self, msisdn: str) -> Profile | None:
        """One primary-key read per turn, in SQLAlchemy Core: the ORM session costs ~1 ms more a hop."""
        with self.engine.connect() as conn:
            row = conn.execute(_PROFILE, {"msisdn": msisdn}).first()
        return self._profile(row) if row is not None else None

    async def load(self, msisdn: str) -> Profile | None:
        """The profile, read with those of the other turns starting at the same moment (one statement)."""
        return await self._batched(msisdn)

    def _profiles(self, conn: Connection, msisdns: Sequence[str]) -> list[Profile | None]:
        query = built(conn, _profiles)  # one SQL text for any batch size
        found = {row.msisdn: row for row in conn.execute(query, {"numbers": values(conn, set(msisdns))})}
        return [self._profile(found[m]) if m in found else None for m in msisdns]

    def _profile(self, row) -> Profile:
        return Profile(msisdn=row.msisdn, name=row.name, tier=row.tier, lang=row.language,
                       timezone=row.timezone or self.default_timezone)

    def set_language(self, msisdn: str, lang: str) -> None:
        with DbSession(self.engine) as db:
            db.exec(update(Subscriber).where(Subscriber.msisdn == msisdn).values(language=lang))
            db.commit()


def to_profile(row: Subscriber, default_timezone: str = "Asia/Shanghai") -> Profile:
    return Profile(msisdn=row.msisdn, name=row.name, tier=row.tier, lang=row.language,
                   timezone=row.timezone or default_timezone)
