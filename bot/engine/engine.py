"""The dialogue engine: `step(session, text, now)` returns the next session, screen and events.

Pure by design (no I/O): the dispatcher loads the session and the subscriber's profile, calls the
engine, then persists what it returns. Navigation is the same on every screen: 0 back, 00 main menu,
98 next page, 99 previous page.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from bot.engine import events as ev
from bot.engine.flow import (Act, Ask, Call, Choice, End, Flow, Invalid, Menu, Outcome, Profile, Route, Screen, Show,
                      State, View, target)
from bot.engine.render import Renderer
from bot.engine.session import Session, Value
from bot.engine.text import T

MENU_FLOW = "menu"
SEQ = "_n"  # operations completed in this conversation
BACK, HOME, NEXT, PREV = "0", "00", "98", "99"

WRONG_CHOICE = T("Invalid choice, try again.")
TOO_MANY = T("Too many wrong entries. Please dial again when you are ready.")
TIMED_OUT = T("Your session timed out. Please dial again.")
ENDED = T("This session has ended. Please dial again.")
RESUME = T("Welcome back. Continue where you left off?")
UNAVAILABLE = T("No answer yet. Try again: nothing is done twice.")
CONTINUE, RESTART = T("Continue"), T("Start over")


@dataclass(frozen=True)
class Turn:
    """The engine's answer: the new session, the screen to show (None while `call` waits for its
    outcome) and what happened."""

    session: Session
    screen: Screen | None
    events: tuple[ev.Event, ...] = ()
    call: Call | None = None


@dataclass(frozen=True)
class Context:
    """What a turn may read besides the session: the subscriber and the channel's renderer."""

    profile: Profile
    renderer: Renderer
    services: Any = None  # read-only partner queries, handed to every View


@dataclass(frozen=True)
class Policy:
    idle_timeout: float = 120
    resume_window: float = 600
    max_wrong_inputs: int = 3
    default_timezone: str = "Asia/Shanghai"  # [service] timezone: not stored in a session, most have it


class Engine:
    """Runs flows. Holds only immutable definitions, so one instance serves every request."""

    def __init__(self, flows: Mapping[str, Flow], root: str, policy: Policy = Policy()) -> None:
        self.flows = dict(flows)
        self.root = (MENU_FLOW, root)
        self.policy = policy
        self._errors = {(f, name): self._may_show(f, state) for f, flow in self.flows.items()
                        for name, state in flow.states.items()}

    # -- entry points -------------------------------------------------------------------------
    def begin(self, previous: Session | None, msisdn: str, ref: str, now: datetime, ctx: Context,
              service_code: str = "", start: str = "", notice: T | None = None,
              values: Mapping[str, Value] | None = None) -> Turn:
        """A new dial: offer to resume a recent unfinished session, else start at the main menu.

        `start` (an SMS keyword's goto) begins there instead, never offering a resume; `notice` is a
        line shown on top of the main menu (the SMS help for a text that is no keyword); `values` are the
        new session's first values (a reminder's, for the state its reply continues)."""
        ts = now.timestamp()
        if previous and not start and self._resumable(previous, ts):
            session = previous.evolve(ref=ref, hops=0, resume=True, page=0, error=None, errors=0, updated=ts)
            return self._turn(session, now, ctx)
        session = Session(msisdn=msisdn, ref=ref, flow=self.root[0], state=self.root[1],
                          lang=ctx.profile.lang, updated=ts, started=ts, tier=ctx.profile.tier,
                          tz=ctx.profile.timezone if ctx.profile.timezone != self.policy.default_timezone else "",
                          version=previous.version if previous else 0, values=dict(values or {}))
        events = (ev.SessionStarted(service_code),)
        to = target(start, MENU_FLOW) if start else self.root
        if to != self.root:
            return self._go(session, to, now, ctx, events)
        return self._turn(session.evolve(error=notice.msgid if notice else None), now, ctx, events)

    def live(self, session: Session, now: datetime) -> bool:
        """Whether the next input continues this session (SMS: within the session window)."""
        return (not session.ended and not session.resume
                and now.timestamp() - session.updated <= self.policy.idle_timeout)

    def step(self, session: Session, text: str, now: datetime, ctx: Context) -> Turn:
        """Apply one input to a session."""
        ts = now.timestamp()
        if session.ended:
            return Turn(session, Screen("end", ENDED, back=False))
        if ts - session.updated > self.policy.idle_timeout:
            ended = session.evolve(ended=True, updated=ts, error=TIMED_OUT.msgid, hops=session.hops + 1)
            return Turn(ended, Screen("end", TIMED_OUT, back=False), (ev.SessionEnded("timed_out"),))
        session = session.evolve(hops=session.hops + 1, updated=ts)
        text = text.strip()
        if session.resume:
            return self._answer_resume(session, text, now, ctx)
        if text == HOME:
            return self._go(session.evolve(stack=()), self.root, now, ctx, push=False)
        if text == BACK:
            return self._back(session, now, ctx)
        if text in (NEXT, PREV):
            screen = replace(self.screen(session, now, ctx), error=None)  # paging clears the error line
            pages = ctx.renderer.page_count(screen, session.lang)
            if pages > 1:
                return self._turn_page(session, screen, pages, text, now, ctx)
        return self._answer(session, text, now, ctx)

    def resume(self, session: Session, outcome: Outcome, now: datetime, ctx: Context) -> Turn:
        """Route a call's outcome; an unrouted one goes back a screen with a one-line apology."""
        state = self.state(session.flow, session.state)
        assert isinstance(state, Act), f"resume at {session.location}, not an Act state"
        events = (ev.CallCompleted(state_name(session), outcome.name),)
        goto = state.outcomes.get(outcome.name)
        if goto is None:  # the Act state is never on the stack, so back is the screen that led here
            *rest, last = session.stack or (self.root,)
            back = session.evolve(flow=last[0], state=last[1], stack=tuple(rest), page=0, error=UNAVAILABLE.msgid)
            return self._turn(back, now, ctx, events)
        # a routed outcome closes the operation: the next one, even with the same answers, gets a new key
        values = {**session.values, **dict(outcome.values), SEQ: int(session.values.get(SEQ, 0) or 0) + 1}
        done = session.evolve(values=values, stack=session.stack[:-1])  # back from a result skips the confirm
        return self._go(done, target(goto, session.flow), now, ctx, events, push=False)

    def screen(self, session: Session, now: datetime, ctx: Context) -> Screen:
        """The screen a session is showing (used to repeat it on a replayed hop)."""
        error = T(session.error) if session.error else None
        if session.resume and not session.ended:  # ended on the resume question: its END, not the question
            return Screen("menu", RESUME, (CONTINUE, RESTART), error, back=False, reserve=(WRONG_CHOICE,))
        state = self.state(session.flow, session.state)
        if session.ended and not isinstance(state, End):  # ended by the engine: timeout, errors
            return Screen("end", T(session.error or ENDED.msgid), back=False)
        view = self._view(session, now, ctx)
        at_root = (session.flow, session.state) == self.root
        reserve = self.errors(session.flow, session.state)
        if isinstance(state, Menu):
            labels = tuple(c.label for c in state.choices(view))
            return Screen("menu", state.title(view), labels, error, back=not at_root, reserve=reserve)
        if isinstance(state, Ask):
            return Screen("input", state.prompt(view), (), error, reserve=reserve)
        if isinstance(state, Show):
            items = tuple(state.items(view)) if state.items else ()
            return Screen("info", state.text(view), items, error, numbered=False, reserve=reserve)
        if isinstance(state, (Act, Route)):  # only seen if a process died between a call and its outcome
            return Screen("info", UNAVAILABLE, ())
        return Screen("end", state.text(view), back=False)

    def state(self, flow: str, name: str) -> State:
        return self.flows[flow].states[name]

    def errors(self, flow: str, name: str) -> tuple[T, ...]:
        """The error lines the engine may put on top of this state's screen; its pages leave room for them."""
        return self._errors[flow, name]

    def _may_show(self, flow: str, state: State) -> tuple[T, ...]:
        """A wrong entry anywhere but an end; the apology for a failed call where a call may start."""
        if isinstance(state, End):
            return ()
        return (WRONG_CHOICE, UNAVAILABLE) if self._starts_call(flow, state, set()) else (WRONG_CHOICE,)

    def _starts_call(self, flow: str, state: State, seen: set) -> bool:
        """Whether an exit is an Act, directly or through Routes (a failed call comes back here)."""
        for goto in state.exits:
            f, name = target(goto, flow)
            name = name or self.flows[f].start
            nxt = self.flows[f].states[name]
            if isinstance(nxt, Act) or (isinstance(nxt, Route) and (f, name) not in seen
                                        and self._starts_call(f, nxt, seen | {(f, name)})):
                return True
        return False

    # -- steps --------------------------------------------------------------------------------
    def _answer(self, session: Session, text: str, now: datetime, ctx: Context) -> Turn:
        state = self.state(session.flow, session.state)
        view = self._view(session, now, ctx)
        if isinstance(state, Menu):
            choice = _pick(state.choices(view), text)
            if choice is None:
                return self._reject(session, WRONG_CHOICE, now, ctx)
            values = {**session.values, **dict(choice.values)}
            return self._go(session.evolve(values=values), target(choice.goto, session.flow), now, ctx,
                            choice.events)
        if isinstance(state, Ask):
            parsed = state.parse(text, view)
            if isinstance(parsed, Invalid):
                return self._reject(session, parsed.reason, now, ctx)
            values = {**session.values, state.key: parsed}
            return self._go(session.evolve(values=values), target(state.goto, session.flow), now, ctx)
        return self._reject(session, WRONG_CHOICE, now, ctx)

    def _answer_resume(self, session: Session, text: str, now: datetime, ctx: Context) -> Turn:
        if text == "1":
            resumed = session.evolve(resume=False, error=None, errors=0)
            return self._turn(resumed, now, ctx, (ev.SessionResumed(session.flow, session.state),))
        if text == "2":
            kept = {SEQ: session.values[SEQ]} if SEQ in session.values else {}  # keys stay unique
            fresh = session.evolve(resume=False, stack=(), values=kept)
            return self._go(fresh, self.root, now, ctx, push=False)
        return self._reject(session, WRONG_CHOICE, now, ctx)

    def _go(self, session: Session, to: tuple[str, str], now: datetime, ctx: Context,
            events: tuple[ev.Event, ...] = (), push: bool = True) -> Turn:
        flow, state = to
        state = state or self.flows[flow].start
        stack = session.stack + ((session.flow, session.state),) if push else session.stack
        lang = next((e.lang for e in events if isinstance(e, ev.LanguageChanged)), session.lang)
        moved = session.evolve(flow=flow, state=state, stack=stack, page=0, errors=0, error=None, lang=lang)
        definition = self.state(flow, state)
        if isinstance(definition, Route):
            goto = definition.decide(self._view(moved, now, ctx))
            assert goto in definition.exits, f"{flow}.{state} routed to undeclared '{goto}'"
            return self._go(moved.evolve(flow=session.flow, state=session.state, stack=session.stack),
                            target(goto, flow), now, ctx, events, push)
        if isinstance(definition, Act):
            return Turn(moved, None, events, definition.call(self._view(moved, now, ctx)))
        if isinstance(definition, End):
            moved = moved.evolve(ended=True)
            events = events + (ev.SessionEnded("completed"),)
        turn = self._turn(moved, now, ctx, events)
        if getattr(definition, "confirms", False) and turn.screen is not None:
            return replace(turn, events=turn.events + (ev.ConfirmationShown(turn.screen.title),))
        return turn

    def _back(self, session: Session, now: datetime, ctx: Context) -> Turn:
        if not session.stack:
            return self._go(session, self.root, now, ctx, push=False)
        *rest, last = session.stack
        return self._go(session.evolve(stack=tuple(rest)), last, now, ctx, push=False)

    def _reject(self, session: Session, reason: T, now: datetime, ctx: Context) -> Turn:
        wrong = session.errors + 1
        rejected = (ev.InputRejected(session.state, wrong),)
        if wrong >= self.policy.max_wrong_inputs:
            ended = session.evolve(errors=wrong, ended=True, error=TOO_MANY.msgid)
            return Turn(ended, Screen("end", TOO_MANY, back=False),
                        rejected + (ev.SessionEnded("too_many_errors"),))
        return self._turn(session.evolve(errors=wrong, error=reason.msgid), now, ctx, rejected)

    def _turn_page(self, session: Session, screen: Screen, pages: int, key: str, now: datetime,
                   ctx: Context) -> Turn:
        """Another page of the screen already computed: no second round of partner reads."""
        page = session.page + (1 if key == NEXT else -1)
        if not 0 <= page < pages:
            return self._reject(session, WRONG_CHOICE, now, ctx)
        return Turn(session.evolve(page=page, error=None), screen)

    def _turn(self, session: Session, now: datetime, ctx: Context, events: tuple[ev.Event, ...] = ()) -> Turn:
        return Turn(session, self.screen(session, now, ctx), events)

    def _resumable(self, previous: Session, ts: float) -> bool:
        return (not previous.ended and ts - previous.updated <= self.policy.resume_window
                and (previous.flow, previous.state) != self.root)

    def _view(self, session: Session, now: datetime, ctx: Context) -> View:
        local = now.astimezone(ZoneInfo(ctx.profile.timezone))
        return View(ctx.profile, session.values, local, ctx.services, f"{session.started:.6f}")


def state_name(session: Session) -> str:
    return f"{session.flow}.{session.state}"


def _pick(choices, text: str) -> Choice | None:
    """The choice a number names, or None for anything else."""
    if not text.isascii() or not text.isdigit():
        return None
    index = int(text) - 1
    return choices[index] if 0 <= index < len(choices) else None
