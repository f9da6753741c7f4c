"""Pre-flight checks of `shortcode serve`: what must hold before a process takes traffic. A failed check
raises `Refused` with one line for the operator; the embedded demo mends what it can itself (secrets of
its own, its SQLite schema) and says so."""
from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from typing import Callable

import redis
from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError

from bot import db
from bot.settings import LOCAL_SECRETS, Settings, unset


class Refused(Exception):
    """Why `serve` will not start, in one line naming the setting or the command that mends it."""


def loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can reach the service."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def embedded(settings: Settings) -> bool:
    """Embedded mode: in-process Redis and an SQLite database, one process on one machine."""
    return settings.redis.url == "embedded" and settings.database_url.startswith("sqlite")


def demo(settings: Settings, host: str) -> bool:
    """The embedded demo on loopback: the one place where generated secrets are enough."""
    return embedded(settings) and loopback(host)


def preflight(settings: Settings, host: str, reload: Callable[[], Settings]) -> tuple[Settings, list[str]]:
    """Check (and for the demo, prepare) everything before serving; returns the settings to serve with
    and notes to print. `reload` reads the settings again once the demo has generated its secrets."""
    settings, notes = with_demo_secrets(settings, host, reload)
    check_secrets(settings, host)
    return settings, notes + check_schema(settings) + check_redis(settings)


def with_demo_secrets(settings: Settings, host: str, reload: Callable[[], Settings]) -> tuple[Settings, list[str]]:
    """The demo with a secret unset runs on this install's generated secrets, made on first use (by
    `serve` or `shortcode gateway`, whichever starts first, so both sign and check with the same)."""
    if not demo(settings, host) or not any(unset(_value(settings, s, k)) for s, k in settings.secret_keys):
        return settings, []
    made = generate_local_secrets(settings)
    return reload(), [f"generated secrets for this install in {settings.path(LOCAL_SECRETS)}"] if made else []


def check_secrets(settings: Settings, host: str) -> None:
    """Outside the demo, a secret anyone can read in the repository (or none) opens the service to all."""
    if demo(settings, host):
        return
    bad = [(s, k) for s, k in settings.secret_keys if unset(_value(settings, s, k))]
    if bad:
        where = (f"on {host} (not a loopback address)" if not loopback(host)
                 else "outside embedded mode (a Redis server, or a database other than SQLite)")
        names = ", ".join(f"[{s}] {k}" for s, k in bad)
        env = ", ".join(f"SHORTCODE_{s}_{k}".upper() for s, k in bad)
        raise Refused(f"refusing to serve {where}: {names} empty or a shipped demo value; "
                      f"set your own with {env}")


def check_schema(settings: Settings) -> list[str]:
    """A database behind the migrations fails every request: refuse, or upgrade the embedded SQLite."""
    url = settings.database_url
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            behind = db.schema_behind(conn)
    except SQLAlchemyError as exc:
        raise Refused(f"cannot read the database schema version ({type(exc).__name__}): is the database up? "
                      "[database] url, SHORTCODE_DATABASE_URL") from None
    finally:
        engine.dispose()
    if not behind:
        return []
    if not embedded(settings):
        raise Refused(f"{behind}: run `shortcode db upgrade`")
    try:
        db.upgrade(url)
    except CommandError as exc:
        raise Refused(f"{behind}: {exc}") from None
    return [f"database schema upgraded to {db.head_revision()} (embedded SQLite)"]


# What a Redis server that drops keys takes with it; the warning names it so the operator can weigh it.
REDIS_HOLDS = ("sessions mid-dialogue, per-subscriber locks (a second turn could run beside the first), queued "
               "and deferred jobs, the scheduler's once-per-slot marks (a periodic job could run twice), console "
               "sign-ins and rate limits")


def check_redis(settings: Settings) -> list[str]:
    """Warn, never refuse, when the Redis server may drop what we keep in it: it evicts keys when full, or it
    keeps nothing on disk. Managed Redis often forbids CONFIG: then say it could not be checked."""
    if settings.redis.url == "embedded":
        return []
    client = redis.Redis.from_url(settings.redis.url, socket_connect_timeout=3, socket_timeout=3)
    try:
        config = {k: v for name in ("maxmemory-policy", "appendonly", "save") for k, v in client.config_get(name).items()}
    except redis.ResponseError:  # CONFIG renamed away or refused by an ACL
        return [f"warning: could not check whether Redis evicts keys or keeps them on disk (CONFIG GET is not "
                f"allowed here): make sure maxmemory-policy is noeviction and persistence is on, or Redis may "
                f"lose {REDIS_HOLDS}"]
    except redis.RedisError as exc:
        return [f"warning: could not reach Redis to check its eviction and persistence ({type(exc).__name__})"]
    finally:
        client.close()
    return redis_risks(config)


def redis_risks(config: dict[str, str]) -> list[str]:
    """The warnings for a Redis configuration as CONFIG GET gives it."""
    notes = []
    policy = config.get("maxmemory-policy", "")
    if policy != "noeviction":
        notes.append(f"warning: Redis evicts keys when full (maxmemory-policy {policy}): it may silently drop "
                     f"{REDIS_HOLDS}; set maxmemory-policy noeviction")
    if config.get("appendonly") == "no" and not config.get("save"):
        notes.append(f'warning: Redis keeps nothing on disk (appendonly no, save ""): a restart loses {REDIS_HOLDS}; '
                     "set appendonly yes")
    return notes


def generate_local_secrets(settings: Settings) -> bool:
    """Write random secrets for this install to var/secrets.toml (owner-only), unless it exists: the
    loader fills in every secret config.toml leaves unset from it. True when this call wrote it."""
    path = settings.path(LOCAL_SECRETS)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# Generated by shortcode for this install's embedded demo. Never commit or share it.\n"
                f'[ussd]\nsecret = "{secrets.token_urlsafe(32)}"\n'
                f'[sms]\nsecrets = "{secrets.token_urlsafe(32)}"\napi_key = "{secrets.token_urlsafe(32)}"\n'
                f'[telegram]\nsecret_token = "{secrets.token_urlsafe(32)}"\n'
                f'[erase]\nsuppression_key = "{secrets.token_urlsafe(32)}"\n')
    try:
        os.link(draft, path)  # atomic, and never over a file another process (the gateway) just wrote
        return True
    except FileExistsError:
        return False
    finally:
        draft.unlink()


def generated_key(settings: Settings) -> str | None:
    """The USSD key, when it is one this install generated (safe to print for the demo's curl)."""
    path = settings.path(LOCAL_SECRETS)
    if not path.exists():
        return None
    key = tomllib.loads(path.read_text("utf-8")).get("ussd", {}).get("secret")
    return key if key and key == settings.ussd.secret else None


def _value(settings: Settings, section: str, key: str) -> str:
    return getattr(getattr(settings, section), key)
