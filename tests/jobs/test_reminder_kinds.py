"""menus/reminders.toml: validated when loaded (errors name the file, the entry and the reason), and every
subscriber-facing text in it extracted for translation."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from flows import FLOWS
from jobs.reminder_kinds import CLASSES, TRIGGERS, KindError, load_kinds, msgids, reminder_entries
from jobs.reminders import run_reminder

ROOT = Path(__file__).resolve().parents[2]
GOOD = '''
[[reminder]]
kind = "bill-ready"
trigger = "bill-issued"
class = "care"
template = "Your {month} bill is {amount}. Reply STOP to opt out."
'''


def load(tmp_path, text):
    path = tmp_path / "reminders.toml"
    path.write_text(text, "utf-8")
    return load_kinds(path, FLOWS)


def test_the_shipped_kinds_cover_every_trigger_and_class():
    kinds = load_kinds(ROOT / "menus" / "reminders.toml", FLOWS)
    assert {k.trigger for k in kinds.values()} == set(TRIGGERS)
    assert {k.cap_class for k in kinds.values()} == set(CLASSES)
    assert {k.name for k in kinds.values() if k.cap_class == "service"} == {"bill-due", "suspension-care"}
    assert kinds["low-balance"].goto == "points.topup"
    assert kinds["holiday-greeting"].outbox_kind == "marketing" and kinds["bill-due"].outbox_kind == "reminder"


def test_cron_entries_for_the_scheduler():
    kinds = load_kinds(ROOT / "menus" / "reminders.toml", FLOWS)
    entries = {name: (func, cron, kwargs) for name, func, cron, kwargs in reminder_entries(kinds)}
    assert entries["reminder:low-balance"] == (run_reminder, "*/10 * * * *", {"kind": "low-balance"})
    assert entries["reminder:bill-ready"][1] == "0 10 * * *"
    assert len(entries) == len(kinds)


@pytest.mark.parametrize("change, reason", [
    (('trigger = "bill-issued"', 'trigger = "payday"'), "reminder 1 ('bill-ready'): unknown trigger 'payday'"),
    (('class = "care"', 'class = "promo"'), "reminder 1 ('bill-ready'): 'class' must be one of"),
    ((" Reply STOP to opt out.", ""), "reminder 1 ('bill-ready'): 'template' must be a text ending with"),
    (("{amount}", "{balance}"), "reminder 1 ('bill-ready'): template field {balance} is not one the trigger gives"),
    (('class = "care"', 'class = "care"\ngoto = "points.nowhere"'), "'goto' must be empty or name a flow state"),
    (('class = "care"', 'class = "care"\ngoto = "points.redeem"'), "must say which reply continues it"),
    (('class = "care"', 'class = "care"\ncron = "daily"'), "'cron' must have five fields"),
    (('kind = "bill-ready"', 'kind = "Bill Ready"'), "reminder 1: needs a 'kind' name"),
    (('kind = "bill-ready"', 'kind = "bill-ready'), "reminders.toml: not valid TOML"),
])
def test_a_bad_entry_is_refused_naming_file_entry_and_reason(tmp_path, change, reason):
    with pytest.raises(KindError) as err:
        load(tmp_path, GOOD.replace(*change))
    assert str(err.value).startswith("reminders.toml:") and reason in str(err.value)


def test_duplicates_bad_holidays_and_missing_parameters_are_refused(tmp_path):
    with pytest.raises(KindError, match=r"reminder 2 \('bill-ready'\): duplicate kind"):
        load(tmp_path, GOOD + GOOD)
    due = GOOD.replace('trigger = "bill-issued"', 'trigger = "bill-due"').replace("{month} bill is {amount}", "bill")
    with pytest.raises(KindError, match=r"reminder 1 \('bill-ready'\): needs 'days_before' \(int\)"):
        load(tmp_path, due)
    holiday = ('[[reminder]]\nkind = "hi"\ntrigger = "holiday"\nclass = "marketing"\n'
               'template = "Happy {holiday}! Reply STOP to opt out."\n[reminder.holidays.2026]\n"New Year" = 2027-01-01\n')
    with pytest.raises(KindError, match=r"holiday 'New Year' on 2027-01-01 is not in 2026"):
        load(tmp_path, holiday)


def test_every_text_of_the_kinds_file_is_in_the_catalogs():
    """`make extract` found the templates, holiday names and benefits; both catalogs translate them."""
    import tomllib

    texts = set(msgids(tomllib.loads((ROOT / "menus" / "reminders.toml").read_text("utf-8"))))
    assert "Spring Festival" in texts and len(texts) > 12
    for lang in ("zh_Hans", "en"):
        with open(ROOT / "locale" / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
            catalog = read_po(f)
        for text in texts:
            message = catalog.get(text)
            assert message is not None and message.string and not message.fuzzy, (lang, text)
