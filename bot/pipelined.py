"""Redis commands of concurrent turns sent together: what callers ask for at the same moment goes in one
pipeline, one round trip. Each caller still gets its own answers (or its own error), so the semantics of
every command are unchanged; a burst of SMS replies pays redis-py's per-call overhead (a pooled connection,
a write, a read, the retry wrapper: ~100 µs of CPU) once per batch instead of once per command."""
from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError, NoScriptError

from bot.groupcommit import answer

ATTEMPTS = 3  # redis-py's own default for a command on a dropped connection
Command = tuple  # ("SADD", key, member): the command's name and arguments as redis-py's execute_command takes them


class Pipelined:
    """`await pipelined(command, ...)`: the commands' results, sent with those of other callers.

    One pipeline is on the wire at a time; callers arriving meanwhile form the next one."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._waiting: list[tuple[list[Command], asyncio.Future]] = []
        self._sender: asyncio.Task | None = None

    async def __call__(self, *commands: Command) -> list[Any]:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((list(commands), future))
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_all())
        return await future

    async def script(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """A registered Lua script by its SHA; loaded (by redis-py) the first time Redis does not know it."""
        try:
            [result] = await self(("EVALSHA", script.sha, len(keys), *keys, *args))
        except NoScriptError:
            return await script(keys=keys, args=args)
        return result

    async def _send_all(self) -> None:
        try:
            await asyncio.sleep(0)  # let the callers of this moment join
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._send(batch)
        finally:
            self._sender = None

    async def _send(self, batch: list[tuple[list[Command], asyncio.Future]]) -> None:
        try:
            results = await self._execute(batch)
        except BaseException as exc:  # the connection failed (or the sender was cancelled): everyone's error
            for _, future in batch:
                answer(future, error=exc if isinstance(exc, Exception) else ConnectionError("cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        at = 0
        for commands, future in batch:
            mine, at = results[at:at + len(commands)], at + len(commands)
            error = next((r for r in mine if isinstance(r, Exception)), None)
            answer(future, mine, error)

    async def _execute(self, batch: list[tuple[list[Command], asyncio.Future]]) -> list[Any]:
        """The pipeline's answers; tried again on pooled connections Redis dropped (a restart), as redis-py
        retries a single command: such a connection fails before the commands reach Redis."""
        for attempt in range(ATTEMPTS):
            pipe = self.redis.pipeline(transaction=False)
            for commands, _ in batch:
                for command in commands:
                    pipe.execute_command(*command)
            try:
                return await pipe.execute(raise_on_error=False)
            except ConnectionError:
                if attempt == ATTEMPTS - 1:
                    raise
                await self.redis.connection_pool.disconnect(inuse_connections=False)  # the other idle ones too
        raise AssertionError("unreachable")
