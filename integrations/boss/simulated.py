"""A simulated BOSS on our database: conditional updates, an append-only ledger, idempotency keys; what the
care reminders read is in `integrations.boss.care`."""
from __future__ import annotations

from datetime import date, datetime
from typing import Callable

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from integrations.boss import Account, Entry, Result, Subscription
from integrations.boss.care import SUSPEND_GRACE_DAYS, CareReads, log_balance
from integrations.boss.tables import BillCharge, BossAccount, BossSubscription, PointsEntry
from integrations.faults import Faults
from integrations.sqltx import PAGE, utc, utcnow, write

A = BossAccount.__table__
E = PointsEntry.__table__
B = BillCharge.__table__
S = BossSubscription.__table__
CREDIT_LIMIT_FEN = 2_000_000  # ¥20,000: the most a month's bill may reach; a charge beyond it is declined


class SimulatedBoss(CareReads):
    def __init__(self, engine: Engine, faults: Faults | None = None,
                 clock: Callable[[], datetime] = utcnow, credit_limit_fen: int = CREDIT_LIMIT_FEN,
                 page: int = PAGE, grace_days: int = SUSPEND_GRACE_DAYS) -> None:
        self.engine = engine
        self.faults = faults or Faults()
        self.clock = lambda: utc(clock())
        self.credit_limit_fen = credit_limit_fen
        self.page = page  # rows per keyset page of the care reads
        self.grace_days = grace_days  # days after an unpaid bill's due date before the line is suspended

    # -- reads ----------------------------------------------------------------------------------
    def account(self, msisdn: str) -> Account | None:
        self.faults.check("boss")
        with self.engine.connect() as conn:
            row = conn.execute(select(A).where(A.c.msisdn == msisdn)).first()
        return Account(row.msisdn, row.points, row.balance_fen, row.bill_fen) if row else None

    def history(self, msisdn: str, offset: int, limit: int) -> tuple[list[Entry], int]:
        self.faults.check("boss")
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(E).where(E.c.msisdn == msisdn)).scalar_one()
            rows = conn.execute(select(E).where(E.c.msisdn == msisdn)
                                .order_by(E.c.created_at.desc(), E.c.id.desc()).offset(offset).limit(limit)).all()
        return [Entry(r.created_at, r.delta, r.kind, r.ref) for r in rows], total

    # -- points ---------------------------------------------------------------------------------
    def spend_points(self, msisdn: str, points: int, key: str, kind: str, ref: str,
                     topup_fen: int = 0) -> Result:
        """Debit with a conditional update whose row count is checked, in the entry's transaction."""
        self.faults.check("boss")

        def work(conn: Connection) -> Result:
            if not _debit(conn, msisdn, points):
                return Result(False, "insufficient", _points(conn, msisdn))
            _entry(conn, msisdn, -points, kind, ref, key, self.clock())
            if topup_fen:
                conn.execute(update(A).where(A.c.msisdn == msisdn).values(balance_fen=A.c.balance_fen + topup_fen))
                log_balance(conn, msisdn, self.clock())  # a top-up can end a low-balance crossing
            return Result(True, points_left=_points(conn, msisdn))

        return self._once(key, msisdn, work)

    def refund_points(self, msisdn: str, points: int, key: str, ref: str) -> Result:
        self.faults.check("boss")

        def work(conn: Connection) -> Result:
            if conn.execute(update(A).where(A.c.msisdn == msisdn).values(points=A.c.points + points)).rowcount != 1:
                return Result(False, "unknown_account")  # no ledger entry for points nobody received
            _entry(conn, msisdn, points, "refund", ref, key, self.clock())
            return Result(True, points_left=_points(conn, msisdn))

        return self._once(key, msisdn, work)

    def award_points(self, msisdn: str, points: int, key: str, ref: str) -> Result:
        """A bonus credit (a campaign's offer): keyed like a refund, but a repeat says "already", so the
        subscriber who replies twice is told the offer was taken rather than thanked for a second gift."""
        self.faults.check("boss")

        def work(conn: Connection) -> Result:
            if conn.execute(update(A).where(A.c.msisdn == msisdn).values(points=A.c.points + points)).rowcount != 1:
                return Result(False, "unknown_account")
            _entry(conn, msisdn, points, "award", ref, key, self.clock())
            return Result(True, points_left=_points(conn, msisdn))

        return self._once(key, msisdn, work, again="already")

    def awarded(self, key_prefix: str) -> int:
        """Offers taken under the prefix: award entries, and package payments (`subscribe` pays under
        "<key>:pay", by points or on the bill; a renewal pays under its own key, so it is not counted)."""
        self.faults.check("boss")
        under = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.engine.connect() as conn:
            awards = conn.execute(select(func.count()).where(
                E.c.kind == "award", E.c.idem_key.like(under + "%", escape="\\"))).scalar_one()
            paid = [conn.execute(select(func.count()).where(
                t.c.idem_key.like(under + "%:pay", escape="\\"))).scalar_one() for t in (E, B)]
        return awards + sum(paid)

    def transfer_points(self, sender: str, recipient: str, points: int, key: str, daily_limit: int,
                        since: datetime) -> Result:
        """Both accounts change in one transaction, locked in a fixed order so opposite transfers
        cannot deadlock; today's transfers count against the daily limit."""
        self.faults.check("boss")
        if sender == recipient:
            return Result(False, "same_recipient")

        def work(conn: Connection) -> Result:
            found = conn.execute(select(A.c.msisdn).where(A.c.msisdn.in_(sorted({sender, recipient})))
                                 .order_by(A.c.msisdn).with_for_update()).scalars().all()
            if recipient not in found:
                return Result(False, "unknown_recipient", _points(conn, sender))
            sent = conn.execute(select(func.coalesce(func.sum(-E.c.delta), 0)).where(
                E.c.msisdn == sender, E.c.kind == "transfer_out", E.c.created_at >= utc(since))).scalar_one()
            if sent + points > daily_limit:
                return Result(False, "daily_limit", _points(conn, sender))
            if not _debit(conn, sender, points):
                return Result(False, "insufficient", _points(conn, sender))
            conn.execute(update(A).where(A.c.msisdn == recipient).values(points=A.c.points + points))
            now = self.clock()
            _entry(conn, sender, -points, "transfer_out", _mask(recipient), key, now)
            _entry(conn, recipient, points, "transfer_in", _mask(sender), key + ":in", now)
            return Result(True, points_left=_points(conn, sender))

        return self._once(key, sender, work, also=recipient)

    def expire_points(self, msisdn: str, cycle_end: datetime, key: str) -> Result:
        """Expire what is left of the cycle ending at `cycle_end`: the balance less whatever arrived
        after it, read and debited inside one locked transaction."""
        self.faults.check("boss")

        def work(conn: Connection) -> Result:
            later = conn.execute(select(func.coalesce(func.sum(E.c.delta), 0)).where(
                E.c.msisdn == msisdn, E.c.delta > 0, E.c.created_at > utc(cycle_end))).scalar_one()
            points = max(0, _points(conn, msisdn) - later)
            if points and _debit(conn, msisdn, points):
                _entry(conn, msisdn, -points, "expiry", cycle_end.date().isoformat(), key, self.clock())
            return Result(True, points_left=_points(conn, msisdn))

        return self._once(key, msisdn, work)

    def payment(self, key: str) -> tuple[str, int] | None:
        """What was paid under a key, for reconciliation: ("points", n), ("bill", fen) or None."""
        self.faults.check("boss")
        with self.engine.connect() as conn:
            points = conn.execute(select(E.c.delta).where(E.c.idem_key == key)).scalar_one_or_none()
            fen = conn.execute(select(B.c.amount_fen).where(B.c.idem_key == key)).scalar_one_or_none()
        return ("points", -points) if points is not None else ("bill", fen) if fen is not None else None

    # -- bill -----------------------------------------------------------------------------------
    def charge_bill(self, msisdn: str, amount_fen: int, key: str, description: str) -> Result:
        return self._bill(msisdn, amount_fen, key, description)

    def refund_bill(self, msisdn: str, amount_fen: int, key: str, description: str) -> Result:
        return self._bill(msisdn, -amount_fen, key, description)

    def _bill(self, msisdn: str, amount_fen: int, key: str, description: str) -> Result:
        self.faults.check("boss")

        def work(conn: Connection) -> Result:
            _lock(conn, msisdn)
            if _charged(conn, key):
                return Result(True)
            return self._charge(conn, msisdn, amount_fen, key, description)

        try:
            return write(self.engine, work)
        except IntegrityError:  # only the same key committing first makes this a success
            with self.engine.connect() as conn:
                if _charged(conn, key):
                    return Result(True)
            raise

    def _charge(self, conn: Connection, msisdn: str, amount_fen: int, key: str, description: str) -> Result:
        """Add a charge (or, negative, a refund) to this month's bill, in the caller's transaction with the
        account locked. Declined: an account the BOSS does not know, or a bill past the credit limit."""
        bill = conn.execute(select(A.c.bill_fen).where(A.c.msisdn == msisdn)).scalar_one_or_none()
        if bill is None:
            return Result(False, "unknown_account")
        if amount_fen > 0 and bill + amount_fen > self.credit_limit_fen:
            return Result(False, "over_limit")
        conn.execute(insert(B).values(msisdn=msisdn, amount_fen=amount_fen, description=description,
                                      idem_key=key, created_at=self.clock()))
        conn.execute(update(A).where(A.c.msisdn == msisdn).values(bill_fen=A.c.bill_fen + amount_fen))
        return Result(True)

    # -- service packages: payment and subscription in one transaction ---------------------------
    def subscriptions(self, msisdn: str) -> list[Subscription]:
        self.faults.check("boss")
        with self.engine.connect() as conn:
            rows = conn.execute(select(S).where(S.c.msisdn == msisdn, S.c.status == "active",
                                                S.c.until >= self.clock().date()).order_by(S.c.package)).all()
        return [Subscription(r.package, r.price_fen, r.points, r.pay, r.until, r.status) for r in rows]

    def subscribe(self, msisdn: str, package: str, price_fen: int, points: int, until: date, key: str) -> Result:
        """Pay by points (when `points` > 0) or on the bill, and subscribe; once per key, once per package."""
        self.faults.check("boss")

        def work(conn: Connection) -> Result:
            _lock(conn, msisdn)
            conn.execute(update(S).where(S.c.msisdn == msisdn, S.c.status == "active",
                                         S.c.until < self.clock().date()).values(status="lapsed"))
            if conn.execute(select(S.c.id).where(S.c.idem_key == key)).first():
                return Result(True, points_left=_points(conn, msisdn))
            if conn.execute(select(S.c.id).where(S.c.msisdn == msisdn, S.c.package == package,
                                                 S.c.status == "active")).first():
                return Result(False, "already", _points(conn, msisdn))
            refused = self._pay(conn, msisdn, package, price_fen, points, key)
            if refused is not None:
                return refused
            conn.execute(insert(S).values(msisdn=msisdn, package=package, price_fen=price_fen, points=points,
                                          pay="points" if points else "bill", status="active", until=until,
                                          idem_key=key, created_at=self.clock()))
            return Result(True, points_left=_points(conn, msisdn))

        try:
            return write(self.engine, work)
        except IntegrityError:  # the same key raced us, or another key made the package active first
            with self.engine.connect() as conn:
                if conn.execute(select(S.c.id).where(S.c.idem_key == key)).first():
                    return Result(True, points_left=_points(conn, msisdn))
                if conn.execute(select(S.c.id).where(S.c.msisdn == msisdn, S.c.package == package,
                                                     S.c.status == "active")).first():
                    return Result(False, "already", _points(conn, msisdn))
            raise  # anything else is a fault, never a subscription

    def _pay(self, conn: Connection, msisdn: str, package: str, price_fen: int, points: int,
             key: str) -> Result | None:
        """A package's price, in points or on the bill, in the caller's transaction; the refusal, or None."""
        if points:
            if not _debit(conn, msisdn, points):
                return Result(False, "insufficient", _points(conn, msisdn))
            _entry(conn, msisdn, -points, "redeem", package, key + ":pay", self.clock())
            return None
        charged = self._charge(conn, msisdn, price_fen, key + ":pay", package)
        return None if charged.ok else Result(False, charged.reason, _points(conn, msisdn))

    def renew(self, msisdn: str, package: str, price_fen: int, points: int, until: date, key: str) -> Result:
        """A renewal paid like a subscription; the row keeps its id and takes the renewal's key."""
        self.faults.check("boss")

        def work(conn: Connection) -> Result:
            _lock(conn, msisdn)
            if conn.execute(select(S.c.id).where(S.c.idem_key == key)).first():
                return Result(True, points_left=_points(conn, msisdn))
            held = conn.execute(select(S.c.id, S.c.until).where(
                S.c.msisdn == msisdn, S.c.package == package, S.c.status == "active",
                S.c.until >= self.clock().date())).first()
            if held is None or held.until >= until:
                return Result(False, "lapsed" if held is None else "already", _points(conn, msisdn))
            refused = self._pay(conn, msisdn, package, price_fen, points, key)
            if refused is not None:
                return refused
            conn.execute(update(S).where(S.c.id == held.id).values(
                until=until, price_fen=price_fen, points=points, pay="points" if points else "bill", idem_key=key))
            return Result(True, points_left=_points(conn, msisdn))

        return write(self.engine, work)

    def unsubscribe(self, msisdn: str, package: str) -> Result:
        self.faults.check("boss")
        write(self.engine, lambda conn: conn.execute(update(S).where(
            S.c.msisdn == msisdn, S.c.package == package, S.c.status == "active").values(status="cancelled")))
        return Result(True)

    # -- idempotency ----------------------------------------------------------------------------
    def _once(self, key: str, msisdn: str, work, also: str = "", again: str = "") -> Result:
        """Return the first result for a key (with reason `again`): an existing entry means the operation
        already happened. The accounts are locked before the key is looked at, so a racing retry waits for
        the first attempt and then sees its entry instead of judging a balance the first attempt already spent."""
        def guarded(conn: Connection) -> Result:
            _lock(conn, msisdn, also)
            if conn.execute(select(E.c.id).where(E.c.idem_key == key)).first():
                return Result(True, again, _points(conn, msisdn))
            return work(conn)

        try:
            return write(self.engine, guarded)
        except IntegrityError:  # success only if a concurrent attempt with this very key committed first
            with self.engine.connect() as conn:
                if conn.execute(select(E.c.id).where(E.c.idem_key == key)).first():
                    return Result(True, again, _points(conn, msisdn))
            raise  # any other violation (a NOT NULL, another entry's key) is a fault, never "already done"


def _lock(conn: Connection, *msisdns: str) -> None:
    """Lock account rows in one order (no deadlock between opposite transfers); a no-op on SQLite,
    whose writers are serialised anyway."""
    conn.execute(select(A.c.msisdn).where(A.c.msisdn.in_(sorted(m for m in msisdns if m)))
                 .order_by(A.c.msisdn).with_for_update()).all()


def _charged(conn: Connection, key: str) -> bool:
    return conn.execute(select(B.c.id).where(B.c.idem_key == key)).first() is not None


def _debit(conn: Connection, msisdn: str, points: int) -> bool:
    done = conn.execute(update(A).where(A.c.msisdn == msisdn, A.c.points >= points)
                        .values(points=A.c.points - points)).rowcount
    return done == 1


def _entry(conn: Connection, msisdn: str, delta: int, kind: str, ref: str, key: str, at: datetime) -> None:
    conn.execute(insert(E).values(msisdn=msisdn, delta=delta, kind=kind, ref=ref, idem_key=key, created_at=at))


def _points(conn: Connection, msisdn: str) -> int:
    return conn.execute(select(A.c.points).where(A.c.msisdn == msisdn)).scalar_one_or_none() or 0


def _mask(msisdn: str) -> str:
    return msisdn[:-8] + "****" + msisdn[-4:] if len(msisdn) > 8 else "****"

