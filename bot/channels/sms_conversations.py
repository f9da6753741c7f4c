"""From a stored inbound SMS to a reply in the outbox: compliance words first (STOP, START, HELP), then
keywords, then the subscriber's SMS session. The reply row and the inbox row's "processed" mark are one
transaction, so a message processed twice (a retry, a re-scan) is answered once."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Callable

import structlog
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from bot import compliance
from bot.dispatcher import Dispatcher, Inbound, Reply
from bot.engine.flow import Profile
from bot.menus import MenuTree
from bot.models import SmsInbox
from bot.msisdn import mask
from bot.outbound import Outbound
from bot.engine.text import T
from flows import golf
from integrations.sqltx import upsert, utcnow, write
from jobs.tables import OptOut

log = structlog.get_logger()
I, OPT = SmsInbox.__table__, OptOut.__table__
REF = "sms"  # one SMS conversation per subscriber; the session window decides when it is over
GIVE_UP = timedelta(minutes=10)  # a message that still fails after this gets an apology, not silence

STOPPED = T("You will get no more reminders or offers from {short_code}. Text START to get them again.")
STARTED = T("You will get reminders and offers from {short_code} again. Text STOP to stop them.")
# The help lines name GOLF only to subscribers who may book it (flows/golf.py `eligible`, the main menu's
# min_tier): the others would be told of a service that then turns them away.
HELP = T("{short_code}: text GOLF, DOC, FINE, PTS or BILL, then reply with numbers. STOP to opt out. "
         "Care: 10086.")
HELP_NO_GOLF = T("{short_code}: text DOC, FINE, PTS or BILL, then reply with numbers. STOP to opt out. "
                 "Care: 10086.")
UNKNOWN = T("Reply with a number, or text GOLF, DOC, FINE, PTS or BILL.")
UNKNOWN_NO_GOLF = T("Reply with a number, or text DOC, FINE, PTS or BILL.")
THROTTLED = T("You are sending messages too fast. Please wait a minute and try again.")


class SmsConversations:
    def __init__(self, db: Engine, dispatcher: Dispatcher, menus: MenuTree, outbound: Outbound,
                 short_code: str, clock: Callable[[], datetime] = utcnow, max_per_minute: int = 20,
                 turn_timeout: float = 10.0) -> None:
        self.db = db
        self.dispatcher = dispatcher
        self.menus = menus
        self.outbound = outbound
        self.short_code = short_code
        self.clock = clock
        self.max_per_minute = max_per_minute  # more in one minute get one notice, then nothing
        self.turn_timeout = turn_timeout  # the session lock outlives it ([session] lock_ttl_ms)
        self._draining: dict[str, int] = {}  # subscriber -> highest inbox id the running task must reach

    async def process(self, inbox_id: int) -> bool:
        """Answer this message once, after every earlier unanswered message of the same subscriber, so
        their inputs apply in the order they were received; False when it must be tried again later.

        One task at a time answers a subscriber's messages in this process: a message arriving while it
        runs is left to it. Without that, a burst of 100 texts started 100 tasks, each walking the same
        earlier messages, and the flood's work grew with its square while everyone else waited."""
        row = await asyncio.to_thread(self._row, inbox_id)
        if row is None or row.processed_at is not None:
            return True
        if row.msisdn in self._draining:
            self._draining[row.msisdn] = max(self._draining[row.msisdn], row.id)
            return True  # the running task reads the unanswered messages again before it stops
        self._draining[row.msisdn] = row.id
        try:
            while True:
                rows = await asyncio.to_thread(self._unanswered, row.msisdn, self._draining[row.msisdn])
                if not rows:
                    return True
                for earlier in rows:
                    if not await self._answer(earlier):
                        return False  # a later message waits for this one: inputs never overtake
        finally:
            del self._draining[row.msisdn]  # no await since the last read: nothing was left to it

    async def _answer(self, row: SmsInbox) -> bool:
        structlog.contextvars.bind_contextvars(channel="sms", session=row.message_id, msisdn=mask(row.msisdn))
        word = compliance.classify(row.text)
        try:
            if word:  # compliance words are always honoured, however fast they come
                reply = await asyncio.to_thread(self._compliance, row, word)
            elif (place := await self._place_in_window(row)) > self.max_per_minute:
                return await self._throttled(row, first=place == self.max_per_minute + 1)
            else:
                async with asyncio.timeout(self.turn_timeout):  # a slow partner: given up, tried again later
                    reply = await self.dispatcher.reply(await self._inbound(row))
        except Exception as exc:  # Redis, a lock held too long, the database: try again on the re-scan
            log.warning("sms_turn_failed", error=type(exc).__name__, exc_info=True)
            if self.clock() - _aware(row.received_at) < GIVE_UP:
                return False
            reply = self.dispatcher.apology("sms", await asyncio.to_thread(self._lang, row.msisdn))
        kind = "confirmation" if word in ("stop", "start") else "reply"
        out = await asyncio.to_thread(self.outbound.write, row.msisdn, reply.text, f"sms-in:{row.id}", kind,
                                      lambda conn: self._record(conn, row, word))
        log.info("sms_answered", word=word, outbox=out)
        await self.outbound.hand_off([out] if out else [])
        return True

    async def _place_in_window(self, row: SmsInbox) -> int:
        """How many messages this subscriber sent in this minute, this one included: a set of inbox ids,
        so a message processed twice counts once (one round trip)."""
        key = f"{self.dispatcher.store.prefix}rate:{row.msisdn}:{int(self.clock().timestamp() // 60)}"
        async with self.dispatcher.store.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(key, row.id).expire(key, 120).scard(key)
            *_, place = await pipe.execute()
        return int(place)

    async def _throttled(self, row: SmsInbox, first: bool) -> bool:
        """Over the limit: one notice a minute, then silence; the flood never reaches a flow."""
        if first:
            text = self.dispatcher.renderers["sms"].catalogs.render(await asyncio.to_thread(self._lang, row.msisdn),
                                                                    THROTTLED)
            out = await asyncio.to_thread(self.outbound.write, row.msisdn, text, f"sms-in:{row.id}", "reply",
                                          lambda conn: self._record(conn, row, None))
            await self.outbound.hand_off([out] if out else [])
        else:
            await asyncio.to_thread(write, self.db, lambda conn: self._record(conn, row, None))
        log.info("sms_throttled", notice=first)
        return True

    async def _inbound(self, row: SmsInbox) -> Inbound:
        """A keyword begins its flow; other text continues a live session, or gets the main menu with help."""
        goto = self.menus.keyword(row.text)
        if goto:
            return Inbound("sms", row.msisdn, REF, None, row.id, start=goto)
        golfer = _golfer(await asyncio.to_thread(self.dispatcher.subscribers.profile, row.msisdn))
        return Inbound("sms", row.msisdn, REF, row.text.strip(), row.id, start=self.menus.root,
                       notice=UNKNOWN if golfer else UNKNOWN_NO_GOLF)

    def _compliance(self, row: SmsInbox, word: str) -> Reply:
        profile = self.dispatcher.subscribers.profile(row.msisdn)
        text = {"stop": STOPPED, "start": STARTED, "help": HELP if _golfer(profile) else HELP_NO_GOLF}[word]
        lang = profile.lang if profile else self.dispatcher.default_lang
        catalogs = self.dispatcher.renderers["sms"].catalogs
        return Reply(catalogs.render(lang, T(text.msgid, short_code=self.short_code)), final=True)

    def _record(self, conn: Connection, row: SmsInbox, word: str | None) -> bool:
        """Mark the message processed (False if another run did) and record an opt-out or opt-in."""
        done = conn.execute(update(I).where(I.c.id == row.id, I.c.processed_at.is_(None))
                            .values(processed_at=self.clock())).rowcount
        if done != 1:
            return False
        if word in ("stop", "start"):
            values = dict(opted_out=word == "stop", channel="sms", text=row.text[:160], changed_at=self.clock())
            conn.execute(upsert(conn, OPT, ["msisdn"], dict(msisdn=row.msisdn, **values), values))
            log.info("opt_out_recorded" if word == "stop" else "opt_in_recorded")
        return True

    def _row(self, inbox_id: int) -> SmsInbox | None:
        with self.db.connect() as conn:
            found = conn.execute(select(I).where(I.c.id == inbox_id)).first()
        return SmsInbox(**found._mapping) if found else None

    def _unanswered(self, msisdn: str, up_to: int, limit: int = 100) -> list[SmsInbox]:
        with self.db.connect() as conn:
            found = conn.execute(select(I).where(I.c.msisdn == msisdn, I.c.processed_at.is_(None), I.c.id <= up_to)
                                 .order_by(I.c.id).limit(limit)).all()
        return [SmsInbox(**r._mapping) for r in found]

    def _lang(self, msisdn: str) -> str:
        profile = self.dispatcher.subscribers.profile(msisdn)
        return profile.lang if profile else self.dispatcher.default_lang

    def unprocessed(self, older_than: timedelta, limit: int = 1000) -> list[int]:
        """Messages acknowledged but never answered (a process died): the re-scan processes them."""
        cutoff = self.clock() - older_than
        with self.db.connect() as conn:
            return list(conn.execute(select(I.c.id).where(I.c.processed_at.is_(None), I.c.received_at < cutoff)
                                     .order_by(I.c.id).limit(limit)).scalars())


def _golfer(profile: Profile | None) -> bool:
    return profile is not None and golf.eligible(profile.tier)


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
