"""How many messages a subscriber sent in the current minute, counted in Redis: the text channels' flood
limit. A message is counted by its id, so one processed twice counts once."""
from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis


class MinuteCounter:
    """Counts per subscriber and minute under `namespace` (a channel's own, so two inboxes' ids never mix)."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace

    async def place(self, msisdn: str, message_id: int, now: datetime) -> int:
        """How many messages `msisdn` sent in `now`'s minute, this one included (one round trip)."""
        key = f"{self.namespace}{msisdn}:{int(now.timestamp() // 60)}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(key, message_id).expire(key, 120).scard(key)
            *_, place = await pipe.execute()
        return int(place)
