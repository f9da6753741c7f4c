"""Draw a reply for Telegram: the text of the message and its inline keyboard. A menu's options become
buttons labelled as typed ("3. Golf", so typing 3 works as pressing), and a navigation row carries Back,
Home and the page turns; each button's `callback_data` is the input it stands for and the hop its menu was
drawn at (`bot.channels.buttons`), so a press on an older message is recognised and never applied."""
from __future__ import annotations

import json
from dataclasses import dataclass

from bot.channels import buttons
from bot.channels.table import TELEGRAM_BUDGET
from bot.dispatcher import Reply
from bot.engine.catalogs import Catalogs
from bot.engine.flow import Screen
from bot.engine.render import Renderer
from bot.engine.text import T

MAX_TEXT = 4096  # Telegram's limit on a message's text, in characters
MAX_LABEL = 64  # a button's text: longer ones are cut by the apps (a sane limit; Telegram sets none firmly)

BACK = T("Back")
HOME = T("Home")
PREVIOUS = T("◀ Previous")
NEXT = T("Next ▶")


@dataclass(frozen=True)
class Drawn:
    text: str
    markup: str  # reply_markup as Bot API JSON, "" for none


_RENDERERS: dict[int, tuple[Catalogs, Renderer]] = {}  # one memoising renderer per catalogs


def renderer(catalogs: Catalogs) -> Renderer:
    """The engine's renderer under Telegram's budget: it cuts the same pages the dispatcher turned."""
    found = _RENDERERS.get(id(catalogs))
    if found is None or found[0] is not catalogs:
        found = _RENDERERS[id(catalogs)] = (catalogs, Renderer(catalogs, TELEGRAM_BUDGET))
    return found[1]


def draw(reply: Reply, hop: int, catalogs: Catalogs) -> Drawn:
    """The message for `reply`; a reply without a screen (an apology, a notice) is its text alone."""
    screen = reply.screen
    if screen is None:
        return Drawn(reply.text, "")
    lang = reply.lang or next(iter(catalogs.translations), "en")
    pages = renderer(catalogs).pages(screen, lang)
    page = max(0, min(reply.page, len(pages) - 1))
    on_page = pages[page] if screen.options else []
    text = "\n".join(_head(screen, lang, catalogs) + _lines(screen, on_page, lang, catalogs))
    rows = _option_rows(screen, on_page, hop, lang, catalogs) + _nav_rows(screen, page, len(pages), hop, lang, catalogs)
    return Drawn(text, json.dumps({"inline_keyboard": rows}, ensure_ascii=False) if rows else "")


def _head(screen: Screen, lang: str, catalogs: Catalogs) -> list[str]:
    return ([catalogs.render(lang, screen.error)] if screen.error else []) + [catalogs.render(lang, screen.title)]


def _lines(screen: Screen, on_page: list[int], lang: str, catalogs: Catalogs) -> list[str]:
    """Lines of a list (an info or end screen) are part of the text, not buttons."""
    if _has_buttons(screen):
        return []
    return [catalogs.render(lang, screen.options[i]) for i in on_page]


def _has_buttons(screen: Screen) -> bool:
    return screen.kind == "menu" and screen.numbered


def _option_rows(screen: Screen, on_page: list[int], hop: int, lang: str, catalogs: Catalogs) -> list[list[dict]]:
    if not _has_buttons(screen):
        return []
    return [[_button(f"{i + 1}. {catalogs.render(lang, screen.options[i])}", hop, str(i + 1))] for i in on_page]


def _nav_rows(screen: Screen, page: int, pages: int, hop: int, lang: str, catalogs: Catalogs) -> list[list[dict]]:
    """Back and Home where the screen offers them, ◀ and ▶ where there is a page that way. An end screen and
    an input question have none: the first takes no input, the second is answered by typing."""
    if screen.kind in ("end", "input"):
        return []
    say = catalogs.render
    row = []
    row += [_button(say(lang, PREVIOUS), hop, "99")] if page > 0 else []
    row += [_button(say(lang, BACK), hop, "0"), _button(say(lang, HOME), hop, "00")] if screen.back else []
    row += [_button(say(lang, NEXT), hop, "98")] if page < pages - 1 else []
    return [row] if row else []


def _button(label: str, hop: int, typed: str) -> dict:
    return {"text": label, "callback_data": buttons.encode(hop, typed)}


def problems(drawn: Drawn) -> list[str]:
    """Where a drawn message breaks Telegram's limits (for `shortcode lint`); empty when it fits."""
    size = _units(drawn.text)
    found = [f"text of {size} characters > {MAX_TEXT}"] if size > MAX_TEXT else []
    if not drawn.text.strip():
        found.append("empty text (Telegram refuses it)")
    rows = json.loads(drawn.markup)["inline_keyboard"] if drawn.markup else []
    for button in (b for row in rows for b in row):
        if _units(button["text"]) > MAX_LABEL:
            found.append(f"button of {_units(button['text'])} characters > {MAX_LABEL}: {button['text']}")
        if len(button["callback_data"].encode()) > buttons.MAX_BYTES:
            found.append(f"callback_data over {buttons.MAX_BYTES} bytes")
    return found


def _units(text: str) -> int:
    """Characters as Telegram counts them (UTF-16 code units: an emoji may count two)."""
    return len(text.encode("utf-16-le")) // 2
