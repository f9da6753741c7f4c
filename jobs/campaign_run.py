"""A campaign's run: its members' messages written to the SMS outbox (or the Telegram chat a member chose), a
batch per transaction, in number order from where the last batch stopped, each with the offer's goto, then
handed to the senders, whose gate applies opt-outs, quiet hours and caps at send time.

Safe to run twice, concurrently or after a SIGKILL: a batch locks the campaign's row, reads its cursor, writes
and moves the cursor in one transaction, and every message is unique by its cause `cmp:{id}:{msisdn}`. A
paused or cancelled campaign is seen by the next batch (the lifecycle moves it under the same lock). A paced
run (`rate_per_second`) writes a second's worth and queues its next part for the moment it is due (RQ's
`enqueue_at`), never sleeping on a worker the senders need; a run that died is queued again by `rescan` once
its lease (`run_until`) has passed."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

import structlog
from sqlalchemy import and_, column, or_, select, table, update
from sqlalchemy.engine import Connection, Engine

from integrations.sqltx import utc, utcnow, write
from jobs import process
from jobs import reminder_write as store
from jobs.metrics import CAMPAIGN_WRITTEN
from jobs.audit import SYSTEM, record
from jobs.campaign_kind import KindDue, KindPartners, due_now, texts
from jobs.campaign_spec import Offer
from jobs.campaign_tables import Campaign, CampaignMember
from jobs.campaign_text import message
from jobs.campaigns import aware, spec_of, target
from jobs.schedule import Periodic, provide
from jobs.tables import Outbox, TelegramOutbox

log = structlog.get_logger()
C, M, O, TO, G = (Campaign.__table__, CampaignMember.__table__, Outbox.__table__, TelegramOutbox.__table__,
                  store.G)
SUBSCRIBER = table("subscriber", column("msisdn"), column("name"), column("tier"), column("language"),
                   column("timezone"))  # the runtime's; read only
KIND = CAP_CLASS = "marketing"  # docs/campaigns.md: gated, capped and reported as marketing
GOTO_HOURS = 7 * 24  # a reply "1" takes the offer for a week (a message deferred overnight included)
PART = timedelta(seconds=1)  # a paced run writes a second's worth of members a part
MAX_PART = timedelta(seconds=10)  # however late a part starts, it makes up at most this much
RUN_TIMEOUT_S = 3600  # an unpaced million-member run takes minutes; RQ's default 180 s is too little
Enqueue = Callable[[str, list[int]], None]  # ("sms" | "telegram", new row ids) -> the senders' queue
Requeue = Callable[[int, "datetime | None"], None]


@dataclass(frozen=True)
class CampaignSetup:
    """[campaigns] as the run reads it: members per transaction, and how long a run's lease lasts."""

    batch: int = 1000
    lease_seconds: float = 60.0


def campaign_setup(settings: Any) -> CampaignSetup:
    """From [campaigns] (bot.settings.Campaigns, validated there)."""
    return CampaignSetup(settings.campaigns.batch, settings.campaigns.run_lease)


@dataclass
class Batch:
    """One batch's outcome: new row ids per outbox, members read, and the campaign's state after it."""

    state: str
    members: int = 0
    not_due: int = 0
    sms: list[int] = field(default_factory=list)
    telegram: list[int] = field(default_factory=list)


def cause(campaign_id: int, msisdn: str) -> str:
    return f"cmp:{campaign_id}:{msisdn}"


def _page(conn: Connection, campaign_id: int, after: str, size: int) -> list:
    """The next members who get a message (not control), with what a reminder reads of them today."""
    s = SUBSCRIBER.c
    return conn.execute(select(M.c.msisdn, s.name, s.tier, s.language, s.timezone).select_from(
        M.outerjoin(SUBSCRIBER, SUBSCRIBER.c.msisdn == M.c.msisdn)).where(
        M.c.campaign_id == campaign_id, M.c.control == False, M.c.msisdn > after)  # noqa: E712
        .order_by(M.c.msisdn).limit(size)).all()


def _rows(campaign_id: int, row: Any, page: list, chats: dict[str, int], catalogs: Any, now: datetime,
          worded: Mapping[str, str] | None = None) -> tuple[list[dict], list[dict]]:
    """The batch's outbox rows (SMS, Telegram): a text campaign's one text per language, rendered once; a
    kind's campaign's text per member (`worded`: only the members the kind is due for)."""
    spec, texts, sms, tg = spec_of(row), {}, [], []
    base = {"kind": KIND, "topic": f"cmp:{campaign_id}", "cap_class": CAP_CLASS, "status": "pending",
            "attempts": 0, "next_attempt_at": utc(now), "error": "", "created_at": utc(now)}
    for member in page:
        lang = member.language or "zh_Hans"
        if worded is not None:
            if member.msisdn not in worded:
                continue
            texts[lang] = worded[member.msisdn]
        elif lang not in texts:
            texts[lang] = message(spec, lang, catalogs)
        new = {**base, "msisdn": member.msisdn, "text": texts[lang], "cause": cause(campaign_id, member.msisdn)}
        chat = chats.get(member.msisdn)
        (tg.append({**new, "chat_id": chat}) if chat is not None else sms.append(new))
    return sms, tg


def _gotos(conn: Connection, campaign_id: int, offer: Offer, written: set[str], now: datetime) -> None:
    """The offer a reply "1" takes (flows/offers.py reads these values), beside each new message."""
    if not written:
        return
    params = json.dumps(offer.goto_values(campaign_id), separators=(",", ":"))
    until = utc(now + timedelta(hours=GOTO_HOURS))
    stmt = store.dialect_insert(conn, G)
    stmt = stmt.on_conflict_do_update(index_elements=["msisdn"], set_={
        c: stmt.excluded[c] for c in ("kind", "goto", "params", "cause", "expires_at")})
    conn.execute(stmt, [{"msisdn": c.rsplit(":", 1)[1], "kind": "campaign", "goto": "offers.claim", "cause": c,
                         "params": params, "expires_at": until} for c in sorted(written)])


def _kind_gotos(conn: Connection, kind_due: KindDue, worded: Mapping[str, tuple[str, Any]], sms: list[dict],
                tg: list[dict], written: set[str], now: datetime) -> None:
    """A kind's own goto (a reply "1" continues it), written as a reminder run writes it, with the member's
    values, when the campaign has no offer of its own."""
    if kind_due.kind.goto:
        store.gotos(conn, kind_due.kind, [store.Row(r["msisdn"], r["cause"], r["text"], r.get("chat_id"),
                                                    worded[r["msisdn"]][1].data)
                                          for r in sms + tg if r["cause"] in written], now)


def write_batch(engine: Engine, campaign_id: int, now: datetime, catalogs: Any, size: int,
                lease: timedelta, kind_due: KindDue | None = None, default_timezone: str = "Asia/Shanghai"
                ) -> Batch:
    """Write the next batch, or mark the campaign done when none is left; nothing unless it is running. A
    kind's campaign (`kind_due`) writes only to the members the kind is due for, and counts the others."""
    def work(conn: Connection) -> Batch:
        row = conn.execute(select(C).where(C.c.id == campaign_id).with_for_update()).first()
        if row is None or row.state != "running":
            return Batch(row.state if row is not None else "gone")
        page = _page(conn, campaign_id, row.cursor, size)
        if not page:
            conn.execute(update(C).where(C.c.id == campaign_id).values(
                state="done", finished_at=utc(now), updated_at=utc(now), run_until=None))
            record(conn, SYSTEM, "campaign.done", target(campaign_id), now, written=row.written)
            return Batch("done")
        offer = spec_of(row).offer
        worded = None if kind_due is None else texts(kind_due, page, offer, catalogs, default_timezone)
        sms, tg = _rows(campaign_id, row, page, store.chats_for(conn, [m.msisdn for m in page]), catalogs, now,
                        None if worded is None else {m: text for m, (text, _) in worded.items()})
        sms_ids, done = store.insert_new(conn, O, sms)
        tg_ids, done_tg = store.insert_new(conn, TO, tg)
        if offer is not None:
            _gotos(conn, campaign_id, offer, done | done_tg, now)
        elif kind_due is not None and worded:
            _kind_gotos(conn, kind_due, worded, sms, tg, done | done_tg, now)
        not_due = 0 if worded is None else len(page) - len(worded)
        conn.execute(update(C).where(C.c.id == campaign_id).values(
            cursor=page[-1].msisdn, written=C.c.written + len(sms_ids) + len(tg_ids), not_due=C.c.not_due + not_due,
            run_until=utc(now + lease)))
        return Batch("running", len(page), not_due, sms_ids, tg_ids)

    batch = write(engine, work)
    CAMPAIGN_WRITTEN.labels("sms").inc(len(batch.sms))
    CAMPAIGN_WRITTEN.labels("telegram").inc(len(batch.telegram))
    return batch


def begin(engine: Engine, campaign_id: int, now: datetime, lease: timedelta) -> Any:
    """The campaign's row as the run starts: a scheduled one that is due starts running now."""
    def work(conn: Connection) -> Any:
        row = conn.execute(select(C).where(C.c.id == campaign_id).with_for_update()).first()
        if row is None:
            return None
        if row.state == "scheduled" and row.start_at is not None and aware(row.start_at) <= now:
            conn.execute(update(C).where(C.c.id == campaign_id).values(state="running", updated_at=utc(now)))
            record(conn, SYSTEM, "campaign.start", target(campaign_id), now, state="running")
        if row.state in ("scheduled", "running"):
            conn.execute(update(C).where(C.c.id == campaign_id).values(run_until=utc(now + lease)))
        return conn.execute(select(C).where(C.c.id == campaign_id)).first()

    return write(engine, work)


@dataclass
class Run:
    """One part of a campaign's run: batches until it is done, paused or cancelled; a paced one writes one
    second's worth (`rate_per_second` members, more when its part started late) and queues the next part for
    the moment it is due, so the worker is free to send in between."""

    engine: Engine
    campaign_id: int
    catalogs: Any
    enqueue: Enqueue | None = None  # None: the outbox re-scan sends the rows
    requeue: Requeue | None = None  # None: a paced run sleeps between its parts, here
    setup: CampaignSetup = CampaignSetup()
    partners: KindPartners | None = None  # a kind's campaign: whom the kind is due for (a text's: unused)
    kind_due: KindDue | None = field(default=None, init=False)  # read at each part's start
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep

    def __call__(self, due: datetime | None = None) -> dict[str, Any]:
        """`due`: when this part was due (a queued part); the time it waited is made up in its size."""
        lease = timedelta(seconds=self.setup.lease_seconds)
        row = begin(self.engine, self.campaign_id, self.clock(), lease)
        if row is None or row.state != "running":
            if row is not None and row.state == "scheduled" and self.requeue:
                self.requeue(self.campaign_id, aware(row.start_at))
            return {"id": self.campaign_id, "state": row.state if row is not None else "gone", "written": 0}
        self.kind_due = self._due(spec_of(row).kind)
        return self._parts(spec_of(row).rate_per_second, lease, due)

    def _due(self, kind: str | None) -> KindDue | None:
        """A kind's due list, read at this part's start; a text campaign has none."""
        if kind is None:
            return None
        if self.partners is None:
            raise RuntimeError(f"campaign {self.campaign_id} sends kind {kind!r}: its run needs the partners")
        return due_now(self.engine, self.partners, kind, self.clock())

    def _budget(self, rate: int, started: datetime, due: datetime | None) -> int:
        late = max(timedelta(0), started - due) if due is not None else timedelta(0)
        return max(1, int(rate * min(PART + late, MAX_PART).total_seconds()))

    def _parts(self, rate: int | None, lease: timedelta, due: datetime | None) -> dict[str, Any]:
        part = self.clock()
        budget = left = self._budget(rate, part, due) if rate else 0
        members = written = not_due = 0
        while True:
            size = min(self.setup.batch, left) if rate else self.setup.batch
            batch = write_batch(self.engine, self.campaign_id, self.clock(), self.catalogs, size, lease,
                                self.kind_due, self._zone())
            self._hand_off(batch)
            members, written = members + batch.members, written + len(batch.sms) + len(batch.telegram)
            not_due += batch.not_due
            left -= batch.members
            if batch.state != "running":
                break
            if not rate or left > 0:
                continue
            next_due = part + timedelta(seconds=budget / rate)
            if self.requeue:
                self._later(next_due, lease)
                break
            self.sleep(max(0.0, (next_due - self.clock()).total_seconds()))
            part, budget = next_due, self._budget(rate, next_due, None)
            left = budget
        log.info("campaign_run", campaign=self.campaign_id, state=batch.state, members=members, written=written,
                 not_due=not_due)
        return {"id": self.campaign_id, "state": batch.state, "written": written}

    def _zone(self) -> str:
        return self.partners.reminders.default_timezone if self.partners else "Asia/Shanghai"

    def _hand_off(self, batch: Batch) -> None:
        if self.enqueue and batch.sms:
            self.enqueue("sms", batch.sms)
        if self.enqueue and batch.telegram:
            self.enqueue("telegram", batch.telegram)

    def _later(self, due: datetime, lease: timedelta) -> None:
        """The next part at its moment; the lease covers the wait, so the re-scan does not queue it too."""
        write(self.engine, lambda conn: conn.execute(update(C).where(C.c.id == self.campaign_id).values(
            run_until=utc(due + lease))))
        assert self.requeue is not None
        self.requeue(self.campaign_id, due)


# -- RQ ---------------------------------------------------------------------------------------------------

def _queue():
    from rq import Queue, get_current_job

    job = get_current_job()
    return Queue(job.origin, connection=job.connection) if job else None


def run_campaign(campaign_id: int, due: str | None = None) -> dict[str, Any]:
    """RQ job: write (the next part of) a campaign's messages and hand them to the senders. Its effect
    happens once however often it runs (module docstring). `due`: the ISO moment a queued part was due."""
    from jobs.reminders import queue_sender

    queue = _queue()
    return Run(process.engine(), campaign_id, process.catalogs(), queue_sender(queue) if queue else None,
               queue_run(queue) if queue else None, process.campaigns(), _partners())(
        datetime.fromisoformat(due) if due else None)


def _partners() -> KindPartners | None:
    """The partners and reminder kinds the worker lends, if it lends them (a kind's campaign needs both)."""
    try:
        return KindPartners(process.services(), process.reminders())
    except RuntimeError:
        return None


def queue_run(queue) -> Callable[[int, datetime | None], None]:
    """Queue a campaign's run now, or at `at` (RQ's `enqueue_at`: workers run RQ's scheduler)."""
    def go(campaign_id: int, at: datetime | None = None) -> None:
        if at is None or at <= utcnow():
            queue.enqueue(run_campaign, campaign_id, job_timeout=RUN_TIMEOUT_S)
        else:
            queue.enqueue_at(at, run_campaign, campaign_id, at.isoformat(), job_timeout=RUN_TIMEOUT_S)

    return go


def stalled(engine: Engine, now: datetime, lease: timedelta) -> list[int]:
    """Campaigns that should be running and whose run's lease has passed (or that never had one); each is
    leased now, so the next re-scan does not queue it again while the queued run waits for a worker."""
    def work(conn: Connection) -> list[int]:
        ids = list(conn.execute(select(C.c.id).where(
            or_(C.c.state == "running", and_(C.c.state == "scheduled", C.c.start_at <= utc(now))),
            or_(C.c.run_until.is_(None), C.c.run_until < utc(now)))).scalars())
        if ids:
            conn.execute(update(C).where(C.c.id.in_(ids)).values(run_until=utc(now + lease)))
        return ids

    return write(engine, work)


def rescan() -> int:
    """RQ job (the schedule's `campaign-rescan`): queue the run of every stalled campaign."""
    setup, queue = process.campaigns(), _queue()
    ids = stalled(process.engine(), utcnow(), timedelta(seconds=setup.lease_seconds))
    for campaign_id in ids if queue else []:
        queue_run(queue)(campaign_id, None)
    if ids:
        log.info("campaign_rescan", queued=ids)
    return len(ids)


@provide
def campaign_entries(settings: Any) -> list[Periodic]:
    """The re-scan of stalled campaign runs, at [schedule] campaign_rescan."""
    return [Periodic("campaign-rescan", rescan, settings.schedule.campaign_rescan)]
