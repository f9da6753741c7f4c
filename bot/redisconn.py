"""Redis clients: a real server for a redis:// URL, or an in-process store for "embedded"."""
from __future__ import annotations

from dataclasses import dataclass

import redis
import redis.asyncio as aredis


def tagged(msisdn: str) -> str:
    """A subscriber's number as Redis Cluster's hash tag: Redis hashes only what is inside the braces, so
    every key of one subscriber (sessions and locks on every channel, flood counters) is on one slot and a
    script over two of them stays legal in a cluster. `sc:s:{+8613800000001}`."""
    return "{" + msisdn + "}"


@dataclass
class RedisPair:
    """An asyncio client for the web side and a sync one for RQ, seeing the same data."""

    aio: aredis.Redis
    sync: redis.Redis
    embedded: bool

    async def close(self) -> None:
        await self.aio.aclose()
        self.sync.close()


def connect(url: str, max_connections: int = 640) -> RedisPair:
    if url == "embedded":
        import fakeredis

        server = fakeredis.FakeServer()
        return RedisPair(fakeredis.FakeAsyncRedis(server=server), fakeredis.FakeRedis(server=server), True)
    # A plain pool: admission is bounded before Redis ([http] max_in_flight, background SMS turns), so
    # the pool is sized above it and never waited on (a blocking pool's wait costs ~20 % of a hop).
    pool = aredis.ConnectionPool.from_url(url, max_connections=max_connections)
    return RedisPair(aredis.Redis(connection_pool=pool), redis.Redis.from_url(url), False)
