"""Golf tee-time booking: course, date, tee time, players, price by tier, pay by bill or points.

Rules: silver tier and above; gold pays 10 % less, diamond 20 %; 50 points = 1 yuan; a tee time is
held for 5 minutes while the subscriber confirms; cancelling more than 24 h ahead refunds in full.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.engine.flow import Act, Ask, Call, Choice, Flow, Invalid, Menu, Outcome, Route, Show, View
from bot.engine.text import Day, Localized, Money, Number, T, Verbatim
from flows.common import FAILED, Payment, cancel_or_keep, charge, paid, pay_choices, refund, refused, yes_no
from integrations.golf import DAYS_AHEAD, MAX_PLAYERS, Course, hhmm

COURSE_TZ = ZoneInfo("Asia/Shanghai")
DISCOUNT = {"silver": 0, "gold": 10, "diamond": 20}  # percent off the green fee
HOLD_MINUTES = 5
FREE_CANCEL = timedelta(hours=24)
GONE = T("This booking is no longer active.")


# -- rules --------------------------------------------------------------------------------------
def eligible(tier: str) -> bool:
    return tier in DISCOUNT


def price_fen(course: Course, day: date, players: int, tier: str) -> int:
    return course.fee_fen(day) * players * (100 - DISCOUNT.get(tier, 0)) // 100


def tee_time(day: date, slot: int) -> datetime:
    return datetime.combine(day, time(slot // 60, slot % 60), COURSE_TZ)


def refundable(day: date, slot: int, now: datetime) -> bool:
    return tee_time(day, slot) - now > FREE_CANCEL


# -- reading the view ---------------------------------------------------------------------------
def _course(view: View, course_id: int | None = None) -> Course:
    wanted = course_id if course_id is not None else int(view.values["course"])
    return next(c for c in view.once("courses", view.services.golf.courses) if c.id == wanted)


def _name(course: Course) -> Localized:
    return Localized(course.name_en, course.name_zh)


def _day(view: View) -> date:
    return date.fromisoformat(str(view.values["day"]))


def _price(view: View) -> int:
    return price_fen(_course(view), _day(view), int(view.values["players"]), view.profile.tier)


def _local_now(view: View) -> datetime:
    return view.now.astimezone(COURSE_TZ)


# -- screens ------------------------------------------------------------------------------------
def _courses(view: View) -> list[Choice]:
    return [Choice(T("{name}", name=_name(c)), "day", values=(("course", c.id),))
            for c in view.services.golf.courses()]


def _days(view: View) -> list[Choice]:
    today = _local_now(view).date()
    days = [today + timedelta(days=n) for n in range(DAYS_AHEAD)]
    return [Choice(T("{day}", day=Day(d, "MMMEd")), "slot", values=(("day", d.isoformat()),)) for d in days]


def _slots(view: View) -> tuple[Choice, ...]:
    """Read once per screen: the title and the options both need them (up to ~90 a day)."""
    return view.once("slots", lambda: _slot_choices(tuple(view.services.golf.free_slots(
        int(view.values["course"]), _day(view), _local_now(view)))))


@lru_cache(maxsize=1024)
def _slot_choices(free: tuple[int, ...]) -> tuple[Choice, ...]:
    """The same free tee times give the same choices: built once, and equal screens stay cheap to compare."""
    return tuple(Choice(T("{time}", time=Verbatim(hhmm(s))), "players", values=(("slot", s),)) for s in free)


def _slot_title(view: View) -> T:
    return T("Tee times {day}", day=Day(_day(view), "MMMd")) if _slots(view) else T("No tee times left that day.")


def _players(text: str, view: View):
    if text in {str(n) for n in range(1, MAX_PLAYERS + 1)}:
        return int(text)
    return Invalid(T("Enter 1 to 4 players."))


def _pay_choices(view: View) -> list[Choice]:
    return pay_choices(view, _price(view), "hold")


def _summary(view: View) -> dict:
    return dict(course=_name(_course(view)), day=Day(_day(view), "MMMd"),
                time=Verbatim(hhmm(int(view.values["slot"]))), players=Number(int(view.values["players"])))


def _confirm(view: View) -> T:
    return T("Book {course} {day} {time}, players: {players}, {paid}?", paid=paid(int(view.values["price"]), view),
             **_summary(view))


def _booked(view: View) -> T:
    return T("Booked {course} {day} {time}. Code {code}. Cancel over {hours} h ahead for a full refund.",
             code=Verbatim(str(view.values["code"])), hours=Number(FREE_CANCEL // timedelta(hours=1)),
             **{k: v for k, v in _summary(view).items() if k != "players"})


def _mine(view: View) -> list[Choice]:
    found = view.services.golf.bookings(view.profile.msisdn, _local_now(view).date())
    return [Choice(T("{day} {time} {code}", day=Day(b.day, "MMMd"), time=Verbatim(hhmm(b.slot)),
                     code=Verbatim(b.code)), "booking", values=(("code", b.code),)) for b in found]


def _has_bookings(view: View) -> str:
    return "mine" if _mine(view) else "none"


def _booking(view: View):
    return view.services.golf.booking(str(view.values["code"]), view.profile.msisdn)


def _booking_title(view: View) -> T:
    b = _booking(view)
    if b is None or b.status != "booked":
        return GONE
    return T("{code}: {course} {day} {time}, players: {players}", code=Verbatim(b.code),
             course=_name(_course(view, b.course_id)), day=Day(b.day, "MMMd"), time=Verbatim(hhmm(b.slot)),
             players=Number(b.players))


def _cancel_title(view: View) -> T:
    b = _booking(view)
    if b is None or b.status != "booked":
        return GONE
    if not refundable(b.day, b.slot, view.now):
        return T("Cancel {code}? Less than 24 h ahead: no refund.", code=Verbatim(b.code))
    refund = T("{points} points", points=Number(b.points)) if b.pay == "points" else Money.from_fen(b.amount_fen)
    return T("Cancel {code}? {refund} will be refunded.", code=Verbatim(b.code), refund=refund)


def _cancelled(view: View) -> T:
    return T("Cancelled {code}.", code=Verbatim(str(view.values["code"])))


# -- calls --------------------------------------------------------------------------------------
def _hold_call(view: View) -> Call:
    until = view.now + timedelta(minutes=HOLD_MINUTES)
    return Call("golf.hold", view.op_key("golf"), (
        ("msisdn", view.profile.msisdn), ("course", view.values["course"]), ("day", view.values["day"]),
        ("slot", view.values["slot"]), ("players", view.values["players"]), ("until", until.isoformat())))


def _book_call(view: View) -> Call:
    return Call("golf.book", str(view.values["hold"]), (
        ("msisdn", view.profile.msisdn), ("pay", view.values["pay"]), ("amount_fen", int(view.values["price"])),
        ("now", view.now.isoformat())))


def _cancel_call(view: View) -> Call:
    return Call("golf.cancel", view.op_key("golf-cancel"), (
        ("msisdn", view.profile.msisdn), ("code", view.values["code"]), ("now", view.now.isoformat())))


def hold(services, call: Call) -> Outcome:
    a = call.kwargs
    result = services.golf.hold(int(a["course"]), date.fromisoformat(str(a["day"])), int(a["slot"]),
                                str(a["msisdn"]), int(a["players"]), call.key, datetime.fromisoformat(str(a["until"])))
    return Outcome("ok", (("hold", call.key),)) if result.ok else Outcome(result.reason)


def book(services, call: Call) -> Outcome:
    """Pay, then turn the hold into a booking; if the tee time was lost meanwhile, pay back."""
    a = call.kwargs
    msisdn, fen = str(a["msisdn"]), int(a["amount_fen"])
    payment = Payment.of(str(a["pay"]), fen)
    taken = charge(services, msisdn, payment, call.key + ":pay", "golf")
    if not taken.ok:
        services.golf.release(call.key)
        return refused(taken)
    now = datetime.fromisoformat(str(a["now"]))
    booking = services.golf.confirm(call.key, fen, payment.points, payment.method, now)
    if booking is None:  # never bookable under this key again, then pay back (both steps idempotent)
        services.golf.release(call.key, final=True)
        back = refund(services, msisdn, payment, call.key + ":refund", "golf")
        return Outcome("taken") if back.ok else FAILED
    return Outcome("ok", (("code", booking.code),))


def cancel(services, call: Call) -> Outcome:
    """Refund first, then cancel: a failure in between leaves a booking the subscriber still sees and can
    cancel again, and the refund, keyed by the booking code, is never paid twice."""
    a = call.kwargs
    msisdn, code = str(a["msisdn"]), str(a["code"])
    booking = services.golf.booking(code, msisdn)
    if booking is None or booking.status not in ("booked", "cancelled"):
        return FAILED
    if refundable(booking.day, booking.slot, datetime.fromisoformat(str(a["now"]))):
        paid_back = Payment(booking.pay, booking.points if booking.pay == "points" else booking.amount_fen)
        if not refund(services, msisdn, paid_back, f"refund:{code}", "golf").ok:
            return FAILED  # not given back: the booking stays, to be cancelled again
    return Outcome("ok") if services.golf.cancel(code, msisdn) else FAILED


OPERATIONS = {"golf.hold": hold, "golf.book": book, "golf.cancel": cancel}

SAMPLES = ({"course": 3, "day": "2026-12-31", "slot": 958, "players": 4, "pay": "points", "hold": "k", "price": 633_600,
            "code": "GABCDEF9"},
           {"course": 3, "day": "2026-12-31", "slot": 958, "players": 4, "pay": "bill", "hold": "k", "price": 633_600,
            "code": "GABCDEF9"})

FLOW = Flow(name="golf", start="gate", samples=SAMPLES, states={
    "gate": Route(lambda v: "home" if eligible(v.profile.tier) else "ineligible", exits=("home", "ineligible")),
    "ineligible": Show(lambda v: T("Golf is for silver members and above. Call 10086 to learn how to qualify.")),
    "home": Menu(lambda v: T("Golf"), lambda v: [Choice(T("Book a tee time"), "course"),
                                                  Choice(T("My bookings"), "bookings")],
                 exits=("course", "bookings")),
    "course": Menu(lambda v: T("Choose a course"), _courses, exits=("day",)),
    "day": Menu(lambda v: T("Choose a date"), _days, exits=("slot",)),
    "slot": Menu(_slot_title, _slots, exits=("players",)),
    "players": Ask(lambda v: T("How many players? (1-4)"), _players, key="players", goto="pay"),
    "pay": Menu(lambda v: T("Pay by"), _pay_choices, exits=("hold", "short")),
    "hold": Act(_hold_call, {"ok": "confirm", "taken": "taken"}),
    "confirm": Menu(_confirm, yes_no("book"), exits=("book", "home")),
    "book": Act(_book_call, {"ok": "booked", "insufficient": "short", "declined": "declined", "taken": "taken"}),
    "booked": Show(_booked, confirms=True),
    "short": Show(lambda v: T("Not enough points. Nothing was charged.")),
    "declined": Show(lambda v: T("The charge to your phone bill was declined. Nothing was booked.")),
    "taken": Show(lambda v: T("Sorry, that tee time was just taken. Nothing was charged.")),
    "bookings": Route(_has_bookings, exits=("mine", "none")),
    "none": Show(lambda v: T("You have no upcoming bookings.")),
    "mine": Menu(lambda v: T("My bookings"), _mine, exits=("booking",)),
    "booking": Menu(_booking_title, lambda v: [Choice(T("Cancel this booking"), "cancel_confirm")],
                    exits=("cancel_confirm",)),
    "cancel_confirm": Menu(_cancel_title, cancel_or_keep("cancel", "mine"), exits=("cancel", "mine")),
    "cancel": Act(_cancel_call, {"ok": "cancelled"}),
    "cancelled": Show(_cancelled, confirms=True),
})
