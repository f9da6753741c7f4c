"""/healthz says the process is alive and reads nothing; /readyz says what is missing before traffic may come:
Redis, the database, a migration (the last in tests/bot/test_schema.py). Real servers over loopback."""
from __future__ import annotations

from aiohttp import ClientSession

from bot.db import upgrade
from tests.conftest import free_port


async def answer(base: str, path: str) -> tuple[int, dict]:
    async with ClientSession() as http:
        async with http.get(base + path) as r:
            return r.status, await r.json()


async def test_ready_fails_naming_redis_when_redis_is_stopped_and_alive_stays_ok(own_redis, serve, settings_with,
                                                                                  db):
    base = await serve(settings_with(redis_url=own_redis.url))
    assert await answer(base, "/readyz") == (200, {"status": "ok"})
    own_redis.kill()
    status, body = await answer(base, "/readyz")
    assert status == 503 and body["status"] == "unavailable"
    assert body["reason"].startswith("redis: no answer to PING"), body
    assert "database" not in body["reason"] and "migrations" not in body["reason"]
    assert await answer(base, "/healthz") == (200, {"status": "ok"})


async def test_ready_fails_naming_the_database_when_it_is_unreachable(pg_url, serve, settings_with):
    """At head on a real PostgreSQL: ready; the same app pointed at a port where no database listens: not."""
    upgrade(pg_url)
    assert await answer(await serve(settings_with(database_url=pg_url)), "/readyz") == (200, {"status": "ok"})
    gone = pg_url.replace(pg_url.split("@")[1].split("/")[0], f"127.0.0.1:{free_port()}")
    base = await serve(settings_with(database_url=gone))
    status, body = await answer(base, "/readyz")
    assert status == 503 and body["reason"].startswith("database: no answer ("), body
    assert "redis" not in body["reason"]
    assert await answer(base, "/healthz") == (200, {"status": "ok"})
