"""Whether a Telegram message shows what a transcript expects of the USSD screen. The two differ in layout
(options are buttons, 10 a page, Back and Home are buttons, an input question has none), so an expected
screen is read line by line and each line is held to its Telegram counterpart:

- an option line "3. Golf" must be a button labelled exactly so;
- the navigation line "0 Back 00 Home" must be Back and Home buttons (when the message has buttons at all:
  a question is answered by typing);
- "98 More" and "99 Previous" are USSD's paging (by bytes) and are not compared: Telegram pages by 10;
- any other line (a title, an error, a confirmation with its code and amounts) must be a line of the
  message's text (in `expect_contains`, a part of the text or of a button's label: a fragment may quote
  an option without its number).

`expect` is strict beyond that: the text has exactly the expected lines in order, the option buttons are
exactly the expected options, and an END screen has no buttons. Where USSD paged (a 98/99 line), the
expected lines and options need only be among the message's, which holds more per page."""
from __future__ import annotations

import re
from typing import Any

from bot.engine.catalogs import Catalogs
from bot.engine.engine import RESUME
from bot.engine.render import BACK, MORE, PREVIOUS
from bot.tools.tg_client import Message

OPTION = re.compile(r"^\d+\. ")


class Layout:
    """The USSD navigation lines in every language of the catalogs, to tell them from content."""

    def __init__(self, catalogs: Catalogs) -> None:
        langs = list(catalogs.translations) or ["en"]
        self.resume = {catalogs.render(lang, RESUME) for lang in langs}  # USSD's offer: Telegram has none
        self.back = {catalogs.render(lang, BACK) for lang in langs} | {BACK.msgid}
        self.paging = {catalogs.render(lang, t) for lang in langs for t in (MORE, PREVIOUS)} | {MORE.msgid,
                                                                                                 PREVIOUS.msgid}

    def offers_resume(self, expected: Any) -> bool:
        """Whether an expectation (a screen, a fragment or a list of them) is USSD's resume offer."""
        heads = [_strip(str(e))[1][0] for e in ([expected] if isinstance(expected, str) else expected)]
        return any(head and (head in offer or offer in head) for head in heads for offer in self.resume)

    def exact(self, expected: str, message: Message | None) -> str | None:
        """Why the message is not the expected screen; None when it is."""
        if message is None:
            return "no message"
        final, lines = _strip(expected.rstrip("\n"))
        paged = any(line in self.paging for line in lines)
        texts = [line for line in lines if not OPTION.match(line) and line not in self.back | self.paging]
        options = [line for line in lines if OPTION.match(line)]
        labels = [b.label for b in message.buttons if OPTION.match(b.label)]
        shown = message.text.split("\n")
        if not (_within(texts, shown) if paged else texts == shown):
            return f"text lines {texts} expected, the message has {shown}"
        if not (_within(options, labels) if paged else options == labels):
            return f"option buttons {options} expected, the message has {labels}"
        if final and message.buttons:
            return "an END screen expected, the message still has buttons"
        return self._navigation(lines, message)

    def contains(self, fragment: str, message: Message | None) -> str | None:
        """Why the message does not show the fragment; None when it does."""
        if message is None:
            return "no message"
        _, lines = _strip(fragment)
        labels = [b.label for b in message.buttons]
        for line in (line for line in lines if line and line not in self.paging):
            if line in self.back:
                continue
            if OPTION.match(line) and not any(line in label for label in labels):
                return f"no button {line!r} among {labels}"
            if not OPTION.match(line) and line not in message.text and not any(line in x for x in labels):
                return f"{line!r} is neither in the text nor on a button"
        return self._navigation(lines, message)

    def _navigation(self, lines: list[str], message: Message) -> str | None:
        typed = {b.typed for b in message.buttons}
        if message.buttons and any(line in self.back for line in lines) and not {"0", "00"} <= typed:
            return "Back and Home buttons expected"
        return None


def first_option(expected: str) -> int | None:
    """The number of the first option an expected screen lists: the Telegram page to look at holds it."""
    found = next((OPTION.match(line) for line in _strip(expected)[1] if OPTION.match(line)), None)
    return int(found.group(0)[:-2]) if found else None


def _strip(text: str) -> tuple[bool, list[str]]:
    """Whether it is an END screen, and its lines without the CON/END marker."""
    final = text.startswith("END ")
    if text.startswith(("CON ", "END ")):
        text = text[4:]
    return final, text.split("\n")


def _within(wanted: list[str], shown: list[str]) -> bool:
    """Whether `wanted` appear in `shown` in the same order (a page of it)."""
    rest = iter(shown)
    return all(line in rest for line in wanted)


def view(message: Message | None, notice: str = "") -> str:
    """A message as the terminal chat and a failing transcript show it: text, then its buttons numbered."""
    if message is None:
        return f"({notice})" if notice else "(no message)"
    head = [f"({notice})"] if notice else []
    row = "  ".join(_key(b) for b in message.buttons)
    contact = ["[share my phone number: /as NUMBER]"] if message.asks_contact else []
    return "\n".join(head + [message.text] + ([row] if row else []) + contact)


def _key(button) -> str:
    """`[3] Golf`, `[0] Back`, `[◀ 99]`, `[98 ▶]`: what to type to press it."""
    if OPTION.match(button.label):
        number, _, label = button.label.partition(". ")
        return f"[{number}] {label}"
    if button.typed == "99":
        return "[◀ 99]"
    if button.typed == "98":
        return "[98 ▶]"
    return f"[{button.typed}] {button.label}"
