"""Menus as data: the shipped tree loads; every kind of mistake names the file, entry and reason."""
from __future__ import annotations

import pytest

from bot.engine.engine import Context, Engine
from bot.engine.flow import Flow, Profile, Show
from bot.menus import MenuError, load_menus
from bot.engine.text import T
from flows import FLOWS

ROOT_FILE = """
[service]
codes = ["*126#"]
root = "main"
[menu.main]
title = "Main"
items = [{ label = "Account", flow = "account" }, { label = "VIP", menu = "vip", min_tier = "gold" }]
[menu.vip]
title = "VIP"
items = [{ label = "Points", flow = "points" }]
"""


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text, "utf-8")
    return tmp_path


def test_shipped_menus_load(core):
    assert "*126#" in core.menus.codes and core.menus.root == "main"


@pytest.mark.parametrize("broken,message", [
    (ROOT_FILE.replace('flow = "account"', 'flow = "nope"'), "main.toml: menu 'main' item 1 ('Account'): unknown flow 'nope'"),
    (ROOT_FILE.replace('menu = "vip"', 'menu = "gone"'), "main.toml: menu 'main' item 2 ('VIP'): unknown menu 'gone'"),
    (ROOT_FILE.replace('min_tier = "gold"', 'min_tier = "platinum"'), "unknown tier 'platinum'"),
    (ROOT_FILE.replace(', { label = "VIP", menu = "vip", min_tier = "gold" }', ''), "state 'vip': unreachable"),
    (ROOT_FILE.replace('root = "main"', 'root = "top"'), "root menu 'top' is not defined"),
    (ROOT_FILE.replace('{ label = "Points", flow = "points" }', ''), "menu 'vip': has no items"),
    (ROOT_FILE + "\n[oops", "main.toml: not valid TOML"),
])
def test_broken_menu_fails_with_file_entry_and_reason(tmp_path, broken, message):
    with pytest.raises(MenuError) as err:
        load_menus(write(tmp_path, "main.toml", broken), FLOWS)
    assert message in str(err.value)


def test_duplicate_service_code_is_refused(tmp_path):
    write(tmp_path, "main.toml", ROOT_FILE)
    write(tmp_path, "other.toml", '[service]\ncodes = ["*126#"]\n')
    with pytest.raises(MenuError, match=r"other.toml: service code \*126# is already used in main.toml"):
        load_menus(tmp_path, FLOWS)


def test_duplicate_menu_id_is_refused(tmp_path):
    write(tmp_path, "main.toml", ROOT_FILE)
    write(tmp_path, "other.toml", '[menu.vip]\ntitle = "x"\nitems = [{ label = "y", flow = "points" }]\n')
    with pytest.raises(MenuError, match="other.toml: menu 'vip': duplicate menu id"):
        load_menus(tmp_path, FLOWS)


def test_dangling_state_in_a_flow_is_refused(tmp_path):
    broken = Flow("account", "home", {"home": Show(lambda v: T("x"), exits=("nowhere",))})
    with pytest.raises(MenuError, match="flow 'account', state 'home': goes to unknown state 'nowhere'"):
        load_menus(write(tmp_path, "main.toml", ROOT_FILE), {**FLOWS, "account": broken})


@pytest.mark.parametrize("tier,visible", [("regular", 1), ("silver", 1), ("gold", 2), ("diamond", 2)])
def test_entries_are_shown_by_tier(tmp_path, core, tier, visible):
    tree = load_menus(write(tmp_path, "main.toml", ROOT_FILE), FLOWS)
    engine = Engine({**FLOWS, "menu": tree.flow()}, tree.root)
    profile = Profile("+8613800000002", "x", tier, "en", "Asia/Shanghai")
    from datetime import datetime, timezone
    turn = engine.begin(None, profile.msisdn, "r", datetime.now(timezone.utc), Context(profile, core.renderers["ussd"]))
    assert len(turn.screen.options) == visible
