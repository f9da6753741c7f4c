"""Service packages: the operator's yearly and monthly services, priced by tier, paid by bill or points.

Prices a year: golf service ¥200 (silver and above); health standard ¥80 (¥60 silver and above), full ¥200
silver, ¥160 gold and above; car-owner standard ¥80 (¥60 silver and above), full ¥280 (¥250 silver, ¥200
gold and above); health or car-owner tips alone ¥5 a month. Points pay at 50 points = 1 yuan.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.engine.flow import Act, Call, Choice, Flow, Menu, Outcome, Route, Show, View
from bot.engine.text import Day, Money, T
from flows.common import Payment, cancel_or_keep, paid, pay_choices, refused, yes_no

EVERY_TIER = ("regular", "silver", "gold", "diamond")


@dataclass(frozen=True)
class Package:
    key: str
    name: T
    prices: dict[str, int]  # fen by tier; a tier that is missing cannot subscribe
    monthly: bool = False

    def price(self, tier: str) -> int | None:
        return self.prices.get(tier)

    def until(self, today: date) -> date:
        return today + timedelta(days=30 if self.monthly else 365)


def _tiers(regular: int | None, silver: int, gold: int) -> dict[str, int]:
    prices = {"silver": silver, "gold": gold, "diamond": gold}
    return {"regular": regular, **prices} if regular is not None else prices


PACKAGES = {p.key: p for p in (
    Package("golf", T("Golf service"), _tiers(None, 20_000, 20_000)),
    Package("health", T("Health standard"), _tiers(8_000, 6_000, 6_000)),
    Package("health_full", T("Health full"), _tiers(None, 20_000, 16_000)),
    Package("car", T("Car-owner standard"), _tiers(8_000, 6_000, 6_000)),
    Package("car_full", T("Car-owner full"), _tiers(28_000, 25_000, 20_000)),
    Package("health_tips", T("Health tips"), {t: 500 for t in EVERY_TIER}, monthly=True),
    Package("car_tips", T("Car-owner tips"), {t: 500 for t in EVERY_TIER}, monthly=True),
)}


def _package(view: View) -> Package:
    return PACKAGES[str(view.values["package"])]


def _price(view: View) -> int:
    return _package(view).price(view.profile.tier) or 0


def priced(package: Package, fen: int) -> T:
    per = T("{amount}/month") if package.monthly else T("{amount}/year")
    return T(per.msgid, amount=Money.from_fen(fen))


def _offers(view: View) -> list[Choice]:
    tier = view.profile.tier
    return [Choice(T("{name} {price}", name=p.name, price=priced(p, p.price(tier))), "package",
                   values=(("package", p.key),)) for p in PACKAGES.values() if p.price(tier) is not None]


def _pay_choices(view: View) -> list[Choice]:
    return pay_choices(view, _price(view), "confirm")


def _confirm(view: View) -> T:
    """The price's period is part of the price: ¥5.00 a month is not ¥5.00."""
    monthly = T("Subscribe to {name} for one month: {paid}?")
    yearly = T("Subscribe to {name} for one year: {paid}?")
    return T((monthly if _package(view).monthly else yearly).msgid, name=_package(view).name,
             paid=paid(int(view.values["price"]), view))


def _subscribed(view: View) -> T:
    return T("Subscribed to {name} until {day}.", name=_package(view).name,
             day=Day(_package(view).until(view.now.date())))


def _mine(view: View) -> list[Choice]:
    return [Choice(T("{name} until {day}", name=PACKAGES[s.package].name, day=Day(s.until)), "cancel_confirm",
                   values=(("package", s.package),))
            for s in view.services.boss.subscriptions(view.profile.msisdn) if s.package in PACKAGES]


def _subscribe_call(view: View) -> Call:
    return Call("packages.subscribe", view.op_key("package"), (
        ("msisdn", view.profile.msisdn), ("package", view.values["package"]), ("price_fen", int(view.values["price"])),
        ("pay", view.values["pay"]), ("until", _package(view).until(view.now.date()).isoformat())))


def _unsubscribe_call(view: View) -> Call:
    return Call("packages.unsubscribe", view.op_key("unsubscribe"),
                (("msisdn", view.profile.msisdn), ("package", view.values["package"])))


# -- renewal (a package-expiring reminder's "1") -------------------------------------------------
def _held(view: View):
    """The subscription being renewed, as the BOSS has it now (read once per screen)."""
    mine = view.once("subscriptions", lambda: view.services.boss.subscriptions(view.profile.msisdn))
    return next((s for s in mine if s.package == view.values.get("package")), None)


def _renew(view: View) -> str:
    """Enter a renewal only for a package still held and still sold at the subscriber's tier now; one that
    lapsed is subscribed anew, one no longer sold leads to the offers (the reminder's values are not trusted)."""
    package = PACKAGES.get(str(view.values.get("package")))
    if package is None or package.price(view.profile.tier) is None:
        return "offers"
    return "renewal" if _held(view) else "package"


def _renewed_until(view: View) -> date:
    """One more period after the current end (not after today): renewing early loses nothing."""
    held = _held(view)
    return _package(view).until(held.until if held else view.now.date())


def _renewal_title(view: View) -> T:
    return T("Renew {name}. Pay by", name=_package(view).name)  # the new end is on the confirm: USSD pages are short


def _renew_confirm(view: View) -> T:
    return T("Renew {name} until {day}: {paid}?", name=_package(view).name, day=Day(_renewed_until(view)),
             paid=paid(int(view.values["price"]), view))


def _renewed(view: View) -> T:
    held = _held(view)
    return T("Renewed {name} until {day}.", name=_package(view).name, day=Day(held.until if held else view.now.date()))


def _renew_call(view: View) -> Call:
    return Call("packages.renew", view.op_key("renew"), (
        ("msisdn", view.profile.msisdn), ("package", view.values["package"]), ("price_fen", int(view.values["price"])),
        ("pay", view.values["pay"]), ("until", _renewed_until(view).isoformat())))


def subscribe(services, call: Call) -> Outcome:
    """The BOSS takes the payment and subscribes in one transaction, so there is nothing to pay back;
    a refusal routes like any product's (`refused`), a package already held as "already"."""
    a = call.kwargs
    payment = Payment.of(str(a["pay"]), int(a["price_fen"]))
    result = services.boss.subscribe(str(a["msisdn"]), str(a["package"]), int(a["price_fen"]), payment.points,
                                     date.fromisoformat(str(a["until"])), call.key)
    if result.ok or result.reason == "already":
        return Outcome("ok" if result.ok else "already")
    return refused(result)


def renew(services, call: Call) -> Outcome:
    """Like `subscribe`: the BOSS pays and moves the end in one transaction; "already" when another
    renewal got there first, "lapsed" when the package ended meanwhile."""
    a = call.kwargs
    payment = Payment.of(str(a["pay"]), int(a["price_fen"]))
    result = services.boss.renew(str(a["msisdn"]), str(a["package"]), int(a["price_fen"]), payment.points,
                                 date.fromisoformat(str(a["until"])), call.key)
    if result.ok or result.reason in ("already", "lapsed"):
        return Outcome("ok" if result.ok else result.reason)
    return refused(result)


def unsubscribe(services, call: Call) -> Outcome:
    a = call.kwargs
    services.boss.unsubscribe(str(a["msisdn"]), str(a["package"]))
    return Outcome("ok")


OPERATIONS = {"packages.subscribe": subscribe, "packages.renew": renew, "packages.unsubscribe": unsubscribe}
SAMPLES = tuple({"package": key, "pay": pay, "price": 28_000} for key in PACKAGES for pay in ("bill", "points"))

FLOW = Flow(name="packages", start="home", samples=SAMPLES, entries=("renew",), states={
    "home": Menu(lambda v: T("Service packages"), lambda v: [Choice(T("Subscribe"), "offers"),
                                                              Choice(T("My packages"), "mine")],
                 exits=("offers", "mine")),
    "offers": Menu(lambda v: T("Choose a package"), _offers, exits=("package",)),
    "package": Menu(lambda v: T("Pay by"), _pay_choices, exits=("confirm", "short")),
    "confirm": Menu(_confirm, yes_no("subscribe"), exits=("subscribe", "home")),
    "subscribe": Act(_subscribe_call, {"ok": "subscribed", "insufficient": "short", "declined": "declined",
                                       "already": "already"}),
    "subscribed": Show(_subscribed, confirms=True),
    "short": Show(lambda v: T("Not enough points. Nothing was charged.")),
    "declined": Show(lambda v: T("The charge to your phone bill was declined. Nothing was subscribed.")),
    "already": Show(lambda v: T("You already have {name}. Nothing was charged.", name=_package(v).name)),
    "renew": Route(_renew, exits=("renewal", "package", "offers")),  # a package-expiring reminder's "1"
    "renewal": Menu(_renewal_title, lambda v: pay_choices(v, _price(v), "renew_confirm"),
                    exits=("renew_confirm", "short")),
    "renew_confirm": Menu(_renew_confirm, yes_no("do_renew"), exits=("do_renew", "home")),
    "do_renew": Act(_renew_call, {"ok": "renewed", "insufficient": "short", "declined": "declined",
                                  "already": "already", "lapsed": "offers"}),
    "renewed": Show(_renewed, confirms=True),
    "mine": Route(lambda v: "list" if _mine(v) else "none", exits=("list", "none")),
    "none": Show(lambda v: T("You have no service packages.")),
    "list": Menu(lambda v: T("My packages"), _mine, exits=("cancel_confirm",)),
    "cancel_confirm": Menu(lambda v: T("Cancel {name}? The time left is not refunded.", name=_package(v).name),
                           cancel_or_keep("unsubscribe", "list"), exits=("unsubscribe", "list")),
    "unsubscribe": Act(_unsubscribe_call, {"ok": "unsubscribed"}),
    "unsubscribed": Show(lambda v: T("{name} cancelled.", name=_package(v).name)),
})
