"""Shared fixtures: a real redis-server on a free port, a seeded SQLite database, the app over loopback."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis

from bot.db import make_engine, upgrade
from bot.seed import seed_demo
from bot.settings import load_settings
from bot.wiring import build_core

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """A real redis-server for the whole run (SHORTCODE_TEST_REDIS_URL to use one already running)."""
    if os.environ.get("SHORTCODE_TEST_REDIS_URL"):
        yield os.environ["SHORTCODE_TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if not binary:
        pytest.exit("redis-server is not installed: run `make test`, which installs it", returncode=1)
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.02)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def settings(tmp_path, redis_url):
    env = {
        "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp_path}/test.db",
        "SHORTCODE_REDIS_URL": redis_url,
        "SHORTCODE_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}:",
        "SHORTCODE_USSD_SECRET": "test-secret",
        "SHORTCODE_JOBS_INPROCESS_WORKER": "false",
    }
    return load_settings(ROOT / "config.toml", environ=env)


@pytest.fixture
def core(settings):
    return build_core(settings)


@pytest.fixture
def db(settings):
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    seed_demo(engine, 50)
    yield engine
    engine.dispose()
