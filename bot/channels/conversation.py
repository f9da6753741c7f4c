"""A conversation by text messages, whatever channel carries them (SMS, Telegram): from a stored inbound
message to a reply. Compliance words first (STOP, START, HELP), then the flood limit, then keywords, then
the subscriber's session. The reply and the inbox row's "processed" mark are one transaction, so a message
processed twice (a retry, a re-scan) is answered once. A "1" may continue a reminder instead ("Reply 1 to
top up", `reminder_replies`): it starts the reminder's flow state, and the goto is consumed with the reply's
mark. The channel lends its inbox (`Inbox`); the rest
comes through narrow collaborators, never a dispatcher's internals."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Mapping, Protocol

import structlog
from sqlalchemy.engine import Connection

from bot import compliance
from bot.dispatcher import Inbound, Reply
from bot.engine.flow import Profile
from bot.engine.text import T
from bot.menus import MenuTree
from bot.msisdn import mask
from bot.rates import MinuteCounter

if TYPE_CHECKING:
    from bot.channels.reminder_replies import Goto, ReminderReplies
from flows import golf
from integrations.sqltx import upsert, utcnow
from jobs.metrics import OPT_OUTS
from jobs.tables import OptOut

log = structlog.get_logger()
OPT = OptOut.__table__
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


@dataclass(frozen=True)
class InboxRow:
    """An inbound message as the conversation sees it, whichever table holds it."""

    id: int  # the inbox's own id: messages of a subscriber are answered in its order
    msisdn: str  # the subscriber (E.164): sessions, profiles and the flood limit go by it
    text: str
    received_at: datetime  # timezone-aware
    to: str  # where the reply goes: the number for SMS, the chat for Telegram
    ref: str = ""  # the channel's id of the message, for logs
    processed: bool = False
    start: str = ""  # begin here whatever the session (Telegram's /menu), instead of reading `text`
    expect_hop: int | None = None  # a button press: the hop its menu was drawn at (stale: not applied)


class Inbox(Protocol):
    """A text channel's storage: its inbox table, and its outbound messages written with the mark."""

    channel: str  # the channel table's name for it
    wording: Mapping[str, T]  # the channel's own answer to "stop", "start" or "help", where SMS's would not fit

    def row(self, row_id: int) -> InboxRow | None: ...

    def unanswered(self, msisdn: str, up_to: int, limit: int = 100) -> list[InboxRow]:
        """The subscriber's unprocessed rows up to `up_to`, oldest first."""

    def unprocessed(self, before: datetime, limit: int = 1000) -> list[int]:
        """Ids of rows received before `before` and never processed (the re-scan's work)."""

    async def settle(self, row: InboxRow, reply: Reply | None, kind: str,
                     also: Callable[[Connection], None] | None = None) -> int | None:
        """In one transaction (its own, or a group commit with others): mark the row processed, run `also`
        and write `reply` (if any) to `row.to`; the channel draws it (a text, or buttons) and knows its own
        row's extra fields (a press to answer).
        Nothing happens when another run marked it first. The reply's outbound id, for `hand_off`."""

    async def hand_off(self, ids: list[int]) -> None:
        """Send the written replies (or leave them to the outbound re-scan)."""


class Turns(Protocol):
    """The channel's dispatcher, as far as a conversation needs it."""

    async def reply(self, inbound: Inbound) -> Reply: ...

    def apology(self, lang: str | None = None) -> Reply: ...


@dataclass(frozen=True)
class Speech:
    """Who the subscriber is and how to say something to them."""

    profile: Callable[[str], Profile | None]  # the subscriber table's read (a blocking call)
    say: Callable[[str, T], str]  # render a text in a language
    default_lang: str

    def lang(self, profile: Profile | None) -> str:
        return profile.lang if profile else self.default_lang


class TextConversation:
    def __init__(self, inbox: Inbox, turns: Turns, menus: MenuTree, rate: MinuteCounter, speech: Speech,
                 short_code: str, clock: Callable[[], datetime] = utcnow, max_per_minute: int = 20,
                 turn_timeout: float = 10.0, reminders: "ReminderReplies | None" = None) -> None:
        self.inbox = inbox
        self.turns = turns
        self.menus = menus
        self.rate = rate
        self.speech = speech
        self.short_code = short_code  # how the service names itself in help and opt-out confirmations
        self.clock = clock
        self.max_per_minute = max_per_minute  # more in one minute get one notice, then nothing
        self.turn_timeout = turn_timeout  # the session lock outlives it ([session] lock_ttl_ms)
        self.reminders = reminders  # what a "1" continues, when a reminder asked for it
        self._draining: dict[str, int] = {}  # subscriber -> highest inbox id the running task must reach

    async def process(self, inbox_id: int, known: InboxRow | None = None) -> bool:
        """Answer this message once, after every earlier unanswered message of the same subscriber, so
        their inputs apply in the order they were received; False when it must be tried again later.
        `known`: the message itself when the caller knows it is the subscriber's oldest unanswered one
        (stored a moment ago), so the inbox is not read back.

        One task at a time answers a subscriber's messages in this process: a message arriving while it
        runs is left to it. Without that, a burst of 100 texts started 100 tasks, each walking the same
        earlier messages, and the flood's work grew with its square while everyone else waited."""
        row = known or await asyncio.to_thread(self.inbox.row, inbox_id)
        if row is None or row.processed:
            return True
        if row.msisdn in self._draining:
            self._draining[row.msisdn] = max(self._draining[row.msisdn], row.id)
            return True  # the running task reads the unanswered messages again before it stops
        self._draining[row.msisdn] = row.id
        try:
            return await self._drain(row.msisdn, [row] if known else None)
        finally:
            del self._draining[row.msisdn]  # no await since the last read: nothing was left to it

    async def _drain(self, msisdn: str, rows: list[InboxRow] | None) -> bool:
        """Answer the subscriber's unanswered messages in order until none is left up to the highest id
        handed to this task; the inbox is read again only when one arrived meanwhile (or a read was cut)."""
        while True:
            if rows is None:
                rows = await asyncio.to_thread(self.inbox.unanswered, msisdn, self._draining[msisdn])
            if not rows:
                return True
            for earlier in rows:
                if not await self._answer(earlier):
                    return False  # a later message waits for this one: inputs never overtake
            rows = None if self._draining[msisdn] > rows[-1].id else []

    def unprocessed(self, older_than: timedelta, limit: int = 1000) -> list[int]:
        """Messages acknowledged but never answered (a process died): the re-scan processes them."""
        return self.inbox.unprocessed(self.clock() - older_than, limit)

    async def _answer(self, row: InboxRow) -> bool:
        structlog.contextvars.bind_contextvars(channel=self.inbox.channel, session=row.ref, msisdn=mask(row.msisdn))
        word = compliance.classify(row.text)
        also = self._choice(row, word)
        try:
            if word:  # compliance words are always honoured, however fast they come
                reply = await asyncio.to_thread(self._compliance, row, word)
            elif (place := await self.rate.place(row.msisdn, row.id, self.clock())) > self.max_per_minute:
                return await self._throttled(row, first=place == self.max_per_minute + 1)
            else:
                async with asyncio.timeout(self.turn_timeout):  # a slow partner: given up, tried again later
                    goto = await self._reminder(row)
                    reply = await self.turns.reply(self._continued(row, goto) if goto else await self._inbound(row))
                also = self.reminders.used(goto) if goto and self.reminders else None
        except Exception as exc:  # Redis, a lock held too long, the database: try again on the re-scan
            log.warning(f"{self.inbox.channel}_turn_failed", error=type(exc).__name__, exc_info=True)
            if self.clock() - row.received_at < GIVE_UP:
                return False
            reply = self.turns.apology(await asyncio.to_thread(self._lang, row.msisdn))
        kind = "confirmation" if word in ("stop", "start") else "reply"
        out = await self.inbox.settle(row, reply, kind, also)
        if word in ("stop", "start"):  # recorded with the settled message: counted once it is
            OPT_OUTS.labels(self.inbox.channel, "opted_out" if word == "stop" else "opted_in").inc()
        log.info(f"{self.inbox.channel}_answered", word=word, outbox=out)
        await self.inbox.hand_off([out] if out else [])
        return True

    async def _throttled(self, row: InboxRow, first: bool) -> bool:
        """Over the limit: one notice a minute, then silence; the flood never reaches a flow."""
        lang = await asyncio.to_thread(self._lang, row.msisdn)
        notice = Reply(self.speech.say(lang, THROTTLED), final=False, lang=lang) if first else None
        out = await self.inbox.settle(row, notice, "reply")
        await self.inbox.hand_off([out] if out else [])
        log.info(f"{self.inbox.channel}_throttled", notice=first)
        return True

    async def _reminder(self, row: InboxRow) -> "Goto | None":
        """The reminder this text continues; never for a command (/menu) or a press on a drawn menu."""
        if self.reminders is None or row.start or row.expect_hop is not None:
            return None
        goto = await self.reminders.find(row.msisdn, row.text, self.clock())
        if goto:
            log.info("reminder_reply", goto=goto.goto)
        return goto

    def _continued(self, row: InboxRow, goto: "Goto") -> Inbound:
        """Begin at the reminder's flow state with its values, like a keyword begins its flow."""
        channel = self.inbox.channel
        return Inbound(channel, row.msisdn, channel, None, row.id, start=goto.goto, values=goto.values)

    async def _inbound(self, row: InboxRow) -> Inbound:
        """A keyword begins its flow; other text continues a live session, or gets the main menu with help."""
        channel = self.inbox.channel  # one text conversation per subscriber and channel: the session window ends it
        goto = row.start or self.menus.keyword(row.text)
        if goto:
            return Inbound(channel, row.msisdn, channel, None, row.id, start=goto)
        golfer = _golfer(await asyncio.to_thread(self.speech.profile, row.msisdn))
        return Inbound(channel, row.msisdn, channel, row.text.strip(), row.id, start=self.menus.root,
                       notice=UNKNOWN if golfer else UNKNOWN_NO_GOLF, expect_hop=row.expect_hop)

    def _compliance(self, row: InboxRow, word: str) -> Reply:
        profile = self.speech.profile(row.msisdn)
        text = self.inbox.wording.get(word) or {"stop": STOPPED, "start": STARTED,
                                                "help": HELP if _golfer(profile) else HELP_NO_GOLF}[word]
        lang = self.speech.lang(profile)
        return Reply(self.speech.say(lang, T(text.msgid, short_code=self.short_code)), final=True, lang=lang)

    def _choice(self, row: InboxRow, word: str | None) -> Callable[[Connection], None] | None:
        """Record an opt-out or opt-in with the message that marks it processed."""
        if word not in ("stop", "start"):
            return None

        def record(conn: Connection) -> None:
            values = dict(opted_out=word == "stop", channel=self.inbox.channel, text=row.text[:160],
                          changed_at=self.clock())
            conn.execute(upsert(conn, OPT, ["msisdn"], dict(msisdn=row.msisdn, **values), values))
            log.info("opt_out_recorded" if word == "stop" else "opt_in_recorded")
        return record

    def _lang(self, msisdn: str) -> str:
        return self.speech.lang(self.speech.profile(msisdn))


def _golfer(profile: Profile | None) -> bool:
    return profile is not None and golf.eligible(profile.tier)
