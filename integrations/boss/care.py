"""What the care reminders read from the simulated BOSS (bills by day, balance crossings, package ends, points
at risk, birthdays, the roaming feed, arrears), and the simulation's injections: a balance, a roaming
registration. Reads of many rows come in keyset pages (`integrations.sqltx.pages`)."""
from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Callable, Iterator, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, extract, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from integrations.boss import (Bill, Ending, LowBalance, RoamingEvent, RoamingTariff, Suspension, UnknownAccount,
                               Usage)
from integrations.boss.tables import (BalanceChange, BossAccount, BossBill, BossSubscription, BossUsage,
                                      PointsEntry, RoamingPrice, RoamingRegistration)
from integrations.faults import Faults
from integrations.sqltx import PAGE, pages, utc, write

A, E, S = BossAccount.__table__, PointsEntry.__table__, BossSubscription.__table__
BL, LOG = BossBill.__table__, BalanceChange.__table__
EV, TARIFF = RoamingRegistration.__table__, RoamingPrice.__table__
U = BossUsage.__table__
OPERATOR_ZONE = ZoneInfo("Asia/Shanghai")  # the points cycle ends at midnight here (as jobs/points_expiry.py)
SUSPEND_GRACE_DAYS = 10  # a line is suspended this many days after an unpaid bill's due date
HOME = "CN"  # registering here is not roaming (Hong Kong, Macao and Taiwan are, as operators bill them)


class CareReads:
    """Mixed into `SimulatedBoss`, which provides the engine, faults, clock, page size and grace days."""

    engine: Engine
    faults: Faults
    clock: Callable[[], datetime]
    page: int = PAGE
    grace_days: int = SUSPEND_GRACE_DAYS

    # -- bills ----------------------------------------------------------------------------------
    def bills_issued(self, on: date) -> Iterator[Bill]:
        return self._bills(BL.c.issued_on == on)

    def bills_due(self, on: date) -> Iterator[Bill]:
        return self._bills(and_(BL.c.due_on == on, BL.c.paid_fen < BL.c.amount_fen))

    def _bills(self, where) -> Iterator[Bill]:
        bills = select(BL.c.msisdn, BL.c.period, BL.c.amount_fen, BL.c.paid_fen, BL.c.issued_on, BL.c.due_on)
        for rows in self._pages(bills.where(where), (BL.c.msisdn, BL.c.period)):
            yield from (Bill(m, period, fen, fen - paid, issued, due) for m, period, fen, paid, issued, due in rows)

    def suspensions(self, on: date) -> Iterator[Suspension]:
        """Derived from the bills: a bill still unpaid `grace_days` after its due date suspends the line;
        what is owed is every unpaid bill due by then."""
        due = on - timedelta(days=self.grace_days)
        late = select(BL.c.msisdn).where(BL.c.due_on == due, BL.c.paid_fen < BL.c.amount_fen).group_by(BL.c.msisdn)
        for rows in self._pages(late, (BL.c.msisdn,)):
            owed = self._grouped(select(BL.c.msisdn, func.sum(BL.c.amount_fen - BL.c.paid_fen)).where(
                BL.c.msisdn.in_([r.msisdn for r in rows]), BL.c.due_on <= due, BL.c.paid_fen < BL.c.amount_fen))
            yield from (Suspension(r.msisdn, owed[r.msisdn], on) for r in rows)

    # -- prepaid balance --------------------------------------------------------------------------
    def low_balances(self, threshold_fen: int) -> Iterator[LowBalance]:
        """Balances below the threshold now, each with the moment it crossed: the same crossing always has
        the same moment (one reminder), a top-up above the threshold and a new fall make a new one."""
        low = select(A.c.msisdn, A.c.balance_fen).where(A.c.balance_fen < threshold_fen)
        for rows in self._pages(low, (A.c.msisdn,)):
            crossed = self._crossings([r.msisdn for r in rows], threshold_fen)
            yield from (LowBalance(r.msisdn, r.balance_fen, crossed[r.msisdn]) for r in rows if r.msisdn in crossed)

    def _crossings(self, msisdns: list[str], threshold_fen: int) -> dict[str, datetime]:
        """The first logged moment below the threshold after the last one at or above it. A balance the log
        never saw below the threshold has no crossing (every change through this BOSS is logged)."""
        above = (select(LOG.c.msisdn, func.max(LOG.c.at).label("at"))
                 .where(LOG.c.msisdn.in_(msisdns), LOG.c.balance_fen >= threshold_fen)
                 .group_by(LOG.c.msisdn).subquery())
        first_below = (select(LOG.c.msisdn, func.min(LOG.c.at))
                       .outerjoin(above, above.c.msisdn == LOG.c.msisdn)
                       .where(LOG.c.msisdn.in_(msisdns), LOG.c.balance_fen < threshold_fen,
                              or_(above.c.at.is_(None), LOG.c.at > above.c.at)))
        return {msisdn: _aware(at) for msisdn, at in self._grouped(first_below).items()}

    def set_balance(self, msisdn: str, balance_fen: int, at: datetime) -> None:
        """The simulation's usage or top-up: the new balance and its log entry, in one transaction."""
        self.faults.check("boss")

        def work(conn: Connection) -> None:
            if conn.execute(update(A).where(A.c.msisdn == msisdn).values(balance_fen=balance_fen)).rowcount != 1:
                raise UnknownAccount(msisdn)
            log_balance(conn, msisdn, at)

        write(self.engine, work)

    # -- packages, points, birthdays --------------------------------------------------------------
    def packages_ending(self, on: date) -> Iterator[Ending]:
        ending = select(S.c.msisdn, S.c.package, S.c.until).where(S.c.status == "active", S.c.until == on)
        for rows in self._pages(ending, (S.c.msisdn, S.c.package)):
            yield from (Ending(r.msisdn, r.package, r.until) for r in rows)

    def points_expiring(self, cycle_end: date) -> Iterator[tuple[str, int]]:
        """Points that lapse at the end of `cycle_end` (operator's time): the balance less what arrived after
        it, as `expire_points` will take them; after the expiry ran, nothing."""
        end = utc(datetime.combine(cycle_end, time(23, 59, 59), OPERATOR_ZONE))
        for rows in self._pages(select(A.c.msisdn, A.c.points).where(A.c.points > 0), (A.c.msisdn,)):
            later = self._grouped(select(E.c.msisdn, func.sum(E.c.delta)).where(
                E.c.msisdn.in_([r.msisdn for r in rows]), E.c.delta > 0, E.c.created_at > end))
            for r in rows:
                if (lapsing := r.points - later.get(r.msisdn, 0)) > 0:
                    yield r.msisdn, lapsing

    def birthdays(self, month: int, day: int, year: int | None = None) -> Iterator[str]:
        """Numbers born on that day. The caller names the year it asks for (a birthday is a date in the
        subscriber's zone); without one, the year of the BOSS's clock in the operator's zone. In a common
        year, Feb 28 also greets those born on Feb 29."""
        year = year or self.clock().astimezone(OPERATOR_ZONE).year
        date(2000, month, day)  # a day no year has is refused (ValueError), not read as nobody's birthday
        days = [(month, day)] + ([(2, 29)] if (month, day) == (2, 28) and not calendar.isleap(year) else [])
        born = or_(*(and_(extract("month", A.c.birthday) == m, extract("day", A.c.birthday) == d) for m, d in days))
        for rows in self._pages(select(A.c.msisdn).where(born), (A.c.msisdn,)):
            yield from (r.msisdn for r in rows)

    # -- roaming ----------------------------------------------------------------------------------
    def roaming_events(self, after_id: int, limit: int) -> list[RoamingEvent]:
        self.faults.check("boss")
        with self.engine.connect() as conn:
            rows = conn.execute(select(EV).where(EV.c.id > after_id).order_by(EV.c.id).limit(limit)).all()
        return [RoamingEvent(r.id, r.msisdn, r.country, _aware(r.at)) for r in rows]

    def roaming_tariff(self, country: str) -> RoamingTariff | None:
        self.faults.check("boss")
        with self.engine.connect() as conn:
            row = conn.execute(select(TARIFF).where(TARIFF.c.country == country.upper())).first()
        return RoamingTariff(row.country, row.day_fen, row.data_mb) if row else None

    def record_roaming(self, msisdn: str, country: str, at: datetime) -> int:
        """The network's registration abroad, as the feed will carry it. Refused: a code that is no
        country (ValueError), the home country, a number without an account (UnknownAccount)."""
        self.faults.check("boss")
        country = country.strip().upper()
        if country not in countries() or country == HOME:
            raise ValueError(f"not a country abroad (ISO 3166 alpha-2, e.g. JP): {country!r}")

        def work(conn: Connection) -> int:
            if conn.execute(select(A.c.msisdn).where(A.c.msisdn == msisdn)).first() is None:
                raise UnknownAccount(msisdn)
            return conn.execute(insert(EV).values(msisdn=msisdn, country=country, at=utc(at))).inserted_primary_key[0]

        return write(self.engine, work)

    # -- monthly usage (the value-loss model) ------------------------------------------------------
    def usage(self, months: Sequence[str]) -> Iterator[list[tuple[str, list[Usage]]]]:
        """Subscribers with their usage in `months`, a page of rows at a time; the last subscriber of a page
        waits for the next one, where the rest of its months may be."""
        columns, make, carry = [U.c.msisdn, *(U.c[name] for name in Usage._fields)], Usage._make, None
        for rows in self._pages(select(*columns).where(U.c.month.in_(list(months))), (U.c.msisdn, U.c.month)):
            page = [(msisdn, [make(row[1:]) for row in group]) for msisdn, group in groupby(rows, itemgetter(0))]
            if carry and page[0][0] == carry[0]:
                page[0] = (carry[0], carry[1] + page[0][1])
            elif carry:
                page.insert(0, carry)
            carry = page.pop()
            if page:
                yield page
        if carry:
            yield [carry]

    def usage_rows(self, months: Sequence[str], lo: str = "", hi: str | None = None) -> Iterator[list[list[tuple]]]:
        """`usage` without a named tuple a row (a million subscribers a week): the driver's tuples, grouped per
        subscriber. Each page ends before its last subscriber, which the next page reads again whole."""
        sql, size, after = _usage_sql(self.engine, len(months), hi is not None), max(self.page, len(months) + 1), lo
        self.faults.check("boss")
        while True:
            rows = self._driver_rows(sql, (after, *([hi] if hi is not None else []), *months, size))
            if len(rows) < size:
                if rows:
                    yield [list(group) for _, group in groupby(rows, _MSISDN)]
                return
            after = rows[-1][-1]
            yield [list(group) for _, group in groupby(rows[:_first_of(rows, after)], _MSISDN)]
            self.faults.check("boss")

    def _driver_rows(self, sql: str, params: tuple) -> list[tuple]:
        with self.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchall()
            finally:
                cursor.close()

    # -- plumbing ---------------------------------------------------------------------------------
    def _pages(self, query: Select, keys: tuple) -> Iterator[list]:
        """`pages`, with the partner's faults checked before every page: a BOSS that goes down mid-read fails
        the read there."""
        self.faults.check("boss")
        for rows in pages(self.engine, query, keys, self.page):
            yield rows
            self.faults.check("boss")

    def _grouped(self, query: Select) -> dict:
        """A two-column (key, value) grouped read as a dict."""
        with self.engine.connect() as conn:
            return dict(conn.execute(query.group_by(list(query.selected_columns)[0])).all())


_MSISDN = itemgetter(-1)


def _usage_sql(engine: Engine, months: int, bounded: bool) -> str:
    """The page read in the driver's own placeholders: msisdn from, (below), months, limit."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    upper = f" AND msisdn < {mark}" if bounded else ""
    return (f"SELECT {', '.join(Usage._fields)}, msisdn FROM boss_usage WHERE msisdn >= {mark}{upper} "
            f"AND month IN ({', '.join([mark] * months)}) ORDER BY msisdn, month LIMIT {mark}")


def _first_of(rows: list[tuple], msisdn: str) -> int:
    """Where the rows of `msisdn` (the page's last subscriber, at most a few rows) begin."""
    at = len(rows) - 1
    while at > 0 and rows[at - 1][-1] == msisdn:
        at -= 1
    return at


def log_balance(conn: Connection, msisdn: str, at: datetime) -> None:
    """Log the account's balance as it now is, in the caller's transaction (after it changed it)."""
    balance = conn.execute(select(A.c.balance_fen).where(A.c.msisdn == msisdn)).scalar_one()
    conn.execute(insert(LOG).values(msisdn=msisdn, balance_fen=balance, at=utc(at)))


NOT_COUNTRIES = {"AC", "CP", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}  # CLDR regions,
#                                                     groupings and reserved codes that are in no ISO 3166 list


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """ISO 3166 alpha-2 codes, as CLDR (through babel) knows them."""
    from babel import Locale

    return frozenset(code for code in Locale("en").territories
                     if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back times without their zone; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
