"""The reminder kinds on the scheduler: one periodic entry per kind of `menus/reminders.toml`, at its cron in
the operator's time zone. Each run is handed its slot as `at`, so a slot caught up after a scheduler restart
selects and keys its reminders as of the slot, not of the moment it ran."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from jobs.reminder_kinds import kinds_path, load_kinds, reminder_entries
from jobs.schedule import Periodic, provide

RUN_TIMEOUT_S = 3600  # a run over a million subscribers takes minutes (docs/benchmarks.md §8): RQ's 180 s would kill it


def _at(slot: datetime) -> dict[str, Any]:
    return {"at": slot.isoformat()}


@provide
def reminder_entries_of(settings: Any) -> list[Periodic]:
    """One entry per kind, named `reminder-<kind>`; none where `[schedule] reminders` is off."""
    from flows import FLOWS

    if not settings.schedule.reminders:
        return []
    kinds = load_kinds(kinds_path(settings.path(settings.paths.menus)), FLOWS)
    return [Periodic(name.replace(":", "-"), func, cron, kwargs, per_slot=_at, timeout=RUN_TIMEOUT_S)
            for name, func, cron, kwargs in reminder_entries(kinds)]
