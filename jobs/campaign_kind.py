"""A campaign of a reminder kind: whom among a batch's members the kind is due for now, and the reminder each
reads, rendered with their own values exactly as a reminder run renders it (jobs/reminder_select.py and
jobs/reminder_values.py). The kind's due list is read from the partners once per kind and period (a reminder
run's key: the operator's day, or the minute of a polled kind) and kept for the batches and paced parts that
follow in this process, so a batch costs a lookup per member, never a partner call per member."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from jobs.campaign_spec import Offer
from jobs.campaign_text import with_offer
from jobs.reminder_kinds import Kind
from jobs.reminder_select import Due, Selection, due, period
from jobs.reminder_values import Recipient, message
from jobs.reminders import Reminders


@dataclass(frozen=True)
class KindPartners:
    """What a kind's campaign reads besides our tables; a worker lends both (jobs/process.py)."""

    services: Any
    reminders: Reminders


@dataclass(frozen=True)
class KindDue:
    """A kind and whom it is due for now: one occasion per member, the first the partner names (a campaign
    writes one message per member, `cmp:{id}:{msisdn}`)."""

    kind: Kind
    due: Mapping[str, Due]


_KEPT: dict[tuple[str, str], tuple[Any, KindDue]] = {}  # (kind, period) -> (the partners asked, the answer)


def due_now(engine: Engine, partners: KindPartners, name: str, now: datetime) -> KindDue:
    """The kind's due list at `now`, read once per kind and period (and per partners object) in a process."""
    setup = partners.reminders
    kind, zone = setup.kinds[name], ZoneInfo(setup.timezone)
    key = (name, period(kind, now, zone))
    kept = _KEPT.get(key)
    if kept is not None and kept[0] is partners.services:
        return kept[1]
    sel = Selection(partners.services, engine, zone, setup.default_timezone)
    found: dict[str, Due] = {}
    for d in due(sel, kind, now):
        found.setdefault(d.msisdn, d)
    _KEPT.clear()  # one list at a time: a worker runs one campaign's part after another
    _KEPT[key] = (partners.services, KindDue(kind, found))
    return _KEPT[key][1]


def recipient(member: Any, default_timezone: str) -> Recipient:
    """A batch member (a page row with the subscriber's columns) as the reminder values read it."""
    return Recipient(member.msisdn, member.name or "", member.tier or "regular", member.language or "zh_Hans",
                     member.timezone or default_timezone)


def texts(due_list: KindDue, page: list, offer: Offer | None, catalogs: Any,
          default_timezone: str) -> dict[str, tuple[str, Due]]:
    """The page's members the kind is due for -> (their text, their occasion). A member with nothing to be
    offered (no renewal price at their tier) is left out, as a reminder run skips them."""
    out = {}
    for member in page:
        d = due_list.due.get(member.msisdn)
        if d is None:
            continue
        who = recipient(member, default_timezone)
        text = message(due_list.kind, d.data, who)
        if text is not None:
            out[member.msisdn] = (with_offer(catalogs.render(who.language, text), who.language, offer, catalogs), d)
    return out
