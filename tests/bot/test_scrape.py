"""The /metrics door and the logs' console format."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bot.scrape import private, refusal
from tests.processes import ROOT, clean_env


@pytest.mark.parametrize("remote, ok", [("127.0.0.1", True), ("::1", True), ("10.2.3.4", True), ("192.168.1.9", True),
                                        ("::ffff:172.16.0.5", True), ("8.8.8.8", False), ("2001:4860::8888", False),
                                        (None, False), ("not-an-address", False)])
def test_only_loopback_and_private_peers_scrape_without_a_token(remote, ok):
    assert private(remote) is ok
    refused = refusal(remote, {}, "")
    assert (refused is None) is ok
    if not ok:
        assert refused.status == 403 and "[metrics] token" in refused.text


def test_with_a_token_only_the_token_counts_wherever_the_peer_is():
    assert refusal("127.0.0.1", {}, "t0ken").status == 401
    assert refusal("127.0.0.1", {"Authorization": "Bearer wrong"}, "t0ken").status == 401
    assert refusal("8.8.8.8", {"Authorization": "Bearer t0ken", "X-Forwarded-For": "8.8.4.4"}, "t0ken") is None


def _serve(fmt: str) -> subprocess.CompletedProcess:
    """`serve` refused at its first check (no secrets off loopback): what it logged before, in `fmt`."""
    env = clean_env(SHORTCODE_LOG_FORMAT=fmt, SHORTCODE_LOG_LEVEL="info", SHORTCODE_METRICS_DIR="")
    return subprocess.run([sys.executable, "-m", "bot.tools.cli", "serve", "--host", "0.0.0.0"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_log_format_other_than_json_or_console_stops_startup_with_one_line():
    run = _serve("pretty")
    assert run.returncode == 2 and run.stderr.strip().count("\n") == 0, run.stderr
    assert "[log] format" in run.stderr and "'json' or 'console'" in run.stderr


def test_console_format_writes_readable_lines_and_json_stays_the_default():
    code = ("import sys; from bot.logs import configure; import structlog; configure('info', fmt=sys.argv[1]); "
            "structlog.get_logger().info('metrics_ready', msisdn='+8613800000001')")
    lines = {fmt: subprocess.run([sys.executable, "-c", code, fmt], env=clean_env(), cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout for fmt in ("json", "console")}
    assert lines["json"].startswith("{") and '"event": "metrics_ready"' in lines["json"]
    assert not lines["console"].startswith("{") and "[info     ] metrics_ready" in lines["console"]
    assert "msisdn=+86138****0001" in lines["console"] and "8613800000001" not in lines["console"]
