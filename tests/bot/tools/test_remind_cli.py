"""`shortcode remind` and the reminders' part of `shortcode lint`, run as a user runs them (a subprocess)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import make_engine
from jobs.tables import Outbox
from tests.bot.tools.test_cli import shortcode

ROOT = Path(__file__).resolve().parents[3]
HOLIDAY = "2026-10-01T10:00"


@pytest.fixture
def seeded(tmp_path):
    shortcode("seed", "--demo", "--subscribers", "5", tmp_path=tmp_path)
    return tmp_path


def outbox(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/cli.db")
    with engine.connect() as conn:
        found = conn.execute(select(Outbox.msisdn, Outbox.cause, Outbox.text)).all()
    engine.dispose()
    return found


def test_remind_everyone_due_then_again_writes_once(seeded):
    out = shortcode("remind", "holiday-greeting", "--at", HOLIDAY, tmp_path=seeded)
    assert "holiday-greeting:2026-10-01: selected 5, queued 5 (0 by Telegram), suppressed 0" in out.stdout
    assert "deferred and capped: decided at send time" in out.stdout
    again = shortcode("remind", "holiday-greeting", "--at", HOLIDAY, tmp_path=seeded)
    assert "queued 0" in again.stdout and "already sent 5" in again.stdout
    assert len(outbox(seeded)) == 5


def test_remind_dry_run_shows_texts_and_writes_nothing(seeded):
    out = shortcode("remind", "holiday-greeting", "--at", HOLIDAY, "--dry-run", tmp_path=seeded)
    assert "would queue 5" in out.stdout and "国庆节" in out.stdout
    assert outbox(seeded) == []


def test_remind_one_subscriber(seeded):
    shortcode("remind", "holiday-greeting", "--at", HOLIDAY, "--msisdn", "13800000002", tmp_path=seeded)
    assert [r.cause for r in outbox(seeded)] == ["rem:holiday-greeting:2026-10-01:+8613800000002"]


@pytest.mark.parametrize("args, says", [
    (("remind", "nope"), "shortcode remind: unknown kind 'nope' (one of bill-ready,"),
    (("remind", "birthday", "--msisdn", "12"), "shortcode remind: --msisdn 12: not a valid phone number"),
    (("remind", "birthday", "--msisdn", "13999999999"), "shortcode remind: --msisdn +86139****9999: no such subscriber"),
    (("remind", "birthday", "--at", "tomorrow"), "shortcode remind: --at tomorrow: not an ISO 8601 moment"),
])
def test_remind_bad_input_is_one_line_and_exit_2(seeded, args, says):
    out = shortcode(*args, tmp_path=seeded, check=False)
    assert out.returncode == 2
    assert out.stderr.strip().startswith(says) and len(out.stderr.strip().splitlines()) == 1


def menus_with(tmp_path, old: str, new: str) -> Path:
    folder = tmp_path / "menus"
    shutil.copytree(ROOT / "menus", folder)
    path = folder / "reminders.toml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")
    return folder


@pytest.mark.parametrize("command", ["lint", "worker", "remind"])
def test_a_bad_kinds_file_stops_the_process_with_one_line(tmp_path, command):
    folder = menus_with(tmp_path, 'class = "marketing"', 'class = "spam"')
    args = (command, "birthday") if command == "remind" else (command,)
    out = shortcode(*args, tmp_path=tmp_path, check=False, SHORTCODE_PATHS_MENUS=str(folder),
                    SHORTCODE_REDIS_URL="redis://127.0.0.1:1")
    assert out.returncode == 2
    assert out.stderr.strip() == (f"shortcode {command}: reminders.toml: reminder 10 ('birthday'): 'class' must be "
                                  "one of service, care, marketing, got 'spam'")


def test_lint_fails_a_reminder_over_two_segments(tmp_path):
    """A deliberately long template: lint names the kind, the locale and the segments."""
    long = "Please pay {owed} before {suspend_on}" + " to keep your line open" * 12
    folder = menus_with(tmp_path, "Please pay {owed} before {suspend_on} to keep your line open", long)
    out = shortcode("lint", tmp_path=tmp_path, check=False, SHORTCODE_PATHS_MENUS=str(folder))
    assert out.returncode == 1
    assert "reminders: kind 'suspension-care' locale en: 3 SMS segments > 2" in out.stdout
    assert "reminders: kind 'suspension-care' locale zh_Hans:" in out.stdout  # untranslated: the hint is missing


def test_lint_passes_and_notes_two_segment_reminders(tmp_path):
    out = shortcode("lint", tmp_path=tmp_path)
    assert "every reminder its SMS" in out.stdout
    assert "reminders: kind 'inspection-due' locale en: 2 SMS segments" in out.stdout
