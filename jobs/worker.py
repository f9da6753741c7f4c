"""Workers: an RQ worker in a thread of the web process (embedded mode) or on its own."""
from __future__ import annotations

import threading

import redis
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty


class ThreadWorker(SimpleWorker):
    """Signals belong to the main thread: job timeouts use a timer and the owner stops this worker."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


class InprocessWorker:
    """Drains the queue in burst mode in a background thread until stopped.

    Needed in embedded mode, where the store lives in this process and no other worker can reach it.
    """

    def __init__(self, connection: redis.Redis, queue: str, poll_s: float = 0.2) -> None:
        self.queue = Queue(queue, connection=connection)
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rq-inprocess", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def wake(self) -> None:
        """A job was just queued: look now rather than at the next poll (an SMS reply waits on it)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.queue.count:
                ThreadWorker([self.queue], connection=self.queue.connection).work(burst=True,
                                                                                  logging_level="WARNING")
            self._wake.wait(self.poll_s)
            self._wake.clear()
