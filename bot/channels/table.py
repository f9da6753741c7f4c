"""One table of channels: what the runtime needs to know of a channel, as data. Adding a channel is adding
an entry here (and its adapter), never an `if channel == ...` in the wiring or the dispatcher."""
from __future__ import annotations

from dataclasses import dataclass

from bot.engine.engine import Policy
from bot.engine.render import Budget
from bot.redisconn import tagged
from bot.settings import Settings

# Telegram: 4096 characters a message, and a keyboard of at most 10 options a page (one button each).
TELEGRAM_BUDGET = Budget(4096, 4096, per_page=10)


@dataclass(frozen=True)
class Channel:
    """How the same flows behave on one channel."""

    name: str
    policy: Policy  # idle timeout, resume window (negative: never offers a resume), wrong inputs allowed
    budget: Budget  # what one screen may hold; the renderer pages menus to fit it
    session_ttl: int  # seconds Redis keeps a session after its last input
    key_prefix: str  # before the number in the session key: a subscriber's sessions on two channels are apart
    confirms_by_sms: bool  # a confirming screen is also sent by SMS (it is gone once a USSD session ends)

    def session_key(self, msisdn: str) -> str:
        """The channel's prefix and the number as a hash tag: `sms:{+8613800000001}`."""
        return self.key_prefix + tagged(msisdn)

    @property
    def offers_resume(self) -> bool:
        return self.policy.resume_window >= 0


def channel_table(settings: Settings) -> dict[str, Channel]:
    """Every channel the runtime serves, built from settings."""
    return {c.name: c for c in (ussd(settings), sms(settings), telegram(settings))}


def ussd(settings: Settings) -> Channel:
    """A dial: a session idles out quickly and is offered back for the resume window. Its key is the tagged
    number alone."""
    s = settings.session
    policy = Policy(idle_timeout=s.idle_timeout, resume_window=s.resume_window,
                    max_wrong_inputs=s.max_wrong_inputs, default_timezone=settings.service.timezone)
    budget = Budget(settings.ussd.gsm7_budget, settings.ussd.ucs2_budget)
    return Channel("ussd", policy, budget, session_ttl=max(s.resume_window, s.idle_timeout), key_prefix="",
                   confirms_by_sms=True)


def sms(settings: Settings) -> Channel:
    """Texts: a session lives for the SMS window and never offers a resume; the reply itself is an SMS."""
    window = settings.sms.session_window
    policy = Policy(idle_timeout=window, resume_window=-1, max_wrong_inputs=settings.session.max_wrong_inputs,
                    default_timezone=settings.service.timezone)
    return Channel("sms", policy, sms_budget(settings.sms.max_segments), session_ttl=window, key_prefix="sms:",
                   confirms_by_sms=False)


def telegram(settings: Settings) -> Channel:
    """A chat: like texts, a session lives for the session window and never offers a resume; the menu is a
    message with buttons, 10 options a page."""
    window = settings.telegram.session_window
    policy = Policy(idle_timeout=window, resume_window=-1, max_wrong_inputs=settings.session.max_wrong_inputs,
                    default_timezone=settings.service.timezone)
    return Channel("telegram", policy, TELEGRAM_BUDGET, session_ttl=window, key_prefix="tg:",
                   confirms_by_sms=False)


def sms_budget(segments: int) -> Budget:
    """What `segments` concatenated SMS hold: 160/70 characters alone, 153/67 each when joined."""
    if segments <= 1:
        return Budget(160, 70)
    return Budget(153 * segments, 67 * segments)

