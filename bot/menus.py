"""Load menus/*.toml into the main-menu flow and service codes, validating every reference."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from bot.compliance import WORDS, compact
from bot.engine.engine import MENU_FLOW
from bot.engine.flow import TIERS, Choice, Flow, Menu, View
from bot.engine.flowcheck import FlowError, check_flows
from bot.engine.text import T


class MenuError(ValueError):
    """A menu file is wrong; the message names the file, the entry and the reason."""


@dataclass(frozen=True)
class MenuItem:
    label: str
    goto: str  # "flow:NAME" or another menu's id
    min_tier: str = "regular"


@dataclass(frozen=True)
class MenuTree:
    codes: tuple[str, ...]
    root: str
    titles: Mapping[str, str]
    items: Mapping[str, tuple[MenuItem, ...]]
    keywords: Mapping[str, str] = field(default_factory=dict)  # compact SMS keyword -> goto

    def keyword(self, text: str) -> str | None:
        """Where an SMS text that is a keyword leads (case-, width- and space-insensitive)."""
        return self.keywords.get(compact(text))

    def flow(self) -> Flow:
        """The menu tree as a flow of menu states, items filtered by the subscriber's tier."""
        states = {mid: _menu_state(self.titles[mid], items) for mid, items in self.items.items()}
        return Flow(MENU_FLOW, self.root, states)


def _menu_state(title: str, items: tuple[MenuItem, ...]) -> Menu:
    def choices(view: View) -> list[Choice]:
        return [Choice(T(i.label), i.goto) for i in items if view.profile.at_least(i.min_tier)]

    return Menu(title=lambda view: T(title), choices=choices, exits=tuple(i.goto for i in items))


def _item(where: str, raw: Any, flows: Mapping[str, Flow]) -> MenuItem:
    if not isinstance(raw, dict) or not isinstance(raw.get("label"), str):
        raise MenuError(f"{where}: needs a text 'label'")
    label = raw["label"]
    where = f"{where} ('{label}')"
    if ("flow" in raw) == ("menu" in raw):
        raise MenuError(f"{where}: needs exactly one of 'flow' or 'menu'")
    if "flow" in raw and raw["flow"] not in flows:
        raise MenuError(f"{where}: unknown flow '{raw['flow']}'")
    tier = raw.get("min_tier", "regular")
    if tier not in TIERS:
        raise MenuError(f"{where}: unknown tier '{tier}' (one of {', '.join(TIERS)})")
    goto = f"flow:{raw['flow']}" if "flow" in raw else raw["menu"]
    return MenuItem(label, goto, tier)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MenuError(f"{path.name}: not valid TOML: {exc}") from exc


def _goto_known(goto: str, flows: Mapping[str, Flow], titles: Mapping[str, str]) -> bool:
    if goto.startswith("flow:"):
        return goto[5:] in flows
    if "." in goto:
        flow, state = goto.split(".", 1)
        return flow in flows and state in flows[flow].states
    return goto in titles


def _keywords(entries: list[tuple[str, int, Any]], flows: Mapping[str, Flow],
              titles: Mapping[str, str]) -> dict[str, str]:
    """[[keyword]] tables: `words` (any language) and `goto` (a flow, a flow's state or a menu id)."""
    found: dict[str, str] = {}
    where_of: dict[str, str] = {}
    for file, n, raw in entries:
        where = f"{file}: keyword {n}"
        words, goto = raw.get("words") if isinstance(raw, dict) else None, raw.get("goto") if isinstance(raw, dict) else None
        if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
            raise MenuError(f"{where}: needs a non-empty list of text 'words'")
        if not isinstance(goto, str) or not _goto_known(goto, flows, titles):
            raise MenuError(f"{where}: 'goto' must name a flow (flow:NAME), a state (FLOW.STATE) or a menu, "
                            f"got {goto!r}")
        for word in words:
            key = compact(word)
            if not key or key.isdigit():
                raise MenuError(f"{where}: keyword {word!r} is empty or a number (numbers are menu replies)")
            if key in WORDS:
                raise MenuError(f"{where}: keyword {word!r} is a compliance word ({WORDS[key].upper()})")
            if key in found:
                raise MenuError(f"{where}: keyword {word!r} is already used by {where_of[key]}")
            found[key], where_of[key] = goto, where
    return found


def load_menus(folder: Path, flows: Mapping[str, Flow]) -> MenuTree:
    """Read every menus/*.toml; fail on a duplicate code or menu, a dangling or unreachable menu."""
    codes: dict[str, str] = {}
    titles: dict[str, str] = {}
    items: dict[str, tuple[MenuItem, ...]] = {}
    source: dict[str, str] = {}
    roots: list[tuple[str, str]] = []
    keyword_entries: list[tuple[str, int, Any]] = []
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise MenuError(f"{folder}: no menu files (*.toml)")
    for path in files:
        data = _read(path)
        service = data.get("service", {})
        for code in service.get("codes", []):
            if code in codes:
                raise MenuError(f"{path.name}: service code {code} is already used in {codes[code]}")
            codes[code] = path.name
        keyword_entries += [(path.name, n, raw) for n, raw in enumerate(data.get("keyword", []), 1)]
        if "root" in service:
            roots.append((service["root"], path.name))
        for mid, menu in data.get("menu", {}).items():
            where = f"{path.name}: menu '{mid}'"
            if mid in titles:
                raise MenuError(f"{where}: duplicate menu id (also in {source[mid]})")
            if not isinstance(menu.get("title"), str):
                raise MenuError(f"{where}: needs a text 'title'")
            titles[mid], source[mid] = menu["title"], path.name
            items[mid] = tuple(_item(f"{where} item {n}", raw, flows)
                               for n, raw in enumerate(menu.get("items", []), 1))
            if not items[mid]:
                raise MenuError(f"{where}: has no items")
    if len(roots) != 1:
        raise MenuError(f"{folder}: exactly one file must set [service] root (found {len(roots)})")
    root, root_file = roots[0]
    if root not in titles:
        raise MenuError(f"{root_file}: root menu '{root}' is not defined")
    if not codes:
        raise MenuError(f"{folder}: no USSD service code in any [service] codes")
    for mid, entries in items.items():
        for n, item in enumerate(entries, 1):
            if not item.goto.startswith("flow:") and item.goto not in titles:
                raise MenuError(f"{source[mid]}: menu '{mid}' item {n} ('{item.label}'): "
                                f"unknown menu '{item.goto}'")
    keywords = _keywords(keyword_entries, flows, titles)
    tree = MenuTree(tuple(codes), root, titles, items, keywords)
    try:
        check_flows({**flows, MENU_FLOW: tree.flow()})
    except FlowError as exc:
        where = source.get(exc.state, folder.name) if exc.flow == MENU_FLOW else f"flows/{exc.flow}.py"
        raise MenuError(f"{where}: {exc}") from exc
    return tree
