"""Reconciliation: a payment taken for a booking that never happened is paid back.

A booking pays first (key + ":pay") and then confirms the hold. If the process dies or the partner
fails in between and the subscriber does not confirm again, the hold lapses with the money taken.
This job finds lapsed holds, gives them up for good, and refunds what was paid under their key;
every step is idempotent, so it can run as often as wanted (e.g. every few minutes).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from flows.common import paid_under, refund
from integrations.services import Services, simulated
from integrations.sqltx import utcnow
from jobs import process

GRACE = timedelta(minutes=5)  # after a hold lapses, before we decide it will not be confirmed
log = structlog.get_logger()


def reconcile(services: Services, now: datetime, grace: timedelta = GRACE) -> int:
    """Refund the payments of lapsed holds; returns how many were refunded."""
    refunded = 0
    for partner, what in ((services.golf, "golf"), (services.hospital, "registration")):
        for key, msisdn in partner.stale_holds(now - grace):
            paid = paid_under(services, key + ":pay")
            partner.release(key, final=paid is not None)
            if paid is None:
                continue
            back = refund(services, msisdn, paid, key + ":refund", what)
            if back.ok:
                refunded += 1
            else:  # the hold is given up either way; what is owed is left for someone to see
                log.error("refund_refused", product=what, hold=key, method=paid.method, amount=paid.amount,
                          reason=back.reason)
    return refunded


def reconcile_job() -> int:
    """RQ job entry point: no arguments, the worker's database (a URL would put its password in Redis)."""
    return reconcile(simulated(process.engine()), utcnow())
