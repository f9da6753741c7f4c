"""How many messages a subscriber sent in the current minute, counted in Redis: the text channels' flood
limit. A message is counted by its id, so one processed twice counts once."""
from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis

from bot.pipelined import Pipelined


class MinuteCounter:
    """Counts per subscriber and minute under `namespace` (a channel's own, so two inboxes' ids never mix)."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace
        self._pipelined = Pipelined(redis)  # the counts of concurrent messages share a round trip

    async def place(self, msisdn: str, message_id: int, now: datetime) -> int:
        """How many messages `msisdn` sent in `now`'s minute, this one included (one round trip, shared)."""
        key = f"{self.namespace}{msisdn}:{int(now.timestamp() // 60)}"
        *_, place = await self._pipelined(("SADD", key, message_id), ("EXPIRE", key, 120), ("SCARD", key))
        return int(place)
