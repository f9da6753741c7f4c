"""Sending the outbox: RQ jobs carry only row ids, claim their rows with a conditional update, submit
each message with its row id as the gateway's client reference, and retry with backoff.

Exactly once: a worker that dies after the gateway took a message leaves the row claimed; when the
claim lapses the re-scan hands it to another job, which submits it again under the same reference, and
the gateway accepts it once and answers with the first message id.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, NamedTuple

from sqlalchemy import and_, bindparam, case, func, insert, or_, select, text, update
from sqlalchemy.engine import Connection, Engine

from jobs import gate, process
from jobs.metrics import count_statuses
from jobs.tables import Outbox
from jobs.delivery import apply_parked_many
from integrations.smsgateway import BULK_MAX
from integrations.smsgateway.client import GatewayClient, GatewayError
from integrations import sqlrows
from integrations.sqltx import utcnow, write

O = Outbox.__table__
OPTIONAL = gate.GATED  # what an opt-out, quiet hours and caps hold back; replies and confirmations still go
BACKOFF_S = (10, 60, 300)  # waits after the 1st, 2nd and 3rd failed attempt; the 4th failure is final
CLAIM_S = 60
BATCH = 500  # rows per RQ job: one job costs ~3 ms, and each statement of a job is paid once per batch
CHUNK = BULK_MAX  # rows per gateway request (500): one request, one claim and one gate pass per job


def add(conn: Connection, msisdn: str, text: str, cause: str, now: datetime, kind: str = "reply",
        topic: str = "", cap_class: str = "") -> None:
    """Write a message in the caller's transaction; the same cause twice is one message."""
    exists = conn.execute(select(O.c.id).where(O.c.cause == cause)).first()
    if not exists:
        conn.execute(insert(O).values(_pending(msisdn, text, cause, now, kind, topic, cap_class)))


class New(NamedTuple):
    """A message whose cause is new for certain (its cause was marked done in the same transaction)."""

    msisdn: str
    text: str
    cause: str
    kind: str = "reply"


def add_new(conn: Connection, messages: list[New], now: datetime) -> list[int]:
    """Write messages in the caller's transaction (one prepared INSERT for all), without looking for their
    causes first (an existing one fails the transaction); their row ids, in order."""
    conn.execute(_INSERT, [_pending(m.msisdn, m.text, m.cause, now, m.kind) for m in messages])
    query = sqlrows.built(conn, _ids_by_cause)
    ids = dict(conn.execute(query, {"causes": sqlrows.values(conn, [m.cause for m in messages])}).all())
    return [ids[m.cause] for m in messages]


def _ids_by_cause(conn: Connection):
    return select(O.c.cause, O.c.id).where(sqlrows.among(conn, "cause", "causes", "text"))


_INSERT = insert(O)


def _pending(msisdn: str, text: str, cause: str, now: datetime, kind: str, topic: str = "",
             cap_class: str = "") -> dict:
    return dict(msisdn=msisdn, text=text, cause=cause, kind=kind, topic=topic, cap_class=cap_class,
                status="pending", attempts=0, next_attempt_at=now, error="", created_at=now)


@dataclass
class Sender:
    engine: Engine
    client: GatewayClient
    backoff: tuple[float, ...] = BACKOFF_S
    clock: Callable[[], datetime] = utcnow
    sender_id: str = ""
    claim_s: float = CLAIM_S  # how long a claim holds before another job may take the row
    chunk: int = CHUNK  # messages per gateway request
    gate: gate.Gate = field(default_factory=gate.Gate)  # quiet hours and caps ([reminders])
    deferred: dict[datetime, list[int]] = field(default_factory=dict)  # rows held for quiet hours, by when

    def send(self, ids: Iterable[int]) -> int:
        """Claim and submit these rows, a chunk per gateway request; returns how many were accepted."""
        ids, token = sorted(set(ids)), secrets.token_hex(8)
        rows, first = write(self.engine, lambda conn: self._claim(conn, ids, token, self.clock()))
        sent, renew_at = 0, time.monotonic() + self.claim_s / 2
        for start in range(0, len(rows), self.chunk):
            if time.monotonic() >= renew_at:  # a slow gateway: keep the rest of the batch ours
                self._renew(token)
                renew_at = time.monotonic() + self.claim_s / 2
            sent += self._submit(rows[start:start + self.chunk], token, first if start == 0 else None)
        return sent

    def _claim(self, conn: Connection, ids: list[int], token: str, now: datetime) -> tuple[list[Claimed], gate.Verdict]:
        """Read the rows by id (locked: FOR UPDATE on PostgreSQL, the write lock on SQLite), take those pending
        and due or whose claim lapsed, and pass the first request's rows through the gate, all in one
        transaction: the claim writes each row's cap mark itself, so a row is updated once here.
        Only the primary key finds the rows: a condition on `status` let PostgreSQL's planner, with statistics
        older than a bulk insert, scan every pending row for each batch."""
        if not ids:
            return [], gate.Verdict()
        due = and_(O.c.status == "pending", O.c.next_attempt_at <= now)
        lapsed = and_(O.c.status == "sending", O.c.claimed_until < now)
        state = case((due, 1), (lapsed, 2), else_=0).label("state")
        found = conn.execute(select(O.c.id, O.c.msisdn, O.c.text, O.c.attempts, O.c.kind, O.c.cap_class, O.c.error,
                                    state).where(sqlrows.among(conn, "outbox.id", "ids")).order_by(O.c.id)
                             .with_for_update(), {"ids": sqlrows.values(conn, ids)}).all()
        limit = len(self.backoff) + 1
        dead = [r.id for r in found if r.state == 2 and r.attempts >= limit]  # every attempt died with its worker
        rows = [r for r in found if r.state == 1 or (r.state == 2 and r.attempts < limit)]
        if dead:
            conn.execute(update(O).where(sqlrows.among(conn, "outbox.id", "ids")).values(
                status="failed", claim=None, claimed_until=None, error="no answer after the last attempt"),
                {"ids": sqlrows.values(conn, dead)})
        verdict = self.gate.decide(conn, rows[:self.chunk], now)
        marks = {row_id: gate.counted(slot) for row_id, slot in verdict.slots.items()}
        taken = [Claimed(r.id, r.msisdn, r.text, r.attempts + 1, r.kind, r.cap_class, marks.get(r.id, r.error))
                 for r in rows]
        if taken:
            listed = sqlrows.table_params(conn, "v", CLAIMED, [(r.id, r.error) for r in taken])
            conn.execute(_claim_statement(conn), {**listed, "token": token, "until": now + timedelta(seconds=self.claim_s)})
        return taken, verdict

    def _submit(self, rows: list, token: str, verdict: gate.Verdict | None = None) -> int:
        """One gateway request. The gate (opt-out, quiet hours, caps) is passed right before it (the first
        request's in the claim), so a STOP in the middle of a batch stops every later request: a reminder
        queued before STOP does not leave."""
        verdict = verdict or self.gate.screen(self.engine, O, rows, token, self.clock())
        gate.logged("sms", verdict)
        done = [_Done(h.row_id, h.status, h.error, next_attempt_at=h.next_attempt_at, back=h.status == "pending")
                for h in verdict.held]
        self._defer(verdict)
        held = {h.row_id for h in verdict.held}
        rows = [r for r in rows if r.id not in held]
        accepted = 0
        if rows:
            try:
                results = self.client.send_many([(r.msisdn, r.text, str(r.id)) for r in rows], self.sender_id)
            except Exception as exc:  # the request failed as a whole: each row waits or fails
                error = str(exc) if isinstance(exc, GatewayError) else f"unexpected: {type(exc).__name__}"
                done += [self._retry_or_fail(r, error) for r in rows]
            else:
                for r, result in zip(rows, results):
                    if result.accepted:
                        accepted += 1
                        done.append(_Done(r.id, "sent", gateway_message_id=result.message_id))
                    else:
                        done.append(_Done(r.id, "failed", error=f"gateway status {result.status_code}"))
        self._finish(token, done, verdict.slots)
        return accepted

    def _defer(self, verdict: gate.Verdict) -> None:
        """Remember the rows held for quiet hours, by the moment they may go (the job schedules them)."""
        for h in verdict.held:
            if h.status == "pending" and h.next_attempt_at is not None:
                self.deferred.setdefault(h.next_attempt_at, []).append(h.row_id)

    def _retry_or_fail(self, row, error: str) -> "_Done":
        if row.attempts > len(self.backoff):
            return _Done(row.id, "failed", error=error)
        wait = timedelta(seconds=self.backoff[row.attempts - 1])
        return _Done(row.id, "pending", error=error, next_attempt_at=self.clock() + wait)

    def _finish(self, token: str, done: list["_Done"], slots: dict[int, gate.Slot] | None = None) -> None:
        """Every row of a request in one transaction: the sent ones in one set-based statement, the rest (retried,
        failed, held) by an executemany; a row that took a cap slot and was not sent gives it back in it."""
        if not done:
            return
        sent = [(d.row_id, d.gateway_message_id) for d in done if d.status == "sent" and not d.back]
        rest = [d for d in done if d.status != "sent" or d.back]
        params = [{"rid": d.row_id, "st": d.status, "err": d.error[:128], "gid": d.gateway_message_id,
                   "nxt": d.next_attempt_at, "back": int(d.back), "token": token} for d in rest]
        message_ids = [d.gateway_message_id for d in done if d.gateway_message_id]
        unused = [slots[d.row_id] for d in done if slots and d.row_id in slots and d.status != "sent"]

        def work(conn: Connection) -> None:
            if sent:
                mark_sent(conn, sent, token)
            if params:
                conn.execute(FINISH, params)
            gate.give_back(conn, unused)
            apply_parked_many(conn, message_ids)  # reports that beat us here

        write(self.engine, work)
        count_statuses("sms", [d.status for d in done])

    def _renew(self, token: str) -> None:
        until = self.clock() + timedelta(seconds=self.claim_s)
        write(self.engine, lambda conn: conn.execute(
            update(O).where(O.c.claim == token, O.c.status == "sending").values(claimed_until=until)))

    def due(self, limit: int = 10_000) -> list[int]:
        """Rows a job should take now: pending and due, or claimed by a job that never finished."""
        now = self.clock()
        with self.engine.connect() as conn:
            return list(conn.execute(select(O.c.id).where(or_(
                and_(O.c.status == "pending", O.c.next_attempt_at <= now),
                and_(O.c.status == "sending", O.c.claimed_until < now))).order_by(O.c.id).limit(limit)).scalars())


class Claimed(NamedTuple):
    """A row this job took, as the gate and the gateway request need it (attempts: this one included)."""

    id: int
    msisdn: str
    text: str
    attempts: int
    kind: str
    cap_class: str
    error: str


@dataclass(frozen=True)
class _Done:
    """How one row of a request ended."""

    row_id: int
    status: str
    error: str = ""
    gateway_message_id: str | None = None
    next_attempt_at: datetime | None = None
    back: bool = False  # deferred for quiet hours: the attempt does not count


FINISH = update(O).where(O.c.id == bindparam("rid"), O.c.claim == bindparam("token")).values(
    status=bindparam("st"), error=bindparam("err"), claim=None, claimed_until=None,
    gateway_message_id=func.coalesce(bindparam("gid"), O.c.gateway_message_id),
    next_attempt_at=func.coalesce(bindparam("nxt"), O.c.next_attempt_at), attempts=O.c.attempts - bindparam("back"))


CLAIMED = {"id": "int", "err": "text"}  # the claim's list: each row with its error (its cap mark, if counted)


def _claim_statement(conn: Connection):
    """Take the listed rows for this job, each with its error (its cap mark, when the gate counted it)."""
    return text("UPDATE outbox SET status = 'sending', claim = :token, claimed_until = :until, "
                "attempts = outbox.attempts + 1, error = v.err "
                f"FROM {sqlrows.table(conn, 'v', CLAIMED)} WHERE outbox.id = v.id").bindparams(
        bindparam("until", type_=O.c.claimed_until.type))


def mark_sent(conn: Connection, sent: list[tuple[int, str | None]], token: str) -> None:
    """Rows the gateway took, with their message ids, in one UPDATE ... FROM the list (SQLite 3.33+)."""
    cols = {"id": "int", "gid": "text"}
    conn.execute(text("UPDATE outbox SET status = 'sent', error = '', claim = NULL, claimed_until = NULL, "
                      "gateway_message_id = COALESCE(v.gid, outbox.gateway_message_id) "
                      f"FROM {sqlrows.table(conn, 'v', cols)} WHERE outbox.id = v.id AND outbox.claim = :token"),
                 {**sqlrows.table_params(conn, "v", cols, sent), "token": token})


def batches(ids: list[int], size: int = BATCH) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def send_outbox(ids: list[int]) -> int:
    """RQ job: send these outbox rows; those held for quiet hours are scheduled for their morning."""
    sender = process.sender()
    sent = sender.send(ids)
    schedule_deferred(sender.deferred, send_outbox)
    return sent


def schedule_deferred(deferred: dict[datetime, list[int]], job) -> None:
    """Queue rows held for quiet hours to run `job` at the moment they may go, with RQ's `enqueue_at`
    (workers must run RQ's scheduler); the re-scan finds them then too, should Redis lose these."""
    from rq import Queue, get_current_job

    pending, current = dict(deferred), get_current_job()
    deferred.clear()
    if current is None or not pending:
        return
    queue = Queue(current.origin, connection=current.connection)
    for when, ids in sorted(pending.items()):
        for batch in batches(ids):
            queue.enqueue_at(when, job, batch)


def enqueue(queue, ids: list[int]) -> None:
    """Hand row ids to the queue in batches; one job per batch, because a job costs ~3 ms here."""
    for batch in batches(ids):
        queue.enqueue(send_outbox, batch)


def rescan() -> int:
    """RQ job: queue every row that is due or whose claim lapsed; losing Redis loses no message."""
    from rq import Queue, get_current_job

    job = get_current_job()
    due = process.sender().due()
    enqueue(Queue(job.origin, connection=job.connection), due)
    return len(due)
