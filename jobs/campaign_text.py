"""What a campaign member reads: the agent's text in their language (or a reminder kind's template), then the
offer line and the opt-out hint, both added here so no agent ever types (or forgets) them; and the preview's
samples with what each costs on the network (GSM-7 or UCS-2, segments)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from bot.engine.text import Number, T
from flows.packages import PACKAGES, priced
from integrations import gsm
from jobs.campaign_spec import CampaignSpec, Offer
from jobs.reminder_kinds import FIELD, OPT_OUT, Kind, kinds_path, load_kinds

MENUS = Path(__file__).resolve().parents[1] / "menus"
TEXT_KEY = {"en": "en", "zh_Hans": "zh"}  # a subscriber's language -> the spec's text key
SAMPLE_LANGUAGE = {"en": "en", "zh": "zh_Hans"}  # the preview's samples: one per text key
ENDS = ".!?。！？"
HINT = T("Reply STOP to opt out.")  # OPT_OUT, the hint every reminder template ends with, alone
assert HINT.msgid == OPT_OUT, "the campaigns' hint is the reminders' own"


@lru_cache(maxsize=1)
def kinds() -> Mapping[str, Kind]:
    """The reminder kinds a campaign may name (menus/reminders.toml), loaded once per process."""
    from flows import FLOWS

    return load_kinds(kinds_path(MENUS), FLOWS)


def kind_problem(name: str, known: Mapping[str, Kind] | None = None) -> str | None:
    """Why a campaign cannot send this kind, or None: it must exist and need no values only its own trigger
    reads (a bill's amount, a package's end); a campaign has none of those."""
    kind = (kinds() if known is None else known).get(name)
    if kind is None:
        return f"unknown reminder kind {name!r}: choose from {sorted(kinds() if known is None else known)}"
    fields = FIELD.findall(kind.template)
    if fields:
        return f"reminder kind {name!r} needs {fields}, which only its own trigger provides: write a text instead"
    return None


def offer_line(offer: Offer) -> T:
    """"Reply 1 to get 2,000 points." / "回复1领取2,000积分。", or the package at its offer price."""
    if offer.points is not None:
        return T("Reply 1 to get {points} points.", points=Number(offer.points))
    package = PACKAGES[str(offer.package)]
    return T("Reply 1 for {name} at {price}.", name=package.name, price=priced(package, int(offer.price_fen or 0)))


def _sentence(text: str, lang: str) -> str:
    return text if not text or text[-1] in ENDS else text + ("。" if lang.startswith("zh") else ".")


def message(spec: CampaignSpec, lang: str, catalogs: Any) -> str:
    """The whole message for a subscriber's language (the subscriber table's code; another is read as Chinese)."""
    hint = catalogs.render(lang, HINT)
    if spec.text is not None:
        body = spec.text[TEXT_KEY.get(lang, "zh")]
    else:
        body = catalogs.render(lang, T(kinds()[str(spec.kind)].template)).removesuffix(hint).rstrip()
    parts = [_sentence(body, lang)]
    if spec.offer is not None:
        parts.append(catalogs.render(lang, offer_line(spec.offer)))
    parts.append(hint)
    return ("" if lang.startswith("zh") else " ").join(parts)


def samples(spec: CampaignSpec, catalogs: Any) -> dict[str, dict[str, Any]]:
    """The preview's sample per text key: the text as sent, its encoding, segments and characters."""
    out = {}
    for key, lang in SAMPLE_LANGUAGE.items():
        text = message(spec, lang, catalogs)
        cost = gsm.count(text)
        out[key] = {"text": text, "encoding": cost.encoding, "segments": cost.segments, "characters": len(text)}
    return out
