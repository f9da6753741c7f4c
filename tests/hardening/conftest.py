"""Hardening fixtures: a slow link to a redis-server of the test's own (`own_redis`, tests/conftest.py)."""
from __future__ import annotations

import pytest

from tests.hardening.redis_server import SlowProxy



@pytest.fixture
async def slow_link(own_redis):
    proxy = SlowProxy(own_redis.port, delay=3.0)
    await proxy.start()
    yield proxy
    await proxy.close()
