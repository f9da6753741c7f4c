"""The `shortcode` command as a user runs it: a real subprocess each time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def shortcode(*args, tmp_path, check=True, **extra_env):
    env = {**os.environ, "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PYTHONPATH": str(ROOT),
           **extra_env}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=check, timeout=120)


def test_lint_passes_on_the_shipped_menus(tmp_path):
    out = shortcode("lint", tmp_path=tmp_path)
    assert "every screen fits its channel in every locale" in out.stdout


def test_lint_fails_naming_flow_state_locale_and_length(tmp_path):
    out = shortcode("lint", tmp_path=tmp_path, check=False, SHORTCODE_USSD_UCS2_BUDGET="30")
    assert out.returncode == 1
    assert "ussd: flow 'points' state 'balance' locale zh_Hans page 1:" in out.stdout and "units > 30" in out.stdout


@pytest.mark.parametrize("text,expected", [
    ("Hello", {"encoding": "GSM-7", "units": 5, "segments": 1}),
    ("积分" * 40, {"encoding": "UCS-2", "units": 80, "segments": 2}),
    ("{" * 81, {"encoding": "GSM-7", "units": 162, "segments": 2}),
])
def test_count_json(tmp_path, text, expected):
    assert json.loads(shortcode("count", text, "--json", tmp_path=tmp_path).stdout) == expected


def test_count_plain(tmp_path):
    assert shortcode("count", "你好", tmp_path=tmp_path).stdout.strip() == "UCS-2, 2 units, 1 SMS segment(s)"


def test_seed_is_deterministic_and_first_number_is_the_showcase(tmp_path):
    from bot.seed import demo_rows

    out = shortcode("seed", "--demo", "--subscribers", "200", tmp_path=tmp_path)
    assert "seeded 200 demo subscribers" in out.stdout
    assert list(demo_rows(200)) == list(demo_rows(200))
    (first, account), *rest = demo_rows(200)
    assert first[:4] == ("+8613800000001", "张伟", "gold", "zh_Hans") and all(v > 0 for v in account)
    assert rest[-1][0][0] == "+8613800000200"
    again = shortcode("seed", "--demo", "--if-empty", tmp_path=tmp_path)
    assert "already present" in again.stdout


def test_seed_without_reset_leaves_existing_data_alone(tmp_path):
    """Seeding again is refused with a clear message and exit 2; only --reset wipes and reseeds."""
    import sqlite3

    shortcode("seed", "--demo", "--subscribers", "20", tmp_path=tmp_path)
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        conn.execute("UPDATE boss_account SET points = 1 WHERE msisdn = '+8613800000001'")

    def state() -> tuple[int, int]:
        with sqlite3.connect(tmp_path / "cli.db") as conn:
            return (conn.execute("SELECT count(*) FROM subscriber").fetchone()[0],
                    conn.execute("SELECT points FROM boss_account WHERE msisdn = '+8613800000001'").fetchone()[0])

    out = shortcode("seed", "--demo", "--subscribers", "5", tmp_path=tmp_path, check=False)
    assert out.returncode == 2 and "20 subscribers" in out.stderr and "--reset" in out.stderr, out.stderr
    assert state() == (20, 1)
    out = shortcode("seed", "--demo", "--reset", "--subscribers", "5", tmp_path=tmp_path)
    assert "seeded 5 demo subscribers" in out.stdout and state() == (5, 12_800)


def test_sim_script_passes_and_fails_with_a_diff(tmp_path):
    ok = shortcode("sim", "--script", "tests/transcripts/points_en.yaml", tmp_path=tmp_path)
    assert "every expectation held" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text('lang: en\nsteps:\n  - dial: "*126#"\n  - expect: "CON Hello"\n')
    out = shortcode("sim", "--script", str(bad), tmp_path=tmp_path, check=False)
    assert out.returncode == 1 and "+CON Shortcode services" in out.stderr


def test_sim_interactive_session(tmp_path):
    env = {**os.environ, "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "sim"], input="/lang en\n*126#\n2\n/quit\n",
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert "CON Shortcode services" in out.stdout and "Points: 12,800" in out.stdout
    assert "[GSM-7" in out.stdout


def test_every_subcommand_has_help(tmp_path):
    for sub in ("serve", "sim", "seed", "lint", "count", "db", "gateway"):
        assert "usage: shortcode " + sub in shortcode(sub, "--help", tmp_path=tmp_path).stdout


def test_serve_freezes_what_it_loaded_and_collects_young_objects_less_often():
    import gc

    from bot.cli import _tune_gc

    before = gc.get_threshold()
    try:
        _tune_gc(10_000)
        assert gc.get_freeze_count() > 0 and gc.get_threshold() == (10_000, *before[1:])
        gc.unfreeze()
        _tune_gc(0)
        assert gc.get_threshold() == (10_000, *before[1:])  # 0 leaves the threshold alone
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
