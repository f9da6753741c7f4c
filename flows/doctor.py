"""Doctor registration: hospital, department, date, doctor and half-day with numbers left, patient
name and resident ID (checksum validated, never shown again in full), confirm, registration number.

Rules: the fee is set by the doctor's title and goes on the phone bill; a number is held for 5 minutes
while the subscriber confirms; cancelling before the appointment day refunds the fee.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.engine.flow import Act, Ask, Call, Choice, Flow, Invalid, Menu, Outcome, Route, Show, View
from bot.engine.text import Day, Localized, Money, Number, T, Verbatim
from flows.common import FAILED, Payment, cancel_or_keep, charge, refund, refused, yes_no
from integrations.hospital import DAYS_AHEAD, HALVES, Doctor

LOCAL = ZoneInfo("Asia/Shanghai")
HOLD_MINUTES = 5
TITLES = {"chief": T("chief physician"), "associate": T("associate chief"), "attending": T("attending")}
HALF = {"am": T("AM"), "pm": T("PM")}
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
GONE = T("This registration is no longer active.")


# -- rules --------------------------------------------------------------------------------------
def valid_resident_id(text: str) -> bool:
    """18 characters: 17 digits, a real birth date, and the ISO 7064 MOD 11-2 check character."""
    text = text.upper()
    if len(text) != 18 or not text[:17].isdigit() or text[17] not in CHECK:
        return False
    try:
        date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    return CHECK[sum(int(c) * w for c, w in zip(text[:17], WEIGHTS)) % 11] == text[17]


def refundable(day: date, now: datetime) -> bool:
    return now.astimezone(LOCAL).date() < day


# -- reading the view ---------------------------------------------------------------------------
def _name(place) -> Localized:
    return Localized(place.name_en, place.name_zh)


def _day(view: View) -> date:
    return date.fromisoformat(str(view.values["day"]))


def _who(doctor: Doctor) -> T:
    return T("{name} ({title})", name=_name(doctor), title=TITLES[doctor.title])


# -- screens ------------------------------------------------------------------------------------
def _hospitals(view: View) -> list[Choice]:
    return [Choice(T("{name}", name=_name(h)), "department", values=(("hospital", h.id),))
            for h in view.services.hospital.hospitals()]


def _departments(view: View) -> list[Choice]:
    return [Choice(T("{name}", name=_name(d)), "day", values=(("department", d.id),))
            for d in view.services.hospital.departments(int(view.values["hospital"]))]


def _days(view: View) -> list[Choice]:
    today = view.now.astimezone(LOCAL).date()
    return [Choice(T("{day}", day=Day(today + timedelta(days=n), "MMMEd")), "doctor",
                   values=(("day", (today + timedelta(days=n)).isoformat()),)) for n in range(1, DAYS_AHEAD + 1)]


def _sessions(view: View) -> list[Choice]:
    return view.once("sessions", lambda: _open_sessions(view))


def _open_sessions(view: View) -> list[Choice]:
    hospital, day = view.services.hospital, _day(view)
    choices = []
    for doctor in hospital.doctors(int(view.values["department"])):
        for half in HALVES:
            left = hospital.remaining(doctor.id, day, half)
            if left > 0:
                choices.append(Choice(T("{who} {half} {fee}, {left} left", who=_who(doctor), half=HALF[half],
                                        fee=Money.from_fen(doctor.fee_fen), left=Number(left)),
                                      "patient", values=(("doctor", doctor.id), ("half", half),
                                                         ("fee", doctor.fee_fen))))
    return choices


def _sessions_title(view: View) -> T:
    return T("Doctors {day}", day=Day(_day(view), "MMMd")) if _sessions(view) else T("No numbers left that day.")


def _patient(text: str, view: View):
    name = " ".join(text.split())
    if not 1 <= len(name) <= 20 or any(c.isdigit() for c in name):
        return Invalid(T("Enter the patient's name (up to 20 letters)."))
    return name


def _resident_id(text: str, view: View):
    text = text.strip().upper()
    return text if valid_resident_id(text) else Invalid(T("Not a valid 18-digit resident ID."))


def _confirm(view: View) -> T:
    return T("Patient ID ...{tail}: {day} {half}, No. {number}, fee {fee} on your bill?",
             tail=Verbatim(str(view.values["rid"])[-4:]), day=Day(_day(view), "MMMd"),
             half=HALF[str(view.values["half"])], number=Number(int(view.values["number"])),
             fee=Money.from_fen(int(view.values["fee"])))


def _where(view: View) -> dict:
    """Hospital, department and doctor of the collected answers: what a registration is for."""
    hospital = view.services.hospital
    hid, did = int(view.values["hospital"]), int(view.values["department"])
    doctor = hospital.doctor(int(view.values["doctor"]))
    return dict(hospital=_name(next(h for h in hospital.hospitals() if h.id == hid)),
                department=_name(next(d for d in hospital.departments(hid) if d.id == did)),
                doctor=_name(doctor) if doctor else Verbatim(""))


def _registered(view: View) -> T:
    return T("Registered: {hospital}, {department}, {doctor}, {day} {half}, No. {number}. Code {code}.",
             number=Number(int(view.values["number"])), day=Day(_day(view), "MMMd"),
             half=HALF[str(view.values["half"])], code=Verbatim(str(view.values["code"])), **_where(view))


def _mine(view: View) -> list[Choice]:
    found = view.services.hospital.appointments(view.profile.msisdn, view.now.astimezone(LOCAL).date())
    return [Choice(T("{day} {half} No. {number} {code}", day=Day(a.day, "MMMd"), half=HALF[a.half],
                     number=Number(a.number), code=Verbatim(a.code)), "cancel_confirm", values=(("code", a.code),))
            for a in found]


def _cancel_title(view: View) -> T:
    found = view.services.hospital.appointment(str(view.values["code"]), view.profile.msisdn)
    if found is None or found.status != "booked":
        return GONE
    if refundable(found.day, view.now):
        return T("Cancel {code}? The fee {fee} will be refunded.", code=Verbatim(found.code),
                 fee=Money.from_fen(found.fee_fen))
    return T("Cancel {code}? On the day itself: no refund.", code=Verbatim(found.code))


# -- calls --------------------------------------------------------------------------------------
def _hold_call(view: View) -> Call:
    until = view.now + timedelta(minutes=HOLD_MINUTES)
    return Call("doctor.hold", view.op_key("doctor"), (
        ("msisdn", view.profile.msisdn), ("doctor", view.values["doctor"]), ("day", view.values["day"]),
        ("half", view.values["half"]), ("until", until.isoformat())))


def _register_call(view: View) -> Call:
    return Call("doctor.register", str(view.values["hold"]), (
        ("msisdn", view.profile.msisdn), ("patient", view.values["patient"]), ("rid", view.values["rid"]),
        ("fee_fen", view.values["fee"])))


def _cancel_call(view: View) -> Call:
    return Call("doctor.cancel", view.op_key("doctor-cancel"), (
        ("msisdn", view.profile.msisdn), ("code", view.values["code"]), ("now", view.now.isoformat())))


def hold(services, call: Call) -> Outcome:
    a = call.kwargs
    result = services.hospital.hold(int(a["doctor"]), date.fromisoformat(str(a["day"])), str(a["half"]),
                                    str(a["msisdn"]), call.key, datetime.fromisoformat(str(a["until"])))
    return Outcome("ok", (("hold", call.key), ("number", result.number))) if result.ok else Outcome(result.reason)


def register(services, call: Call) -> Outcome:
    """Charge the fee, then register; a declined charge gives the number back at once and registers
    nobody; if the number was lost meanwhile, take the fee back."""
    a = call.kwargs
    msisdn, fee = str(a["msisdn"]), Payment("bill", int(a["fee_fen"]))
    taken = charge(services, msisdn, fee, call.key + ":pay", "registration")
    if not taken.ok:
        services.hospital.release(call.key)
        return refused(taken)
    found = services.hospital.confirm(call.key, str(a["patient"]), str(a["rid"]))
    if found is None:  # never registrable under this key again, then pay back (both idempotent)
        services.hospital.release(call.key, final=True)
        back = refund(services, msisdn, fee, call.key + ":refund", "registration")
        return Outcome("full") if back.ok else FAILED
    return Outcome("ok", (("code", found.code), ("number", found.number), ("rid", "")))


def cancel(services, call: Call) -> Outcome:
    """Refund first, then cancel: a failure in between leaves a registration that can be cancelled again,
    and the refund, keyed by the code, is never paid twice."""
    a = call.kwargs
    msisdn, code = str(a["msisdn"]), str(a["code"])
    found = services.hospital.appointment(code, msisdn)
    if found is None or found.status not in ("booked", "cancelled"):
        return FAILED
    if refundable(found.day, datetime.fromisoformat(str(a["now"]))):
        if not refund(services, msisdn, Payment("bill", found.fee_fen), f"refund:{code}", "registration").ok:
            return FAILED  # not given back: the registration stays, to be cancelled again
    return Outcome("ok") if services.hospital.cancel(code, msisdn) else FAILED


OPERATIONS = {"doctor.hold": hold, "doctor.register": register, "doctor.cancel": cancel}
SAMPLES = ({"hospital": 1, "department": 12, "day": "2026-12-31", "doctor": 120, "half": "pm", "number": 20, "fee": 1_500,
            "patient": "Alexandria Constantine", "rid": "11010519491231002X", "hold": "k", "code": "RABCDEF9"},
           {"hospital": 2, "department": 21, "day": "2026-12-31", "doctor": 211, "half": "am", "number": 8, "fee": 3_000,
            "patient": "欧阳娜娜", "rid": "11010519491231002X", "hold": "k", "code": "RABCDEF9"})

FLOW = Flow(name="doctor", start="home", samples=SAMPLES, states={
    "home": Menu(lambda v: T("Doctor registration"), lambda v: [Choice(T("Register"), "hospital"),
                                                                Choice(T("My registrations"), "mine")],
                 exits=("hospital", "mine")),
    "hospital": Menu(lambda v: T("Choose a hospital"), _hospitals, exits=("department",)),
    "department": Menu(lambda v: T("Choose a department"), _departments, exits=("day",)),
    "day": Menu(lambda v: T("Choose a date"), _days, exits=("doctor",)),
    "doctor": Menu(_sessions_title, _sessions, exits=("patient",)),
    "patient": Ask(lambda v: T("Patient's name?"), _patient, key="patient", goto="rid"),
    "rid": Ask(lambda v: T("Patient's 18-digit resident ID?"), _resident_id, key="rid", goto="hold"),
    "hold": Act(_hold_call, {"ok": "confirm", "full": "full"}),
    "confirm": Menu(_confirm, yes_no("register"), exits=("register", "home")),
    "register": Act(_register_call, {"ok": "registered", "full": "full", "declined": "declined"}),
    "registered": Show(_registered, confirms=True),
    "full": Show(lambda v: T("Sorry, no numbers left. Nothing was charged.")),
    "declined": Show(lambda v: T("The charge to your phone bill was declined. Nobody was registered.")),
    "mine": Route(lambda v: "list" if _mine(v) else "none", exits=("list", "none")),
    "none": Show(lambda v: T("You have no upcoming registrations.")),
    "list": Menu(lambda v: T("My registrations"), _mine, exits=("cancel_confirm",)),
    "cancel_confirm": Menu(_cancel_title, cancel_or_keep("cancel", "list"), exits=("cancel", "list")),
    "cancel": Act(_cancel_call, {"ok": "cancelled"}),
    "cancelled": Show(lambda v: T("Cancelled {code}.", code=Verbatim(str(v.values["code"]))), confirms=True),
})
