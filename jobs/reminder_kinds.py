"""The reminder kinds, as data: `menus/reminders.toml` loaded and validated like the menus (an error names the
file, the entry and the reason), the cron entries the scheduler runs them on, and a babel extractor so
`make extract` finds their templates."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterator, Mapping

FILE = "reminders.toml"
CLASSES = ("service", "care", "marketing")  # service: exempt from caps; marketing: the "marketing" outbox kind
TIERS = ("regular", "silver", "gold", "diamond")  # as the engine's profiles know them
OPT_OUT = "Reply STOP to opt out."  # what every template ends with (回复TD退订 in Chinese)
KIND_NAME = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
CRON = re.compile(r"^\S+( \S+){4}$")
FIELD = re.compile(r"\{(\w+)\}")


class KindError(ValueError):
    """The kinds file is wrong; the message names the file, the entry and the reason."""


@dataclass(frozen=True)
class Trigger:
    """What starts a kind: the template fields it provides, the parameters it needs (name -> type) and the
    cron it runs on unless the kind says otherwise."""

    fields: tuple[str, ...]
    params: Mapping[str, type] = field(default_factory=dict)
    cron: str = "0 10 * * *"  # daily kinds: 10:00 in the operator's zone


TRIGGERS: dict[str, Trigger] = {
    "bill-issued": Trigger(("month", "amount", "due_on")),
    "bill-due": Trigger(("due", "due_on"), {"days_before": int}),
    "low-balance": Trigger(("balance", "threshold", "topup", "points"), {"threshold_fen": int, "reward": str},
                           "*/10 * * * *"),
    "package-ending": Trigger(("package", "until", "price"), {"days_before": int}),
    "points-expiring": Trigger(("points", "value", "cycle_end"), {"days": list}),
    "roaming": Trigger(("country", "tariff"), {}, "* * * * *"),
    "appointment": Trigger(("doctor", "department", "hospital", "day", "half", "number", "code"),
                           {"days_before": int}),
    "tee-time": Trigger(("course", "day", "time", "players", "code"), {"days_before": int}),
    "inspection-due": Trigger(("plate", "due_on"), {"days_before": int}),
    "birthday": Trigger(("name", "benefit"), {"from_hour": int, "benefits": dict}, "5 * * * *"),
    "holiday": Trigger(("holiday",), {"holidays": dict}, "0 10 * * *"),
    "suspension": Trigger(("owed", "suspend_on"), {"days_before": int}),
}


@dataclass(frozen=True)
class Kind:
    """One reminder kind: what triggers it, its cap class, its template (an English msgid) and the flow
    state a reply continues (`goto`, "FLOW.STATE" or empty)."""

    name: str
    trigger: str
    cap_class: str
    template: str
    goto: str = ""
    cron: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    goto_hours: int = 48

    @property
    def outbox_kind(self) -> str:
        """The outbox's kind: opt-out stops both, and marketing is told apart for reports."""
        return "marketing" if self.cap_class == "marketing" else "reminder"

    def holiday_on(self, day: date) -> str | None:
        """The holiday (its msgid) on `day`, from the table by year."""
        for name, on in self.params.get("holidays", {}).get(str(day.year), {}).items():
            if on == day:
                return name
        return None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KindError(f"{path.name}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise KindError(f"{path}: cannot read it ({exc.strerror or exc})") from exc


def _goto_known(goto: str, flows: Mapping[str, Any]) -> bool:
    flow, _, state = goto.partition(".")
    return flow in flows and state in flows[flow].states


def _check_params(where: str, trigger: Trigger, raw: Mapping[str, Any]) -> dict[str, Any]:
    params = {}
    for name, kind in trigger.params.items():
        value = raw.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise KindError(f"{where}: needs '{name}' ({kind.__name__})")
        if kind is int and value < 0:
            raise KindError(f"{where}: '{name}' must not be negative")
        params[name] = value
    return params


def _check_holidays(where: str, table: Mapping[str, Any]) -> None:
    for year, days in table.items():
        if not (isinstance(days, dict) and days and all(isinstance(d, date) for d in days.values())):
            raise KindError(f"{where}: holidays {year} must map each holiday's name to a date")
        for name, on in days.items():
            if str(on.year) != year:
                raise KindError(f"{where}: holiday '{name}' on {on} is not in {year}")


def _check_special(where: str, params: Mapping[str, Any], flows: Mapping[str, Any]) -> None:
    if "holidays" in params:
        _check_holidays(where, params["holidays"])
    if "benefits" in params and set(params["benefits"]) != set(TIERS):
        raise KindError(f"{where}: 'benefits' needs one text for each tier ({', '.join(TIERS)})")
    if "days" in params and not all(isinstance(d, int) and 1 <= d <= 30 for d in params["days"]):
        raise KindError(f"{where}: 'days' must be days of November (1-30)")
    if "reward" in params and "points" in flows and params["reward"] not in _rewards():
        raise KindError(f"{where}: unknown reward '{params['reward']}' (one of {', '.join(_rewards())})")


def _rewards() -> dict[str, Any]:
    from flows.points import REWARDS

    return REWARDS


def _kind(where: str, raw: Any, flows: Mapping[str, Any]) -> Kind:
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str) or not KIND_NAME.match(raw["kind"]):
        raise KindError(f"{where}: needs a 'kind' name (a-z, 0-9 and -, up to 32)")
    where = f"{where} ('{raw['kind']}')"
    trigger = TRIGGERS.get(raw.get("trigger"))  # type: ignore[arg-type]
    if trigger is None:
        raise KindError(f"{where}: unknown trigger {raw.get('trigger')!r} (one of {', '.join(TRIGGERS)})")
    if raw.get("class") not in CLASSES:
        raise KindError(f"{where}: 'class' must be one of {', '.join(CLASSES)}, got {raw.get('class')!r}")
    template, goto, cron = raw.get("template"), raw.get("goto", ""), raw.get("cron", trigger.cron)
    if not isinstance(template, str) or not template.endswith(OPT_OUT):
        raise KindError(f"{where}: 'template' must be a text ending with '{OPT_OUT}'")
    unknown = sorted(set(FIELD.findall(template)) - set(trigger.fields))
    if unknown:
        raise KindError(f"{where}: template field {{{unknown[0]}}} is not one the trigger gives "
                        f"({', '.join(trigger.fields)})")
    if not isinstance(goto, str) or (goto and not _goto_known(goto, flows)):
        raise KindError(f"{where}: 'goto' must be empty or name a flow state (FLOW.STATE), got {goto!r}")
    if goto and "reply 1" not in template.lower():
        raise KindError(f"{where}: a kind with a 'goto' must say which reply continues it (\"reply 1 to ...\")")
    if not isinstance(cron, str) or not CRON.match(cron):
        raise KindError(f"{where}: 'cron' must have five fields, got {cron!r}")
    params = _check_params(where, trigger, raw)
    _check_special(where, params, flows)
    return Kind(raw["kind"], raw["trigger"], raw["class"], template, goto, cron, params,
                int(raw.get("goto_hours", 48)))


def load_kinds(path: Path, flows: Mapping[str, Any]) -> dict[str, Kind]:
    """Read the kinds file; fail on an unknown trigger, class, field or flow state, or a duplicate kind."""
    data = _read(path)
    entries = data.get("reminder", [])
    if not isinstance(entries, list) or not entries:
        raise KindError(f"{path.name}: no [[reminder]] entries")
    kinds: dict[str, Kind] = {}
    for n, raw in enumerate(entries, 1):
        kind = _kind(f"{path.name}: reminder {n}", raw, flows)
        if kind.name in kinds:
            raise KindError(f"{path.name}: reminder {n} ('{kind.name}'): duplicate kind")
        kinds[kind.name] = kind
    return kinds


def kinds_path(menus_folder: Path) -> Path:
    return menus_folder / FILE


def reminder_entries(kinds: Mapping[str, Kind]) -> list[tuple[str, Any, str, dict[str, Any]]]:
    """What the scheduler runs: (name, job function, cron in the operator's zone, keyword arguments)."""
    from jobs.reminders import run_reminder

    return [(f"reminder:{k.name}", run_reminder, k.cron, {"kind": k.name}) for k in kinds.values()]


def msgids(data: Mapping[str, Any]) -> Iterator[str]:
    """Every text of a kinds file that is shown to subscribers: templates, holiday names, tier benefits."""
    for raw in data.get("reminder", []):
        yield raw["template"]
        for days in raw.get("holidays", {}).values():
            yield from days
        yield from raw.get("benefits", {}).values()


def extract_reminders(fileobj, keywords, comment_tags, options) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor for menus/reminders.toml (babel.cfg)."""
    for text in msgids(tomllib.loads(fileobj.read().decode("utf-8"))):
        yield 0, "", text, []
