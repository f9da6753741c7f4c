"""Retention offers: a campaign's "reply 1" takes its offer, bonus points at once or a package at the offer
price, credited once per campaign and subscriber whatever is replied, repeated or raced.

The values come only from the campaign's goto (`jobs/campaign*.py`): `campaign`, and `points`, or `package`
and `price_fen`. They are checked, never trusted: an offer that no longer makes sense is refused politely.
"""
from __future__ import annotations

from bot.engine.flow import Act, Call, Choice, Flow, Menu, Outcome, Route, Show, View
from bot.engine.text import Number, T
from flows.packages import PACKAGES, Package, priced

MAX_POINTS = 100_000  # a bigger "gift" is a broken campaign, not an offer
GONE = T("This offer is no longer available. Nothing was charged.")


# -- rules --------------------------------------------------------------------------------------
def offer_key(campaign: int, msisdn: str) -> str:
    """The BOSS key of one subscriber's offer in one campaign: the same for every reply, so it pays once."""
    return f"cmp:{campaign}:{msisdn}"


def _number(view: View, name: str) -> int | None:
    """A positive whole number from the goto, or None (`True` is an int to Python, not to us)."""
    value = view.values.get(name)
    return value if type(value) is int and value > 0 else None


def _key(view: View) -> str:
    return offer_key(int(view.values["campaign"]), view.profile.msisdn)


def _package(view: View) -> Package:
    return PACKAGES[str(view.values["package"])]


def _claim(view: View) -> str:
    """Points are credited at once; a package is confirmed first, if it is still sold at the subscriber's
    tier above the offer price and not held already."""
    if _number(view, "campaign") is None:
        return "gone"
    points = _number(view, "points")
    if points is not None:
        return "award" if points <= MAX_POINTS else "gone"
    package, offer = PACKAGES.get(str(view.values.get("package"))), _number(view, "price_fen")
    normal = package.price(view.profile.tier) if package else None
    if package is None or offer is None or normal is None or offer > normal:
        return "gone"
    held = view.services.boss.subscriptions(view.profile.msisdn)
    return "packages.already" if any(s.package == package.key for s in held) else "confirm"


# -- screens ------------------------------------------------------------------------------------
def _received(view: View) -> T:
    return T("You received {points} points; balance {left}.", points=Number(int(view.values["points"])),
             left=Number(int(view.values["left"])))


def _already(view: View) -> T:
    return T("You already received this offer; balance {left}.", left=Number(int(view.values["left"])))


def _confirm(view: View) -> T:
    package = _package(view)
    return T("{name} at {offer} instead of {price}. Subscribe?", name=package.name,
             offer=priced(package, int(view.values["price_fen"])),
             price=priced(package, package.price(view.profile.tier) or 0))


def _answers(view: View) -> list[Choice]:
    return [Choice(T("Yes"), "subscribe"), Choice(T("No"), "declined")]


# -- calls --------------------------------------------------------------------------------------
def _award_call(view: View) -> Call:
    return Call("offers.award", _key(view), (("msisdn", view.profile.msisdn), ("points", int(view.values["points"])),
                                             ("campaign", int(view.values["campaign"]))))


def _subscribe_call(view: View) -> Call:
    """The packages' own subscription, at the offer price on the bill, under the offer's key."""
    until = _package(view).until(view.now.date())
    return Call("packages.subscribe", _key(view), (
        ("msisdn", view.profile.msisdn), ("package", view.values["package"]),
        ("price_fen", int(view.values["price_fen"])), ("pay", "bill"), ("until", until.isoformat())))


def award(services, call: Call) -> Outcome:
    """Credit once per key: the first answer "ok", any repeat "already" with the balance."""
    a = call.kwargs
    result = services.boss.award_points(str(a["msisdn"]), int(a["points"]), call.key, f"cmp:{a['campaign']}")
    if not result.ok:
        return Outcome("gone")
    return Outcome(result.reason or "ok", (("left", result.points_left),))


OPERATIONS = {"offers.award": award}

SAMPLES = tuple({"campaign": 7, "points": MAX_POINTS, "left": 9_999_999, "package": key, "price_fen": 99_999}
                for key in PACKAGES)  # every state is drawn with every sample: each holds every value

FLOW = Flow(name="offers", start="claim", samples=SAMPLES, entries=("claim",), states={
    "claim": Route(_claim, exits=("award", "confirm", "gone", "packages.already")),  # a campaign's "1"
    "award": Act(_award_call, {"ok": "received", "already": "already", "gone": "gone"}),
    "received": Show(_received, confirms=True),
    "already": Show(_already),
    "confirm": Menu(_confirm, _answers, exits=("subscribe", "declined")),
    "subscribe": Act(_subscribe_call, {"ok": "packages.subscribed", "declined": "packages.declined",
                                       "already": "packages.already"}),  # on the bill: never short of points
    "declined": Show(lambda v: T("No problem: nothing was charged.")),
    "gone": Show(lambda v: GONE),
})
