"""Fit a screen to a channel: translate it, lay it out and page long menus within the budget."""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.engine.catalogs import Catalogs
from bot.engine.flow import Screen
from bot.engine.text import T
from integrations.gsm import GSM7_EXTENDED, char_units, is_gsm7

MORE = T("98 More")
PREVIOUS = T("99 Previous")
BACK = T("0 Back 00 Home")
CACHED_LAYOUTS = 2048  # a page turn lays out the screen the step before laid out: reuse it


@dataclass(frozen=True)
class Budget:
    """How much one screen may hold, per encoding, and at most how many options a page (0: no limit;
    a channel that draws options as buttons keeps a keyboard short)."""

    gsm7: int = 182
    ucs2: int = 80
    per_page: int = 0

    def fits(self, text: str) -> bool:
        encoding, sizes = char_units(text)
        return sum(sizes) <= (self.gsm7 if encoding == "GSM-7" else self.ucs2)

    def fits_lines(self, lines: list["Line"]) -> bool:
        """Whether lines joined by newlines fit: GSM-7 only if every line is (a newline is GSM-7)."""
        newlines = len(lines) - 1
        if all(line.gsm for line in lines):
            return sum(line.septets for line in lines) + newlines <= self.gsm7
        return sum(line.utf16 for line in lines) + newlines <= self.ucs2


@dataclass(frozen=True)
class Line:
    """A translated line and what it costs in either encoding, measured once."""

    text: str
    gsm: bool
    septets: int
    utf16: int

    @classmethod
    def of(cls, text: str) -> "Line":
        gsm = is_gsm7(text)
        septets = len(text) + sum(c in GSM7_EXTENDED for c in text) if gsm else 0
        return cls(text, gsm, septets, len(text.encode("utf-16-le")) // 2)


@dataclass(frozen=True)
class Rendered:
    text: str
    page: int
    pages: int
    final: bool
    fits: bool


@dataclass(frozen=True)
class Layout:
    """A screen translated into lines and cut into pages of option indexes."""

    head: tuple[Line, ...]  # the error line, if any, and the title
    options: tuple[Line, ...]
    more: Line
    previous: Line
    back: Line | None
    pages: tuple[tuple[int, ...], ...]

    def lines(self, page: int) -> list[Line]:
        last = len(self.pages) - 1
        lines = [*self.head, *(self.options[i] for i in self.pages[page])]
        lines += [self.more] if page < last else []
        lines += [self.previous] if page > 0 else []
        return lines + ([self.back] if self.back else [])


@dataclass(frozen=True)
class Renderer:
    """Pure: catalogs and a budget in, text out. One per channel.

    Pages are cut as if the widest error line a screen may carry (`Screen.reserve`) were on top, never
    the one that is: a wrong entry re-shows the same options on the same pages, and 98/99 turn the same
    pages with or without it."""

    catalogs: Catalogs
    budget: Budget
    _layouts: dict = field(default_factory=dict, compare=False, repr=False)  # a memo, not state

    def pages(self, screen: Screen, lang: str) -> list[list[int]]:
        """Option indexes on each page; an option is never cut in half."""
        return [list(p) for p in self.layout(screen, lang).pages]

    def page_count(self, screen: Screen, lang: str) -> int:
        return len(self.layout(screen, lang).pages)

    def render(self, screen: Screen, lang: str, page: int = 0) -> Rendered:
        layout = self.layout(screen, lang)
        page = max(0, min(page, len(layout.pages) - 1))
        lines = layout.lines(page)
        return Rendered("\n".join(line.text for line in lines), page, len(layout.pages), screen.final,
                        self.budget.fits_lines(lines))

    def layout(self, screen: Screen, lang: str) -> Layout:
        key = (screen, lang)
        found = self._layouts.get(key)
        if found is None:
            if len(self._layouts) >= CACHED_LAYOUTS:
                self._layouts.clear()
            found = self._layouts[key] = self._lay_out(screen, lang)
        return found

    def _lay_out(self, screen: Screen, lang: str) -> Layout:
        say = self.catalogs.render
        title = Line.of(say(lang, screen.title))
        head = ((Line.of(say(lang, screen.error)),) if screen.error else ()) + (title,)
        texts = [say(lang, o) for o in screen.options]
        options = tuple(Line.of(f"{i + 1}. {t}" if screen.numbered else t) for i, t in enumerate(texts))
        back = Line.of(say(lang, BACK)) if screen.back and not screen.final else None
        room = self._room(screen.reserve, lang) + (title,)
        draft = Layout(room, options, Line.of(say(lang, MORE)), Line.of(say(lang, PREVIOUS)), back, ())
        return Layout(head, options, draft.more, draft.previous, back, self._paginate(draft))

    def _room(self, reserve: tuple[T, ...], lang: str) -> tuple[Line, ...]:
        """A line as costly as the widest reserved error line, in either encoding."""
        lines = [Line.of(self.catalogs.render(lang, t)) for t in reserve]
        if not lines:
            return ()
        widest = Line("", all(line.gsm for line in lines), max(line.septets for line in lines),
                      max(line.utf16 for line in lines))
        return (widest,)

    def _paginate(self, draft: Layout) -> tuple[tuple[int, ...], ...]:
        n = len(draft.options)
        if n <= 1 or self._fits(draft, list(range(n)), 0, False):
            return (tuple(range(n)),)
        pages: list[tuple[int, ...]] = []
        rest = list(range(n))
        while rest:
            page = [rest[0]]  # at least one option per page, even an oversized one (lint reports it)
            for i in rest[1:]:
                if not self._fits(draft, page + [i], len(pages), i != rest[-1]):
                    break
                page.append(i)
            pages.append(tuple(page))
            rest = rest[len(page):]
        return tuple(pages)

    def _fits(self, draft: Layout, options: list[int], page: int, more: bool) -> bool:
        if self.budget.per_page and len(options) > self.budget.per_page:
            return False
        lines = [*draft.head, *(draft.options[i] for i in options)]
        lines += [draft.more] if more else []
        lines += [draft.previous] if page > 0 else []
        return self.budget.fits_lines(lines + ([draft.back] if draft.back else []))
