"""What a worker process lends its jobs: the database, the outbox sender, the Telegram sender, the catalogs,
the partners, the reminder kinds and the campaigns' setup. Jobs take ids and plain
values only (rq's rule): RQ keeps a job's arguments in Redis, a year when it fails, and prints them when
it logs at INFO, so a database URL (its password) or a subscriber's number never goes there."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from jobs.campaign_run import CampaignSetup
    from jobs.outbox import Sender
    from jobs.reminders import Reminders
    from jobs.telegram import TelegramSender

_LENT: dict[str, Any] = {}


def use(engine: Engine | None = None, sender: Sender | None = None, telegram: TelegramSender | None = None,
        catalogs: Any = None, services: Any = None, reminders: Reminders | None = None,
        campaigns: CampaignSetup | None = None) -> None:
    """Install this process's parts (`shortcode worker` and `serve` do it from the settings). `catalogs` renders
    text (`render(lang, T)`), `services` are the partners (integrations.services.Services)."""
    for what, thing in (("database", engine), ("outbox sender", sender), ("telegram sender", telegram),
                        ("catalogs", catalogs), ("partners", services), ("reminder kinds", reminders),
                        ("campaign setup", campaigns)):
        if thing is not None:
            _LENT[what] = thing


def engine() -> Engine:
    return _lent("database")


def sender() -> Sender:
    return _lent("outbox sender")


def telegram() -> TelegramSender:
    return _lent("telegram sender")


def catalogs() -> Any:
    return _lent("catalogs")


def services() -> Any:
    return _lent("partners")


def reminders() -> Reminders:
    return _lent("reminder kinds")


def campaigns() -> CampaignSetup:
    """[campaigns] as the run needs it; the defaults where a worker lent none (tests, benches)."""
    from jobs.campaign_run import CampaignSetup

    return _LENT.get("campaign setup") or CampaignSetup()


def _lent(what: str) -> Any:
    if what not in _LENT:
        raise RuntimeError(f"no {what} in this worker: run `shortcode worker`, which installs one")
    return _LENT[what]
