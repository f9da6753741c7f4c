"""Fit a screen to a channel: translate it, lay it out and page long menus within the budget."""
from __future__ import annotations

from dataclasses import dataclass

from bot.flow import Screen
from bot.i18n import Catalogs
from bot.text import T
from integrations.gsm import char_units

MORE = T("98 More")
PREVIOUS = T("99 Previous")
BACK = T("0 Back 00 Home")


@dataclass(frozen=True)
class Budget:
    """How much one screen may hold, per encoding."""

    gsm7: int = 182
    ucs2: int = 80

    def fits(self, text: str) -> bool:
        encoding, sizes = char_units(text)
        return sum(sizes) <= (self.gsm7 if encoding == "GSM-7" else self.ucs2)


@dataclass(frozen=True)
class Rendered:
    text: str
    page: int
    pages: int
    final: bool
    fits: bool


@dataclass(frozen=True)
class Renderer:
    """Pure: catalogs and a budget in, text out. One per channel."""

    catalogs: Catalogs
    budget: Budget

    def pages(self, screen: Screen, lang: str) -> list[list[int]]:
        """Option indexes on each page; an option is never cut in half."""
        if len(screen.options) <= 1 or self._fits(screen, lang, list(range(len(screen.options))), 0, False):
            return [list(range(len(screen.options)))]
        pages: list[list[int]] = []
        rest = list(range(len(screen.options)))
        while rest:
            page = [rest[0]]  # at least one option per page, even an oversized one (lint reports it)
            for i in rest[1:]:
                last = i == rest[-1]
                if not self._fits(screen, lang, page + [i], len(pages), not last):
                    break
                page.append(i)
            pages.append(page)
            rest = rest[len(page):]
        return pages

    def page_count(self, screen: Screen, lang: str) -> int:
        return len(self.pages(screen, lang))

    def render(self, screen: Screen, lang: str, page: int = 0) -> Rendered:
        pages = self.pages(screen, lang)
        page = max(0, min(page, len(pages) - 1))
        text = self._compose(screen, lang, pages[page], page, page < len(pages) - 1)
        return Rendered(text, page, len(pages), screen.final, self.budget.fits(text))

    def _fits(self, screen: Screen, lang: str, options: list[int], page: int, more: bool) -> bool:
        return self.budget.fits(self._compose(screen, lang, options, page, more))

    def _compose(self, screen: Screen, lang: str, options: list[int], page: int, more: bool) -> str:
        say = self.catalogs.render
        lines = [say(lang, screen.error)] if screen.error else []
        lines.append(say(lang, screen.title))
        if screen.numbered:
            lines += [f"{i + 1}. {say(lang, screen.options[i])}" for i in options]
        else:
            lines += [say(lang, screen.options[i]) for i in options]
        if more:
            lines.append(say(lang, MORE))
        if page > 0:
            lines.append(say(lang, PREVIOUS))
        if screen.back and not screen.final:
            lines.append(say(lang, BACK))
        return "\n".join(lines)
