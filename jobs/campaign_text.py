"""What a campaign member reads: the agent's text in their language (or a reminder kind's reminder, rendered
with the member's own values by jobs/campaign_kind.py), then the offer line and the opt-out hint, both added
here so no agent ever types (or forgets) them; and the preview's samples with what each costs on the network
(GSM-7 or UCS-2, segments)."""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from bot.engine.text import Number, T
from flows.packages import PACKAGES, priced
from integrations import gsm
from jobs.campaign_spec import CampaignSpec, Offer
from jobs.reminder_kinds import OPT_OUT, Kind, kinds_path, load_kinds
from jobs.reminder_values import message as reminder_message
from jobs.reminder_values import sample_recipients
from jobs.reminder_values import samples as reminder_samples

MENUS = Path(__file__).resolve().parents[1] / "menus"
TEXT_KEY = {"en": "en", "zh_Hans": "zh"}  # a subscriber's language -> the spec's text key
SAMPLE_LANGUAGE = {"en": "en", "zh": "zh_Hans"}  # the preview's samples: one per text key
ENDS = ".!?。！？"
HINT = T("Reply STOP to opt out.")  # OPT_OUT, the hint every reminder template ends with, alone
SAMPLE_NOTE = "kind {kind!r} rendered with sample values (shortcode lint's): each member reads their own"
assert HINT.msgid == OPT_OUT, "the campaigns' hint is the reminders' own"


@lru_cache(maxsize=1)
def kinds() -> Mapping[str, Kind]:
    """The reminder kinds a campaign may name (menus/reminders.toml), loaded once per process."""
    from flows import FLOWS

    return load_kinds(kinds_path(MENUS), FLOWS)


UNASKABLE = {  # triggers a campaign cannot ask about an arbitrary member, and why
    "roaming": "its trigger is the roaming feed, read forward once by the reminder runs' own cursor: whether an "
               "arbitrary member has just arrived abroad cannot be asked",
}


def kind_problem(name: str, known: Mapping[str, Kind] | None = None) -> str | None:
    """Why a campaign cannot send this kind, or None: it must exist, and its trigger must be able to say whether
    the kind is due now for any member (docs/campaigns.md, "A campaign of a reminder kind")."""
    table = kinds() if known is None else known
    kind = table.get(name)
    if kind is None:
        return f"unknown reminder kind {name!r}: choose from {sorted(table)}"
    why = UNASKABLE.get(kind.trigger)
    return f"reminder kind {name!r} cannot be a campaign: {why}" if why else None


def offer_line(offer: Offer) -> T:
    """"Reply 1 to get 2,000 points." / "回复1领取2,000积分。", or the package at its offer price."""
    if offer.points is not None:
        return T("Reply 1 to get {points} points.", points=Number(offer.points))
    package = PACKAGES[str(offer.package)]
    return T("Reply 1 for {name} at {price}.", name=package.name, price=priced(package, int(offer.price_fen or 0)))


def _sentence(text: str, lang: str) -> str:
    return text if not text or text[-1] in ENDS else text + ("。" if lang.startswith("zh") else ".")


def _joined(body: str, lang: str, offer: Offer | None, catalogs: Any) -> str:
    """The body as a sentence, the offer line if any, then the opt-out hint."""
    parts = [_sentence(body, lang)]
    if offer is not None:
        parts.append(catalogs.render(lang, offer_line(offer)))
    parts.append(catalogs.render(lang, HINT))
    return ("" if lang.startswith("zh") else " ").join(parts)


def message(spec: CampaignSpec, lang: str, catalogs: Any) -> str:
    """A text campaign's whole message for a subscriber's language (the subscriber table's code; another is
    read as Chinese)."""
    return _joined(str(spec.text[TEXT_KEY.get(lang, "zh")]) if spec.text else "", lang, spec.offer, catalogs)


def with_offer(reminder: str, lang: str, offer: Offer | None, catalogs: Any) -> str:
    """A kind's reminder as a reminder run renders it; with an offer, its hint moved after the offer line."""
    if offer is None:
        return reminder
    return _joined(reminder.removesuffix(catalogs.render(lang, HINT)).rstrip(), lang, offer, catalogs)


def _kind_sample(name: str, lang: str, offer: Offer | None, catalogs: Any) -> str:
    """A kind rendered with the lint's sample values (its widest), as a member of that language reads it."""
    kind = kinds()[name]
    who = replace(sample_recipients(kind)[0], language=lang)
    text = reminder_message(kind, reminder_samples(kind)[0], who)
    return with_offer(catalogs.render(lang, text), lang, offer, catalogs)


def samples(spec: CampaignSpec, catalogs: Any) -> dict[str, dict[str, Any]]:
    """The preview's sample per text key: the text as sent, its encoding, segments and characters; a kind's
    sample is rendered with sample values, and says so (each member reads their own)."""
    out = {}
    for key, lang in SAMPLE_LANGUAGE.items():
        text = _kind_sample(spec.kind, lang, spec.offer, catalogs) if spec.kind else message(spec, lang, catalogs)
        cost = gsm.count(text)
        out[key] = {"text": text, "encoding": cost.encoding, "segments": cost.segments, "characters": len(text)}
        if spec.kind:
            out[key]["note"] = SAMPLE_NOTE.format(kind=spec.kind)
    return out
