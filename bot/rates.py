"""How many messages a subscriber sent in the current minute, counted in Redis: the text channels' flood
limit. A message is counted by its id, so one processed twice counts once."""
from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis

from bot.pipelined import Pipelined
from bot.redisconn import tagged


# KEYS: the subscriber's set for the minute. ARGV: the message id, the set's TTL in seconds. Returns its size.
_PLACE = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('SCARD', KEYS[1])
"""


class MinuteCounter:
    """Counts per subscriber and minute under `namespace` (a channel's own, so two inboxes' ids never mix)."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace
        self._pipelined = Pipelined(redis)  # the counts of concurrent messages share a round trip
        self._place = redis.register_script(_PLACE)  # one command, not three, in that round trip

    async def place(self, msisdn: str, message_id: int, now: datetime) -> int:
        """How many messages `msisdn` sent in `now`'s minute, this one included (one round trip, shared)."""
        key = f"{self.namespace}{tagged(msisdn)}:{int(now.timestamp() // 60)}"
        return int(await self._pipelined.script(self._place, [key], [message_id, 120]))
