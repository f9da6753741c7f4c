"""GET /metrics: the counters of every process on this host (the shared folder, `bot/telemetry.py`) plus what
is read at scrape time (outbox rows, the RQ queue, campaigns), behind a door operators expect: a bearer
token when `[metrics] token` is set, else loopback and private-network peers that came through no proxy."""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Any, Iterator, Mapping

import structlog
from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.telemetry import multiprocess
from jobs.campaign_tables import Campaign
from jobs.tables import Outbox, TelegramOutbox

log = structlog.get_logger()
SCRAPE = web.AppKey("scrape", CollectorRegistry)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROXIED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")  # a proxy relayed it: the peer address says nothing
OUTBOXES = {"sms": Outbox.__table__, "telegram": TelegramOutbox.__table__}
C = Campaign.__table__


class Snapshot:
    """The gauges read from the database and Redis at each scrape: a GROUP BY per table and an LLEN. A source
    that fails is reported by `shortcode_scrape_source_up` 0; the rest of the scrape still answers."""

    def __init__(self, engine: Engine, redis: Any, queue: str) -> None:
        self.engine, self.redis, self.queue = engine, redis, queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("shortcode_scrape_source_up", "Whether a source read at scrape time answered",
                               labels=["source"])
        for source, read in (("database", self._database), ("redis", self._redis)):
            try:
                yield from read()
                up.add_metric([source], 1)
            except Exception as exc:
                log.warning("metrics_source_failed", source=source, error=type(exc).__name__)
                up.add_metric([source], 0)
        yield up

    def _database(self) -> list[GaugeMetricFamily]:
        rows = GaugeMetricFamily("shortcode_outbox_rows", "Outbox rows by channel, kind and status",
                                 labels=["channel", "kind", "status"])
        campaigns = GaugeMetricFamily("shortcode_campaigns", "Campaigns by state", labels=["state"])
        members = GaugeMetricFamily("shortcode_campaign_members", "Members to message (audience less control) of "
                                    "the campaigns in each state", labels=["state"])
        written = GaugeMetricFamily("shortcode_campaign_written", "Messages written so far by the campaigns in "
                                    "each state (members / written: a run's progress)", labels=["state"])
        with self.engine.connect() as conn:
            for channel, table in OUTBOXES.items():
                for kind, status, n in conn.execute(select(table.c.kind, table.c.status, func.count())
                                                    .group_by(table.c.kind, table.c.status)):
                    rows.add_metric([channel, kind, status], n)
            for state, n, audience, control, done in conn.execute(select(
                    C.c.state, func.count(), func.sum(C.c.audience), func.sum(C.c.control), func.sum(C.c.written))
                    .group_by(C.c.state)):
                campaigns.add_metric([state], n)
                members.add_metric([state], (audience or 0) - (control or 0))
                written.add_metric([state], done or 0)
        return [rows, campaigns, members, written]

    def _redis(self) -> list[GaugeMetricFamily]:
        depth = GaugeMetricFamily("shortcode_queue_jobs", "Jobs waiting in the RQ queue", labels=["queue"])
        depth.add_metric([self.queue], self.redis.llen(f"rq:queue:{self.queue}"))
        return [depth]


class _ThisProcess:
    """Without a shared folder: this process's own metrics, from prometheus_client's global registry."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def registry(engine: Engine, redis: Any, queue: str) -> CollectorRegistry:
    """What one app's /metrics answers with: every process's files (or this process alone) and the snapshot."""
    found = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(found)
    else:
        found.register(_ThisProcess())
    found.register(Snapshot(engine, redis, queue))
    return found


def refusal(remote: str | None, headers: Mapping[str, str], token: str) -> web.Response | None:
    """Why this request may not read the metrics, or None. With a token, only the token counts."""
    if token:
        given = headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, f"Bearer {token}".encode()):
            return None
        return web.Response(status=401, text="unauthorised: /metrics wants Authorization: Bearer <[metrics] token>",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    if any(name in headers for name in PROXIED):
        return web.Response(status=403, text="forbidden: /metrics came through a proxy; set [metrics] token to "
                                             "scrape from outside")
    if not private(remote):
        return web.Response(status=403, text="forbidden: /metrics answers loopback and private addresses only "
                                             "unless [metrics] token is set")
    return None


def private(remote: str | None) -> bool:
    """Loopback or a private network (an IPv4 address mapped into IPv6 counts as itself)."""
    try:
        ip = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_loopback or ip.is_private


def handler(token: str):
    """The /metrics handler for `[metrics] token`; the reading runs off the event loop (SQL and Redis)."""
    async def metrics(request: web.Request) -> web.Response:
        if (refused := refusal(request.remote, request.headers, token)) is not None:
            return refused
        body = await asyncio.to_thread(generate_latest, request.app[SCRAPE])
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return metrics
