"""Points: balance and value (50 points = 1 yuan), history, redemption, transfer, cycle expiry."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal

from bot.engine.flow import Act, Ask, Call, Choice, Flow, Invalid, Menu, Outcome, Route, Show, View
from bot.msisdn import BadNumber, mask, normalise
from bot.engine.text import Day, Money, Number, T, Verbatim
from flows.common import POINTS_PER_YUAN, held_points, yes_no

DAILY_TRANSFER_LIMIT = 10_000
COUNTRY = "+86"  # numbers at home are shown in their national form
HISTORY_LINES = 30


@dataclass(frozen=True)
class Reward:
    """Something points buy: a prepaid top-up today; service packages add themselves."""

    key: str
    label: T
    points: int
    topup_fen: int = 0


def _topup(yuan: int) -> Reward:
    label = T("{amount} top-up", amount=Money.from_fen(yuan * 100), yuan=Number(yuan))  # zh: "10元话费"
    return Reward(f"topup{yuan}", label, yuan * POINTS_PER_YUAN, yuan * 100)


REWARDS = {r.key: r for r in (_topup(10), _topup(30), _topup(50))}
KINDS = {"opening": T("Opening"), "redeem": T("Redeemed"), "payment": T("Paid"), "refund": T("Refund"),
         "transfer_out": T("Sent"), "transfer_in": T("Received"), "expiry": T("Expired"),
         "award": T("Bonus")}


def cycle_end(today: date) -> date:
    """The points cycle runs December to November: points expire on the 30th of November."""
    return date(today.year + 1 if today.month == 12 else today.year, 11, 30)


def value_of(points: int) -> Money:
    return Money(Decimal(points) / POINTS_PER_YUAN)


def balance(view: View) -> int:
    return held_points(view)


# -- screens ------------------------------------------------------------------------------------
def _home_title(view: View) -> T:
    points = balance(view)
    return T("Points: {points} (worth {value})", points=Number(points), value=value_of(points))


def _home(view: View) -> list[Choice]:
    return [Choice(T("Balance and expiry"), "balance"), Choice(T("History"), "history"),
            Choice(T("Redeem"), "redeem"), Choice(T("Transfer"), "recipient")]


def _balance(view: View) -> T:
    points = balance(view)
    return T("You have {points} points, worth {value}. They expire on {day}.",
             points=Number(points), value=value_of(points), day=Day(cycle_end(view.now.date())))


def _history(view: View) -> list[T]:
    entries, _ = view.services.boss.history(view.profile.msisdn, 0, HISTORY_LINES)
    local = view.now.tzinfo
    return [T("{day} {kind} {delta}", day=Verbatim(_aware(e.created_at).astimezone(local).strftime("%m-%d")),
              kind=KINDS.get(e.kind, T("Other")), delta=Verbatim(f"{e.delta:+,}")) for e in entries]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC times; PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _history_title(view: View) -> T:
    return T("Points history") if _history(view) else T("No points history yet.")


def _rewards(view: View) -> list[Choice]:
    return [Choice(T("{item}: {points} pts", item=r.label, points=Number(r.points)), "confirm_redeem",
                   values=(("reward", r.key),)) for r in REWARDS.values()] + [
            Choice(T("Service packages"), "packages.offers")]


def _confirm_redeem(view: View) -> T:
    reward = REWARDS[str(view.values["reward"])]
    return T("Redeem {points} points for {item}?", points=Number(reward.points), item=reward.label)


def _topup(view: View) -> str:
    """A reminder's reply enters here with the reward it offered: confirm it while it is still offered,
    else the list of rewards (a value from outside the flow is checked, never trusted)."""
    return "confirm_redeem" if str(view.values.get("reward")) in REWARDS else "redeem"


def _redeemed(view: View) -> T:
    reward = REWARDS[str(view.values["reward"])]
    return T("Done: {item}. Points left: {left}.", item=reward.label, left=Number(int(view.values["left"])))


def _short(view: View) -> T:
    return T("Not enough points: you have {left}.", left=Number(int(view.values.get("left", 0))))


def _recipient(text: str, view: View):
    try:
        number = normalise(text)
    except BadNumber:
        return Invalid(T("Not a phone number."))
    return number if number != view.profile.msisdn else Invalid(T("That is your own number."))


def _amount(text: str, view: View):
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= DAILY_TRANSFER_LIMIT:
        return Invalid(T("Enter 1 to 10,000 points."))
    return int(text)


def masked(msisdn: str) -> Verbatim:
    """A recipient as a subscriber dials it (138****0002): a Chinese number without +86, in every language."""
    national = msisdn[len(COUNTRY):] if msisdn.startswith(COUNTRY) else msisdn
    return Verbatim(mask(national))


def _confirm_transfer(view: View) -> T:
    return T("Send {points} points to {to}?", points=Number(int(view.values["amount"])),
             to=masked(str(view.values["to"])))


def _transferred(view: View) -> T:
    return T("Sent {points} points to {to}. Points left: {left}.", points=Number(int(view.values["amount"])),
             to=masked(str(view.values["to"])), left=Number(int(view.values["left"])))


# -- calls --------------------------------------------------------------------------------------
def _redeem_call(view: View) -> Call:
    return Call("points.redeem", view.op_key("redeem"),
                (("msisdn", view.profile.msisdn), ("reward", view.values["reward"])))


def _transfer_call(view: View) -> Call:
    midnight = datetime.combine(view.now.date(), time(), view.now.tzinfo)
    return Call("points.transfer", view.op_key("transfer"),
                (("msisdn", view.profile.msisdn), ("to", view.values["to"]), ("amount", view.values["amount"]),
                 ("since", midnight.isoformat())))


def redeem(services, call: Call) -> Outcome:
    a = call.kwargs
    reward = REWARDS[str(a["reward"])]
    result = services.boss.spend_points(str(a["msisdn"]), reward.points, call.key, "redeem", reward.key,
                                        topup_fen=reward.topup_fen)
    return Outcome("ok" if result.ok else result.reason, (("left", result.points_left),))


def transfer(services, call: Call) -> Outcome:
    a = call.kwargs
    result = services.boss.transfer_points(str(a["msisdn"]), str(a["to"]), int(a["amount"]), call.key,
                                           DAILY_TRANSFER_LIMIT, datetime.fromisoformat(str(a["since"])))
    return Outcome("ok" if result.ok else result.reason, (("left", result.points_left),))


OPERATIONS = {"points.redeem": redeem, "points.transfer": transfer}

SAMPLES = tuple({"reward": key, "left": 9_999_999, "amount": 10_000, "to": "+8613899999999"} for key in REWARDS)

FLOW = Flow(name="points", start="home", samples=SAMPLES, entries=("topup",), states={
    "home": Menu(_home_title, _home, exits=("balance", "history", "redeem", "recipient")),
    "balance": Show(_balance),
    "history": Show(_history_title, items=_history),
    "redeem": Menu(lambda v: T("Redeem points"), _rewards, exits=("confirm_redeem", "packages.offers")),
    "topup": Route(_topup, exits=("confirm_redeem", "redeem")),  # a low-balance reminder's "1"
    "confirm_redeem": Menu(_confirm_redeem, yes_no("do_redeem"), exits=("do_redeem", "home")),
    "do_redeem": Act(_redeem_call, {"ok": "redeemed", "insufficient": "short"}),
    "redeemed": Show(_redeemed, confirms=True),
    "short": Show(_short),
    "recipient": Ask(lambda v: T("Send points to which number?"), _recipient, key="to", goto="amount"),
    "amount": Ask(lambda v: T("How many points? (up to 10,000 a day)"), _amount, key="amount",
                  goto="confirm_transfer"),
    "confirm_transfer": Menu(_confirm_transfer, yes_no("do_transfer"), exits=("do_transfer", "home")),
    "do_transfer": Act(_transfer_call, {"ok": "transferred", "insufficient": "short",
                                        "daily_limit": "over_limit", "unknown_recipient": "no_recipient",
                                        "same_recipient": "no_recipient"}),
    "transferred": Show(_transferred, confirms=True),
    "over_limit": Show(lambda v: T("Over today's limit of 10,000 points. Nothing was sent.")),
    "no_recipient": Show(lambda v: T("That number cannot receive points. Nothing was sent.")),
})
