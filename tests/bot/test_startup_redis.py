"""`shortcode serve`, `worker` and `scheduler` warn at start when its Redis server may lose what we keep there (evicting keys, or
keeping nothing on disk), and says so when it cannot tell; checked against real redis-servers so configured."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bot.db import upgrade
from bot.settings import load_settings
from bot.startup import check_redis
from tests.hardening.redis_server import RedisServer
from tests.processes import ROOT, SECRETS, Serve, clean_env, eventually

LOSSY = ("--maxmemory-policy", "allkeys-lru", "--appendonly", "no", "--save", "")
SAFE = ("--maxmemory-policy", "noeviction", "--appendonly", "yes", "--save", "")
NO_CONFIG = ("--rename-command", "CONFIG", "", *SAFE)


@pytest.fixture
def server(request, tmp_path):
    redis_server = RedisServer(tmp_path, request.param)
    redis_server.start()
    yield redis_server
    redis_server.stop()


def warnings_for(url: str) -> list[str]:
    return check_redis(load_settings(environ={"SHORTCODE_REDIS_URL": url}))


@pytest.mark.parametrize("server", [LOSSY], indirect=True)
def test_an_evicting_redis_without_persistence_is_warned_about_with_what_could_be_lost(server):
    evicts, forgets = warnings_for(server.url)
    assert "maxmemory-policy allkeys-lru" in evicts and "noeviction" in evicts
    assert "appendonly no" in forgets and "restart" in forgets
    for lost in ("sessions", "locks", "jobs", "once-per-slot marks"):
        assert lost in evicts and lost in forgets


@pytest.mark.parametrize("server", [SAFE], indirect=True)
def test_a_redis_that_keeps_every_write_gets_no_warning(server):
    assert warnings_for(server.url) == []


@pytest.mark.parametrize("server", [("--maxmemory-policy", "noeviction", "--appendonly", "no", "--save", "900 1")],
                         indirect=True)
def test_snapshots_alone_count_as_persistence(server):
    """RDB snapshots lose the last minutes, not everything: only no persistence at all is warned about."""
    assert warnings_for(server.url) == []


@pytest.mark.parametrize("server", [NO_CONFIG], indirect=True)
def test_a_redis_that_refuses_config_is_said_to_be_unchecked(server):
    """Managed Redis often renames or forbids CONFIG: the operator learns the check did not happen."""
    (note,) = warnings_for(server.url)
    assert "could not check" in note and "noeviction" in note


def test_an_unreachable_redis_is_said_to_be_unchecked():
    from tests.conftest import free_port

    (note,) = warnings_for(f"redis://127.0.0.1:{free_port()}/0")
    assert "could not reach Redis" in note


def test_the_embedded_store_is_not_checked():
    assert check_redis(load_settings(environ={})) == []


@pytest.mark.parametrize("server", [LOSSY], indirect=True)
async def test_serve_prints_the_warning_and_starts_all_the_same(server, tmp_path):
    """A warning, not a refusal: the process comes up and the operator reads why it should not stay so."""
    url = f"sqlite:///{tmp_path}/own.db"
    upgrade(url)
    serve = Serve(tmp_path, clean_env(SHORTCODE_REDIS_URL=server.url, SHORTCODE_DATABASE_URL=url, **SECRETS))
    try:
        assert await serve.outcome() == "started", serve.stderr
        assert "warning: Redis evicts keys" in serve.stdout and "warning: Redis keeps nothing on disk" in serve.stdout
    finally:
        serve.stop()


@pytest.mark.parametrize("server", [LOSSY], indirect=True)
@pytest.mark.parametrize("command", [["worker", "--burst"], ["scheduler"]])
async def test_a_worker_and_the_scheduler_print_it_too(server, tmp_path, command):
    url = f"sqlite:///{tmp_path}/own.db"
    upgrade(url)
    out = tmp_path / "out.txt"
    env = clean_env(SHORTCODE_REDIS_URL=server.url, SHORTCODE_DATABASE_URL=url, **SECRETS)
    with open(out, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "bot.tools.cli", *command], env=env, cwd=ROOT, stdout=sink,
                                stderr=subprocess.STDOUT)
    try:
        await eventually(lambda: "warning: Redis keeps nothing on disk" in out.read_text(), timeout=30)
        assert "warning: Redis evicts keys" in out.read_text()
    finally:
        proc.terminate()
        proc.wait(10)
