"""The `shortcode` command as a user runs it: a real subprocess each time."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def shortcode(*args, tmp_path, check=True, stdin: str | None = None, **extra_env):
    env = {**os.environ, "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PYTHONPATH": str(ROOT),
           **extra_env}
    return subprocess.run([sys.executable, "-m", "bot.tools.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=check, timeout=120, input=stdin)


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
    from bot.tools.seed import demo_rows

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
    assert ok.stdout == "ok    tests/transcripts/points_en.yaml: every expectation held\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text('lang: en\nsteps:\n  - dial: "*126#"\n  - expect: "CON Hello"\n')
    out = shortcode("sim", "--script", str(bad), tmp_path=tmp_path, check=False)
    assert out.returncode == 1 and "+CON Shortcode services" in out.stderr
    assert out.stdout == f"FAIL  {bad}: step 2 does not match\n"


def test_sim_scripts_pass_again_and_in_any_order_without_touching_the_development_database(tmp_path):
    """Each transcript runs on a scratch database and clock: twice, all at once and in reverse, all pass."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "transcripts").glob("*.yaml"))
    for order in (files, files[::-1]):
        out = shortcode("sim", "--script", *order, tmp_path=tmp_path, check=False)
        lines = out.stdout.splitlines()
        assert out.returncode == 0, out.stdout + out.stderr
        assert lines[:-1] == [f"ok    {f}: every expectation held" for f in order]
        assert lines[-1] == f"{len(files)} of {len(files)} transcripts passed"
    assert not (tmp_path / "cli.db").exists()  # the development database was never opened


def test_sim_script_expands_a_quoted_pattern_and_counts_a_missing_file_as_failed(tmp_path):
    out = shortcode("sim", "--script", "tests/transcripts/points_*.yaml", "nope.yaml", tmp_path=tmp_path,
                    check=False)
    assert out.returncode == 1 and out.stdout.splitlines() == [
        "ok    tests/transcripts/points_en.yaml: every expectation held",
        "ok    tests/transcripts/points_zh.yaml: every expectation held",
        "ERROR nope.yaml: [Errno 2] No such file or directory: 'nope.yaml'",
        "2 of 3 transcripts passed"]


def sim(tmp_path, typed: str, *args, **env):
    """The interactive sim fed `typed` on standard input."""
    full = {**os.environ, "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "bot.tools.cli", "sim", *args], input=typed, capture_output=True,
                          text=True, env=full, cwd=ROOT, timeout=120)


def test_sim_interactive_session(tmp_path):
    out = sim(tmp_path, "/lang en\n*126#\n2\n/quit\n")
    assert "CON Shortcode services" in out.stdout and "Points: 12,800" in out.stdout
    assert "[GSM-7" in out.stdout and out.returncode == 0


def test_sim_lang_changes_the_next_dial_even_one_that_offers_to_resume(tmp_path):
    """`/lang en` in the middle of a Chinese session: the next dial asks "continue?" in English."""
    out = sim(tmp_path, "*126#\n1\n/lang en\n*126#\n1\n")
    assert "language of +8613800000001 set to en: the next screen is in it" in out.stdout
    assert "CON Welcome back. Continue where you left off?" in out.stdout
    assert out.stdout.rstrip().split("CON ")[-1].startswith("My account")  # the session went on, in English


def test_sim_takes_a_number_as_the_webhook_does_with_or_without_the_country_code(tmp_path):
    """`--as 13800000005` and `/as 13800000005` are the same subscriber; `12345` is refused by both."""
    out = sim(tmp_path, "/lang en\n*126#\n/as 12345\n/as 13800000005\n", "--as", "13800000005")
    assert "+8613800000005 > " in out.stdout and "CON Shortcode services" in out.stdout
    assert "only for" not in out.stdout  # not "this service is only for subscribers"
    assert "not a valid phone number for region CN" in out.stdout
    assert "now dialling as +8613800000005" in out.stdout
    refused = sim(tmp_path, "", "--as", "12345")
    assert refused.returncode == 2 and refused.stderr == "--as 12345: not a valid phone number for region CN\n"


def test_sim_refuses_a_service_code_the_webhook_refuses(tmp_path):
    out = sim(tmp_path, "*999#\n")
    assert "unknown serviceCode '*999#': the USSD webhook refuses it; dial *126#" in out.stdout
    assert "CON" not in out.stdout


def test_sim_shows_the_booking_sms_the_handset_receives(tmp_path):
    """The confirming screen also arrives as an SMS from 12580, with its encoding and segments."""
    out = sim(tmp_path, "*126#\n3\n1\n1\n3\n1\n1\n1\n1\n", "--as", "+8613800000011")
    screen, sms = out.stdout.split("SMS from 12580\n")
    code = screen.split("Code ")[-1].split(".")[0]
    assert sms.startswith(f"Booked ") and f"Code {code}." in sms and "[SMS GSM-7" in sms and "1 segment(s)]" in sms


def test_sim_ctrl_c_and_end_of_input_end_quietly(tmp_path):
    env = {**os.environ, "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PYTHONPATH": str(ROOT)}
    # A shell runs background jobs with SIGINT ignored, and Python keeps an ignored SIGINT ignored: give
    # the sim what a terminal gives it, whatever ran this suite.
    proc = subprocess.Popen([sys.executable, "-m", "bot.tools.cli", "sim"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().startswith("Type a code")  # the phone is ready and reads the keyboard
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err
    ended = sim(tmp_path, "*126#\n")
    assert ended.returncode == 0 and "Traceback" not in ended.stderr


def test_sim_sms_without_a_gateway_says_how_to_start_one(tmp_path):
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    out = sim(tmp_path, "GOLF\n", "--sms", SHORTCODE_SMS_GATEWAY_URL=url)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (f"the SMS gateway at {url} ([sms] gateway_url) is not answering: start it with "
                          "`shortcode gateway` (and `shortcode serve`) in other terminals\n")


def test_serve_on_a_busy_port_names_the_setting_that_moves_it(tmp_path):
    import socket

    own = {"SHORTCODE_USSD_SECRET": "busy-1", "SHORTCODE_SMS_SECRETS": "busy-2", "SHORTCODE_SMS_API_KEY": "busy-3"}
    shortcode("db", "upgrade", tmp_path=tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = shortcode("serve", "--port", str(port), tmp_path=tmp_path, check=False, **own)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = out.stderr.splitlines()
    assert str(port) in line and "[http] port" in line and "SHORTCODE_HTTP_PORT" in line and "--port" in line


def test_a_missing_config_file_is_one_line_before_or_after_the_command(tmp_path):
    for args in (("--config", "nope.toml", "lint"), ("lint", "--config", "nope.toml")):
        out = shortcode(*args, tmp_path=tmp_path, check=False)
        assert (out.returncode, out.stderr) == (2, "shortcode: config file not found: nope.toml\n")


def test_config_after_the_command_is_the_one_used(tmp_path):
    config = tmp_path / "tight.toml"
    config.write_text(f'[ussd]\nucs2_budget = 30\n[paths]\nmenus = "{ROOT / "menus"}"\nlocale = "{ROOT / "locale"}"\n')
    for args in (("lint", "--config", str(config)), ("--config", str(config), "lint")):
        out = shortcode(*args, tmp_path=tmp_path, check=False)
        assert out.returncode == 1 and "units > 30" in out.stdout


def test_every_subcommand_has_help(tmp_path):
    for sub in ("serve", "sim", "seed", "lint", "count", "db", "gateway", "worker", "telegram-api"):
        out = shortcode(sub, "--help", tmp_path=tmp_path).stdout
        assert "usage: shortcode " + sub in out and "--config" in out
    assert "(default: +8613800000001)" in shortcode("sim", "--help", tmp_path=tmp_path).stdout
    assert "SHORTCODE_HTTP_PORT" in shortcode("serve", "--help", tmp_path=tmp_path).stdout


def test_every_option_of_every_command_says_what_it_does():
    """No bare `--host HOST` in a --help: each option carries a help text, and each command a description."""
    import argparse

    from bot.tools.cli import parser

    def commands(p):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield name, sub
                    yield from commands(sub)

    for name, command in commands(parser()):
        assert command.description, name
        for action in command._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{name} {action.option_strings or action.dest}"


def test_serve_freezes_what_it_loaded_and_collects_young_objects_less_often():
    import gc

    from bot.tools.cli import _tune_gc

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


def test_sim_telegram_script_replays_transcripts_on_telegram_and_fails_with_a_diff(tmp_path):
    ok = shortcode("sim", "--telegram", "--script", "tests/transcripts/golf_zh.yaml",
                   "tests/transcripts/points_en.yaml", tmp_path=tmp_path)
    assert "ok    tests/transcripts/golf_zh.yaml: every expectation held" in ok.stdout
    assert "2 of 2 transcripts passed" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text('lang: en\nsteps:\n  - dial: "*126#"\n  - send: "2"\n  - expect_contains: "Points: 99"\n')
    out = shortcode("sim", "--telegram", "--script", str(bad), "-v", tmp_path=tmp_path, check=False)
    assert out.returncode == 1 and f"FAIL  {bad}: step 3 does not match" in out.stdout
    assert "> [press 2. My points]" in out.stdout  # -v: every press and message
    assert "-... Points: 99 ..." in out.stderr and "+Points: 12,800" in out.stderr


def test_sim_telegram_chat_presses_buttons_by_number_and_links_with_as(tmp_path):
    """The chat starts linked to --as; numbers press buttons shown as [n]; /as shares another contact."""
    out = sim(tmp_path, "2\n0\n/as 13800000011\n/unlink\nhello\n/quit\n", "--telegram", "--as", "13800000172")
    assert out.returncode == 0, out.stderr
    assert "[1] My account  [2] My points  [3] Golf" in out.stdout
    assert "Points: 55,670" in out.stdout and "[0] Back  [00] Home" in out.stdout
    assert "telegram +8613800000011 > " in out.stdout and "telegram (not linked) > " in out.stdout
    # the request for a number, in [service] language
    assert "分享您的手机号" in out.stdout and "[share my phone number: /as NUMBER]" in out.stdout


def test_sim_telegram_presses_a_button_that_is_no_menu_option_by_its_place(tmp_path):
    """/notify's two buttons carry no menu input: they are shown [1] and [2] and pressed by those numbers."""
    out = sim(tmp_path, "/notify\n1\n", "--telegram", "--as", "13800000011")
    assert out.returncode == 0, out.stderr
    assert "[1] Here in Telegram  [2] ✓ By SMS" in out.stdout
    assert "will come to this chat" in out.stdout


def test_sim_telegram_leaves_nothing_for_a_worker_to_send(tmp_path):
    """What the chat showed is marked sent in the configured database: `shortcode serve` never posts it to a
    chat that does not exist."""
    import sqlite3

    assert sim(tmp_path, "2\n", "--telegram").returncode == 0
    with sqlite3.connect(tmp_path / "cli.db") as db:
        statuses = [r[0] for r in db.execute("SELECT status FROM telegram_outbox")]
    assert statuses and set(statuses) == {"sent"}


def test_boss_roam_and_balance_reach_the_feed_and_the_crossings(tmp_path):
    """A tester's injections land where the reminders read them: the roaming feed, a low-balance crossing."""
    from bot.db import make_engine
    from integrations.boss.simulated import SimulatedBoss

    shortcode("seed", "--demo", "--subscribers", "5", tmp_path=tmp_path)
    out = shortcode("boss", "roam", "13800000002", "jp", tmp_path=tmp_path)
    assert out.stdout.strip() == "roaming event 1: +86138****0002 registered in JP; tariff ¥25.00 a day for 1,024 MB"
    assert "no roaming tariff" in shortcode("boss", "roam", "+8613800000003", "IS", tmp_path=tmp_path).stdout
    out = shortcode("boss", "balance", "13800000002", "8.5", tmp_path=tmp_path)
    assert out.stdout.strip() == "+86138****0002: prepaid balance set to ¥8.50"
    engine = make_engine(f"sqlite:///{tmp_path}/cli.db")
    boss = SimulatedBoss(engine)
    assert [(e.msisdn, e.country) for e in boss.roaming_events(0, 10)] == [("+8613800000002", "JP"),
                                                                          ("+8613800000003", "IS")]
    assert [(low.msisdn, low.balance_fen) for low in boss.low_balances(1_000) if low.msisdn == "+8613800000002"] == [
        ("+8613800000002", 850)]
    engine.dispose()


@pytest.mark.parametrize("args,reason", [
    (("roam", "13899999999", "JP"), "+86138****9999 has no account in the simulated BOSS"),
    (("roam", "12345", "JP"), "12345: not a valid phone number for region CN"),
    (("roam", "13800000001", "XX"), "not a country abroad (ISO 3166 alpha-2, e.g. JP): 'XX'"),
    (("roam", "13800000001", "CN"), "not a country abroad"),
    (("roam", "13800000001", "Japan"), "not a country abroad"),
    (("balance", "13800000001", "-3"), "a balance cannot be negative: -3"),
    (("balance", "13800000001", "abc"), "not an amount in yuan: 'abc'"),
    (("balance", "13800000001", "nan"), "not an amount in yuan: 'nan'"),
    (("balance", "13800000001", "1.234"), "two decimals"),
    (("balance", "13899999999", "5"), "has no account"),
])
def test_boss_refuses_bad_input_in_one_line_with_exit_2(tmp_path, args, reason):
    shortcode("seed", "--demo", "--subscribers", "3", tmp_path=tmp_path)
    out = shortcode("boss", *args, tmp_path=tmp_path, check=False)
    assert out.returncode == 2 and out.stdout == "" and reason in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(f"shortcode boss {args[0]}: ")


def test_boss_on_a_database_never_migrated_says_what_to_run(tmp_path):
    out = shortcode("boss", "balance", "13800000001", "5", tmp_path=tmp_path, check=False)
    assert out.returncode == 2 and "run `shortcode db upgrade`" in out.stderr and out.stderr.count("\n") == 1


def test_a_reader_that_goes_away_is_no_traceback(tmp_path):
    """`shortcode ... | head`: the pipe closes before the output is written; one exit code, no traceback."""
    read, write = os.pipe()
    os.close(read)
    env = {**os.environ, "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "bot.tools.cli", "count", "GOLF", "--json"], stdout=write,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, timeout=60)
    os.close(write)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
