"""The database schema against the code's migrations: `serve` refuses a database behind them (the
embedded SQLite default upgrades itself and says so), and /readyz reports it."""
from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import ClientSession

from bot.db import head_revision, upgrade
from integrations.smsgateway.signing import headers
from tests.conftest import free_port
from tests.hardening.test_openapi import assert_declared
from tests.processes import SECRETS, Serve, clean_env, refused, shipped_config

SMS = {"id": "schema-1", "from": "+8613800000001", "to": "12580", "text": "BAL", "date": "2026-11-23",
       "linkId": "l1", "networkCode": "46000"}


async def test_serve_refuses_a_database_that_was_never_migrated(tmp_path, redis_url, sql_url):
    """SQLite and PostgreSQL alike: one line naming the command to run, exit 2, no traceback."""
    env = clean_env(SHORTCODE_REDIS_URL=redis_url, SHORTCODE_DATABASE_URL=sql_url, **SECRETS)
    line = await refused(Serve(tmp_path, env))
    assert f"at nothing, need {head_revision()}" in line and "run `shortcode db upgrade`" in line


async def test_serve_refuses_a_database_one_migration_behind(tmp_path, redis_url):
    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "0007")
    env = clean_env(SHORTCODE_REDIS_URL=redis_url, SHORTCODE_DATABASE_URL=url, **SECRETS)
    line = await refused(Serve(tmp_path, env))
    assert line.endswith(f"database schema is not up to date (at 0007, need {head_revision()}): "
                         "run `shortcode db upgrade`"), line


async def test_embedded_serve_upgrades_a_fresh_database_and_says_so(tmp_path):
    """`make run`'s own SQLite file upgrades itself: health is 200 and an SMS is stored, not a 500."""
    import tomllib

    config = shipped_config(tmp_path, free_port(), free_port())
    serve = Serve(tmp_path, clean_env(), "--config", str(config))
    try:
        assert await serve.outcome() == "started", serve.stderr
        assert f"database schema upgraded to {head_revision()}" in serve.stdout
        secret = tomllib.loads((tmp_path / "var" / "secrets.toml").read_text())["sms"]["secrets"]
        body = urlencode(SMS).encode()
        async with ClientSession() as http:
            async with http.post(serve.base + "/sms/inbound", data=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", **headers(secret, body)}) as r:
                assert r.status == 200, await r.text()
    finally:
        serve.stop()


async def test_ready_is_503_with_the_reason_while_the_schema_is_behind(settings, serve):
    """A load balancer keeps traffic away from a process whose database lacks a migration."""
    upgrade(settings.database_url, "0007")
    base = await serve(settings)
    async with ClientSession() as http:
        async with http.get(base + "/readyz") as r:
            assert r.status == 503
            assert_declared("/readyz", "get", r.status, r.content_type, await r.text())
            behind = f"database schema is not up to date (at 0007, need {head_revision()})"
            assert (await r.json())["reason"] == f"migrations: {behind}"
        upgrade(settings.database_url)
        async with http.get(base + "/readyz") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"


def test_the_tables_the_code_declares_are_the_tables_the_migrations_make(tmp_path):
    """A model changed without its migration (or the other way round) fails here, not on a user's database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    import bot.models  # noqa: F401
    import integrations.boss.tables, integrations.golf.tables, integrations.hospital.tables  # noqa: F401, E401
    import integrations.police.tables, jobs.tables  # noqa: F401, E401

    url = f"sqlite:///{tmp_path}/schema.db"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    engine.dispose()
