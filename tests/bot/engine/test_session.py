"""The session value: compact, and it survives serialisation unchanged."""
from __future__ import annotations

from bot.engine.session import Session, dumps, loads


def test_round_trip_keeps_every_field():
    s = Session("+8613800000001", "ref", "account", "bill", "en", 1700000000.5, {"a": 1, "b": "x", "c": None},
                (("menu", "main"), ("account", "home")), page=2, errors=1, error="Invalid choice, try again.",
                hops=3, version=7, ended=True, resume=True)
    assert loads(dumps(s)) == s


def test_defaults_are_left_out():
    s = Session("+8613800000001", "ref", "menu", "main", "zh_Hans", 1.0)
    assert dumps(s) == '{"m":"+8613800000001","r":"ref","f":"menu","s":"main","l":"zh_Hans","u":1.0}'
