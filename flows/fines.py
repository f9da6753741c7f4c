"""Traffic fines: bind a plate (with the last 6 of the VIN as proof), see the inspection due date and
unpaid violations, pay one or all by phone bill or points (50 points = 1 yuan); each fine is paid once."""
from __future__ import annotations

from bot.engine.flow import Act, Ask, Call, Choice, Flow, Invalid, Menu, Outcome, Route, Show, View
from bot.engine.text import Day, Localized, Money, Number, T, Verbatim
from flows.common import FAILED, Payment, charge, paid, pay_choices, refund, refused, yes_no
from integrations.police import Violation, normalise_plate


def _plate(text: str, view: View):
    return normalise_plate(text) or Invalid(T("Not a plate number, e.g. 粤B12345."))


def _vin(text: str, view: View):
    vin = text.strip().upper()
    return vin if len(vin) == 6 and vin.isascii() and vin.isalnum() else Invalid(T("Enter the last 6 characters."))


def _vehicles(view: View) -> list[Choice]:
    return [Choice(T("{plate}", plate=Verbatim(v.plate)), "vehicle", values=(("plate", v.plate),))
            for v in view.services.police.vehicles(view.profile.msisdn)]


def _vehicle_title(view: View) -> T:
    plate = str(view.values["plate"])
    due = next((v.inspection_due for v in view.services.police.vehicles(view.profile.msisdn) if v.plate == plate),
               None)
    if due is None:
        return T("That vehicle is no longer bound to your number.", plate=Verbatim(plate))
    return T("Annual inspection due {day}", plate=Verbatim(plate), day=Day(due))


def _unpaid(view: View) -> list[Violation]:
    return view.services.police.violations(view.profile.msisdn, str(view.values["plate"]))


def _violations(view: View) -> list[Choice]:
    found = _unpaid(view)
    each = [Choice(T("{day} {offence} {fine}, {demerit} pts", day=Day(v.day, "MMMd"),
                     offence=Localized(v.offence_en, v.offence_zh), fine=Money.from_fen(v.fine_fen),
                     demerit=Number(v.demerit)), "pay", values=(("vids", f"{v.id}:{v.fine_fen}"), ("amount", v.fine_fen)))
            for v in found]
    total = sum(v.fine_fen for v in found)
    every = Choice(T("Pay all {amount}", amount=Money.from_fen(total)), "pay",
                   values=(("vids", ",".join(f"{v.id}:{v.fine_fen}" for v in found)), ("amount", total)))
    return each + [every] if len(found) > 1 else each


def _confirm(view: View) -> T:
    count = len(fines_of(str(view.values["vids"])))
    return T("Pay {count} fine(s) with {paid}?", count=Number(count),
             plate=Verbatim(str(view.values["plate"])), paid=paid(int(view.values["amount"]), view))


def _bind_call(view: View) -> Call:
    return Call("fines.bind", view.op_key("bind"), (("msisdn", view.profile.msisdn), ("plate", view.values["new"]),
                                                     ("vin", view.values["vin"])))


def _pay_call(view: View) -> Call:
    return Call("fines.pay", view.op_key("fines"), (
        ("msisdn", view.profile.msisdn), ("vids", view.values["vids"]), ("amount", int(view.values["amount"])),
        ("pay", view.values["pay"])))


def bind(services, call: Call) -> Outcome:
    a = call.kwargs
    return Outcome(services.police.bind(str(a["msisdn"]), str(a["plate"]), str(a["vin"])))


def pay(services, call: Call) -> Outcome:
    """Charge the total, then mark each fine paid; a fine someone else paid meanwhile is paid back."""
    a = call.kwargs
    msisdn, method = str(a["msisdn"]), str(a["pay"])
    taken = charge(services, msisdn, Payment.of(method, int(a["amount"])), call.key + ":pay", "fines")
    if not taken.ok:
        return refused(taken)
    lost = 0
    for vid, fen in fines_of(str(a["vids"])):
        if not services.police.pay(msisdn, vid, f"{call.key}:{vid}").ok:
            lost += 1
            if not refund(services, msisdn, Payment.of(method, fen), f"{call.key}:refund:{vid}", "fines").ok:
                return FAILED  # a retry under the same key pays nothing twice and refunds what is still owed
    return Outcome("ok" if not lost else "partly")


def fines_of(encoded: str) -> list[tuple[int, int]]:
    """"1:20000,2:15000" -> [(violation id, fine in fen), ...], as kept in the session."""
    return [(int(vid), int(fen)) for vid, fen in (pair.split(":") for pair in encoded.split(","))]


OPERATIONS = {"fines.bind": bind, "fines.pay": pay}
SAMPLES = ({"plate": "粤BD12345", "new": "粤BD12345", "vin": "777888", "vids": "1:20000,2:20000,4:9959900", "amount": 9_999_900,
            "pay": "points"},
           {"plate": "粤BD12345", "new": "粤BD12345", "vin": "777888", "vids": "1:9999900", "amount": 9_999_900, "pay": "bill"})

FLOW = Flow(name="fines", start="home", samples=SAMPLES, states={
    "home": Menu(lambda v: T("Traffic fines"), lambda v: [Choice(T("My vehicles"), "vehicles"),
                                                          Choice(T("Bind a plate"), "new")],
                 exits=("vehicles", "new")),
    "new": Ask(lambda v: T("Plate number? (e.g. 粤B12345)"), _plate, key="new", goto="vin"),
    "vin": Ask(lambda v: T("Last 6 characters of the VIN?"), _vin, key="vin", goto="bind"),
    "bind": Act(_bind_call, {"ok": "bound", "no_vehicle": "no_vehicle", "wrong_vin": "wrong_vin"}),
    "bound": Show(lambda v: T("{plate} is now bound to your number.", plate=Verbatim(str(v.values["new"])))),
    "no_vehicle": Show(lambda v: T("No vehicle with that plate.")),
    "wrong_vin": Show(lambda v: T("The VIN does not match that plate.")),
    "vehicles": Route(lambda v: "list" if _vehicles(v) else "none", exits=("list", "none")),
    "none": Show(lambda v: T("No vehicle is bound to your number.")),
    "list": Menu(lambda v: T("My vehicles"), _vehicles, exits=("vehicle",)),
    "vehicle": Menu(_vehicle_title, lambda v: [Choice(T("Unpaid fines"), "unpaid")], exits=("unpaid",)),
    "unpaid": Route(lambda v: "violations" if _unpaid(v) else "clean", exits=("violations", "clean")),
    "clean": Show(lambda v: T("No unpaid fines for {plate}.", plate=Verbatim(str(v.values["plate"])))),
    "violations": Menu(lambda v: T("Unpaid fines"), _violations, exits=("pay",)),
    "pay": Menu(lambda v: T("Pay by"), lambda v: pay_choices(v, int(v.values["amount"]), "confirm"),
                exits=("confirm", "short")),
    "confirm": Menu(_confirm, yes_no("do_pay", "home"), exits=("do_pay", "home")),
    "do_pay": Act(_pay_call, {"ok": "paid", "partly": "partly", "insufficient": "short", "declined": "declined"}),
    "paid": Show(lambda v: T("Paid. The fine(s) are cleared."), confirms=True),
    "partly": Show(lambda v: T("Some fines were already paid; that part was refunded."), confirms=True),
    "short": Show(lambda v: T("Not enough points. Nothing was charged.")),
    "declined": Show(lambda v: T("The charge to your phone bill was declined. No fine was paid.")),
})
