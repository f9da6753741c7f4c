"""Redis servers of a test's own: a real redis-server killed and restarted by PID, and a slow TCP link to it."""
from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.conftest import free_port


class RedisServer:
    """A redis-server on a fixed free port, SIGKILLed and started again (empty) by PID."""

    def __init__(self, workdir: Path, config: tuple[str, ...] = ("--save", "", "--appendonly", "no")) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.config = config  # redis-server options besides the port, address and folder
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *self.config, "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server on port {self.port} did not answer in {timeout} s")
            time.sleep(0.02)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no save, no goodbye to the clients."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)


# -- a slow link to Redis ------------------------------------------------------------------------
class SlowProxy:
    """TCP proxy to a Redis server; while `slow`, each chunk going to Redis is held `delay` seconds
    (then delivered, as a slow network delivers it). `slow_from` switches slowness on when a chunk
    holding those bytes goes by."""

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self.slow = False
        self.slow_from: bytes | None = None
        self.held = 0  # chunks held right now
        self.delayed = 0  # chunks held so far
        self.tasks: set[asyncio.Task] = set()
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            redis_r, redis_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        for pump in (self._pump(client_r, redis_w, to_redis=True), self._pump(redis_r, client_w, to_redis=False)):
            task = asyncio.create_task(pump)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, to_redis: bool) -> None:
        try:
            while data := await reader.read(65536):
                if to_redis:
                    if self.slow_from is not None and self.slow_from in data:
                        self.slow = True
                    if self.slow:
                        self.delayed += 1
                        self.held += 1
                        try:
                            await asyncio.sleep(self.delay)
                        finally:
                            self.held -= 1
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
