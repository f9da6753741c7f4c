"""My account: this month's bill, prepaid balance and the language of every screen."""
from __future__ import annotations

from bot.engine.events import LanguageChanged
from bot.engine.flow import Choice, Flow, Menu, Show, View
from bot.engine.text import Day, Money, T


def _home(view: View) -> list[Choice]:
    return [
        Choice(T("Bill this month"), "bill"),
        Choice(T("Prepaid balance"), "balance"),
        Choice(T("Language"), "language"),
    ]


def _languages(view: View) -> list[Choice]:
    return [
        Choice(T("中文"), "language_set", events=(LanguageChanged("zh_Hans"),)),
        Choice(T("English"), "language_set", events=(LanguageChanged("en"),)),
    ]


def _account(view: View):
    return view.services.boss.account(view.profile.msisdn)


def _bill(view: View) -> T:
    account = _account(view)
    return T("Your bill this month is {amount} (as of {day}).",
             amount=Money.from_fen(account.bill_fen if account else 0), day=Day(view.now.date()))


def _balance(view: View) -> T:
    account = _account(view)
    return T("Your prepaid balance is {amount}.", amount=Money.from_fen(account.balance_fen if account else 0))


FLOW = Flow(
    name="account",
    start="home",
    states={
        "home": Menu(lambda v: T("My account"), _home, exits=("bill", "balance", "language")),
        "bill": Show(_bill),
        "balance": Show(_balance),
        "language": Menu(lambda v: T("Language"), _languages, exits=("language_set",)),
        "language_set": Show(lambda v: T("Done: screens are now in English.")),
    },
)
