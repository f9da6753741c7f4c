"""A campaign's counts, read from where the facts are: its messages in the two outboxes (found through its
members, cause `cmp:{id}:{msisdn}`), the gate's verdicts on them, delivery reports, the replies that came
back and the BOSS's offers taken. Also the one write the lifecycle makes to the outboxes: holding, releasing
or cancelling the messages a sender has not taken yet."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, case, column, func, literal, select, table, union, update
from sqlalchemy.engine import Connection, Engine

from integrations.sqltx import utc
from jobs.campaign_tables import CampaignMember
from jobs.gate import QUIET
from jobs.tables import Outbox, TelegramOutbox

M, O, TO = CampaignMember.__table__, Outbox.__table__, TelegramOutbox.__table__
REPLIES = ("1", "１")  # a Chinese keyboard's full-width one too
COUNTS = ("written", "sent", "delivered", "failed", "deferred", "capped", "suppressed", "held", "cancelled",
          "pending", "replied", "accepted")  # pending: written, not yet sent, deferred included


def prefix(campaign_id: int) -> str:
    """Every message of the campaign has a cause starting with this."""
    return f"cmp:{campaign_id}:"


def set_status(conn: Connection, campaign_id: int, old: str, new: str, now: datetime) -> None:
    """Move the campaign's messages in status `old` to `new`, in the caller's transaction (the campaign's row
    is locked there, so the run cannot write a batch between this and the state change). Only rows no sender
    holds: one being submitted goes on."""
    like = prefix(campaign_id) + "%"
    for tbl in (O, TO):
        values = {"status": new, **({"next_attempt_at": utc(now), "error": ""} if new == "pending" else {}),
                  **({"error": "campaign cancelled"} if new == "cancelled" else {})}
        conn.execute(update(tbl).where(tbl.c.status == old, tbl.c.cause.like(like)).values(**values))


def _outbox(conn: Connection, tbl, campaign_id: int) -> dict[str, int]:
    """Counts of one outbox's rows of the campaign, joined through its members (an index lookup each)."""
    sms = tbl is O
    delivered = (tbl.c.dlr_status == "Success") if sms else (tbl.c.status == "sent")
    failed = (tbl.c.status == "failed") | (tbl.c.dlr_status.in_(("Failed", "Rejected")) if sms else False)
    is_ = lambda cond: func.coalesce(func.sum(case((cond, 1), else_=0)), 0)  # noqa: E731
    stmt = select(func.count(tbl.c.id), is_(tbl.c.status == "sent"), is_(delivered), is_(failed),
                  is_(and_(tbl.c.status == "pending", tbl.c.error == QUIET)), is_(tbl.c.status == "capped"),
                  is_(tbl.c.status == "suppressed"), is_(tbl.c.status == "held"), is_(tbl.c.status == "cancelled"),
                  is_(tbl.c.status.in_(("pending", "sending")))).select_from(M.join(tbl, tbl.c.cause == literal(prefix(campaign_id)) + M.c.msisdn)).where(
        M.c.campaign_id == campaign_id, M.c.control == False)  # noqa: E712
    return dict(zip(COUNTS, (int(v or 0) for v in conn.execute(stmt).one())))


# the inboxes and links belong to the runtime (bot/models.py); a job names only the columns it reads
SMS_IN = table("sms_inbox", column("msisdn"), column("text"), column("received_at"))
TG_IN = table("telegram_inbox", column("user_id"), column("text"), column("received_at"))
LINK = table("telegram_link", column("user_id"), column("msisdn"))


def replied(conn: Connection, campaign_id: int, since: datetime) -> int:
    """Members (not control) who sent a "1" by SMS or in their linked Telegram chat after the launch."""
    member = and_(M.c.campaign_id == campaign_id, M.c.control == False)  # noqa: E712
    by_sms = select(SMS_IN.c.msisdn).join(M, and_(M.c.msisdn == SMS_IN.c.msisdn, member)).where(
        SMS_IN.c.received_at >= utc(since), func.trim(SMS_IN.c.text).in_(REPLIES))
    by_tg = select(LINK.c.msisdn).select_from(TG_IN.join(LINK, LINK.c.user_id == TG_IN.c.user_id)).join(
        M, and_(M.c.msisdn == LINK.c.msisdn, member)).where(TG_IN.c.received_at >= utc(since),
                                                             func.trim(TG_IN.c.text).in_(REPLIES))
    return int(conn.execute(select(func.count()).select_from(union(by_sms, by_tg).subquery())).scalar_one())


def counts(engine: Engine, row: Any, services: Any = None) -> dict[str, Any]:
    """The report's counts for a campaign row; `accepted` needs the BOSS (None without it)."""
    with engine.connect() as conn:
        sms, tg = _outbox(conn, O, row.id), _outbox(conn, TO, row.id)
        out = {k: sms[k] + tg[k] for k in sms}
        launched = row.launched_at
        out["replied"] = replied(conn, row.id, launched if launched.tzinfo else launched.replace(
            tzinfo=timezone.utc)) if launched else 0
    out["suppressed"] += row.suppressed
    out["accepted"] = services.boss.awarded(prefix(row.id)) if services is not None else None
    return out
