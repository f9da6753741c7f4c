"""`shortcode lint`: render every screen of every flow in every locale and report overflows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from bot import engine as eng
from bot.engine import Context, Engine
from bot.flow import Ask, End, Menu, Profile, Screen
from bot.i18n import LANGUAGES
from bot.render import Renderer
from bot.seed import SHOWCASE
from bot.session import Session
from bot.textcount import char_units

NOW = datetime(2026, 12, 31, 15, 59, tzinfo=timezone.utc)  # widest dates of the cycle

# The showcase subscriber, and one with the widest figures a screen may have to hold.
PROFILES = (
    Profile(*SHOWCASE[:6], balance_fen=SHOWCASE[6], bill_fen=SHOWCASE[7]),
    Profile("+8613899999999", "Alexandria", "diamond", "en", "Asia/Shanghai", 9_999_999, 99_999_999, 99_999_999),
)
ERRORS = (None, eng.WRONG_CHOICE)


@dataclass(frozen=True)
class Overflow:
    channel: str
    flow: str
    state: str
    lang: str
    page: int
    units: int
    budget: int
    text: str

    def __str__(self) -> str:
        return (f"{self.channel}: flow '{self.flow}' state '{self.state}' locale {self.lang} page {self.page + 1}:"
                f" {self.units} units > {self.budget}\n{self.text}")


def screens(engine: Engine, renderer: Renderer) -> Iterator[tuple[str, str, Screen]]:
    """Every state's screen, for each demo profile and with and without an error line."""
    for profile in PROFILES:
        ctx = Context(profile, renderer)
        for flow in engine.flows.values():
            for name, state in flow.states.items():
                for error in ERRORS if not isinstance(state, End) else (None,):
                    if error and not isinstance(state, (Menu, Ask)):
                        continue
                    session = Session(profile.msisdn, "lint", flow.name, name, profile.lang, NOW.timestamp(),
                                      error=error.msgid if error else None)
                    yield flow.name, name, engine.screen(session, NOW, ctx)
    for text in (eng.TOO_MANY, eng.TIMED_OUT, eng.ENDED):
        yield "engine", text.msgid[:24], Screen("end", text, back=False)
    yield "engine", "resume", Screen("menu", eng.RESUME, (eng.CONTINUE, eng.RESTART), back=False)


def lint(engine: Engine, renderers: dict[str, Renderer]) -> list[Overflow]:
    found = []
    for channel, renderer in renderers.items():
        for flow, state, screen in screens(engine, renderer):
            for lang in LANGUAGES:
                for page in range(renderer.page_count(screen, lang)):
                    rendered = renderer.render(screen, lang, page)
                    if not rendered.fits:
                        enc, sizes = char_units(rendered.text)
                        budget = renderer.budget.gsm7 if enc == "GSM-7" else renderer.budget.ucs2
                        found.append(Overflow(channel, flow, state, lang, page, sum(sizes), budget, rendered.text))
    return found
