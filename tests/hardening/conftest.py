"""Hardening fixtures: a redis-server of the test's own, and a slow link to it."""
from __future__ import annotations

import shutil

import pytest

from tests.hardening.redis_server import RedisServer, SlowProxy


@pytest.fixture
def own_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed")
    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()



@pytest.fixture
async def slow_link(own_redis):
    proxy = SlowProxy(own_redis.port, delay=3.0)
    await proxy.start()
    yield proxy
    await proxy.close()
