"""The table of periodic jobs and the slots of a schedule: pure, on a fixed clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from jobs import schedule
from jobs.schedule import Periodic, cycle_ended, parse_when, periodic

UTC = timezone.utc
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_table_has_the_rescans_the_reconciler_and_points_expiry(settings_with):
    entries = {e.name: e for e in periodic(settings_with())}
    assert {"outbox-rescan", "reconcile", "points-expiry"} <= set(entries)
    rescan = entries["outbox-rescan"].func
    assert f"{rescan.__module__}.{rescan.__name__}" == "jobs.outbox.rescan"
    assert entries["reconcile"].func.__name__ == "reconcile_job" and entries["reconcile"].when == "every 5m"
    assert entries["points-expiry"].when == "5 0 1 12 *"


def test_the_telegram_rescan_is_there_only_where_a_token_is_set(settings_with):
    names = {e.name for e in periodic(settings_with(telegram_token="123:abc"))}
    assert "telegram-rescan" in names


def test_entries_from_other_modules_join_the_table(settings_with, monkeypatch):
    """The reminders add one entry per kind through `provide`."""
    monkeypatch.setattr(schedule, "PROVIDERS", [])
    schedule.provide(lambda settings: [Periodic("remind-bill-ready", print, "0 10 * * *", {"kind": "bill-ready"})])
    entry = periodic(settings_with())[-1]
    assert (entry.name, entry.arguments(datetime(2026, 12, 2, 10, tzinfo=SHANGHAI))) == (
        "remind-bill-ready", {"kind": "bill-ready"})


def test_every_reminder_kind_runs_at_its_cron_with_its_slot_as_the_moment(settings_with):
    """menus/reminders.toml's kinds are on the scheduler: a run caught up late still runs as of its slot."""
    from flows import FLOWS
    from jobs.reminder_kinds import kinds_path, load_kinds

    settings = settings_with()
    kinds = load_kinds(kinds_path(settings.path(settings.paths.menus)), FLOWS)
    entries = {e.name: e for e in periodic(settings)}
    slot = datetime(2026, 12, 1, 10, tzinfo=SHANGHAI)
    for kind in kinds.values():
        entry = entries[f"reminder-{kind.name}"]
        assert entry.when == kind.cron and entry.func.__name__ == "run_reminder"
        assert entry.timeout == 3600  # not RQ's 180 s: a million subscribers take minutes
        assert entry.arguments(slot) == {"kind": kind.name, "at": "2026-12-01T10:00:00+08:00"}


def test_reminders_off_takes_every_reminder_kind_off_the_schedule(settings_with):
    names = {e.name for e in periodic(settings_with(schedule_reminders="false"))}
    assert names and not any(n.startswith("reminder-") for n in names)


def test_two_entries_of_one_name_are_refused(settings_with, monkeypatch):
    monkeypatch.setattr(schedule, "PROVIDERS", [lambda s: [Periodic("reconcile", print, "every 1m")]])
    with pytest.raises(ValueError, match="unique"):
        periodic(settings_with())


def test_a_cron_schedule_is_read_in_the_operators_time_zone():
    """Dec 1 00:05 in Shanghai is Nov 30 16:05 UTC."""
    when = parse_when("5 0 1 12 *", "Asia/Shanghai")
    slot = datetime(2026, 11, 30, 16, 5, tzinfo=UTC)
    assert when.latest(slot) == slot  # a slot is its own latest, to the microsecond
    assert when.latest(slot - timedelta(microseconds=1)) == datetime(2025, 11, 30, 16, 5, tzinfo=UTC)
    assert when.after(slot) == datetime(2027, 11, 30, 16, 5, tzinfo=UTC)


def test_interval_slots_are_multiples_of_the_interval_so_every_scheduler_agrees():
    when = parse_when("every 5m")
    now = datetime(2026, 12, 2, 9, 7, 31, tzinfo=UTC)
    assert (when.latest(now), when.after(now)) == (datetime(2026, 12, 2, 9, 5, tzinfo=UTC),
                                                   datetime(2026, 12, 2, 9, 10, tzinfo=UTC))


@pytest.mark.parametrize("text", ["every day", "every 0s", "5 0 1 12", "61 * * * *", "*/5 * * * * *", ""])
def test_a_schedule_that_is_neither_cron_nor_an_interval_is_refused(text):
    with pytest.raises(ValueError):
        parse_when(text)


def test_a_bad_schedule_in_the_settings_is_refused_at_start(settings_with):
    with pytest.raises(ValueError, match="schedule.reconcile"):
        settings_with(schedule_reconcile="every day")


@pytest.mark.parametrize("slot, cycle_end", [
    (datetime(2026, 12, 1, 0, 5, tzinfo=SHANGHAI), "2026-11-30"),
    (datetime(2026, 11, 30, 23, 59, tzinfo=SHANGHAI), "2026-11-30"),
    (datetime(2026, 11, 29, 12, 0, tzinfo=SHANGHAI), "2025-11-30"),
    (datetime(2027, 1, 3, 0, 5, tzinfo=SHANGHAI), "2026-11-30"),
])
def test_points_expiry_closes_the_cycle_that_ended_last(slot, cycle_end):
    """The cycle runs December to November: the Dec 1 slot closes the one ending Nov 30 (expire_cycle's
    docstring: run it after the 30th of November)."""
    assert cycle_ended(slot) == {"cycle_end": cycle_end}


def test_later_refuses_a_naive_time():
    with pytest.raises(ValueError, match="aware"):
        schedule.later(None, datetime(2026, 12, 2, 8), print)
