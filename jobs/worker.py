"""Workers: an RQ worker in a thread of the web process (embedded mode) or on its own, both outliving a
Redis outage. RQ ends its work loop on most Redis errors; ours backs off, logs once per outage, and starts
it again when Redis answers."""
from __future__ import annotations

import threading
import time
from typing import Callable

import redis
import structlog
from rq import Queue, SimpleWorker
from rq.exceptions import DequeueTimeout, StopRequested
from rq.scheduler import RQScheduler
from rq.worker import WorkerStatus
from rq.timeouts import TimerDeathPenalty

log = structlog.get_logger()

FIRST_DELAY_S, MAX_DELAY_S = 0.1, 5.0  # back-off between tries while Redis is away
UNHEALTHY_AFTER_S = 5.0  # failing this long, the in-process worker makes /readyz answer 503


class LoopEnded(Exception):
    """RQ ended its work loop on an error it logged itself (one outside the wait for a job)."""


class Outage:
    """A run of failures: logged when it starts and when it ends (not once per try), with a bounded
    exponential back-off between tries. Only type names are logged: no URL, no password."""

    def __init__(self, worker: str, clock: Callable[[], float] = time.monotonic, role: str = "worker") -> None:
        self.worker = worker
        self.role = role  # names the events: worker_redis_unavailable, scheduler_redis_unavailable...
        self.clock = clock
        self.since: float | None = None
        self.error = ""
        self._delay = FIRST_DELAY_S

    def failed(self, exc: Exception) -> float:
        """Note a failure; returns the seconds to wait before the next try."""
        if self.since is not None:
            self._delay = min(self._delay * 2, MAX_DELAY_S)
            return self._delay
        self.since, self.error, self._delay = self.clock(), type(exc).__name__, FIRST_DELAY_S
        outage = isinstance(exc, redis.RedisError)
        event = f"{self.role}_redis_unavailable" if outage else f"{self.role}_failing"
        log.warning(event, **{self.role: self.worker}, error=self.error,
                    exc_info=not isinstance(exc, (redis.RedisError, LoopEnded)))
        return self._delay

    def recovered(self) -> None:
        if self.since is not None:
            after_s = round(self.clock() - self.since, 1)
            log.info(f"{self.role}_recovered", **{self.role: self.worker}, after_s=after_s)
            self.since = None

    def failing_for(self) -> float:
        since = self.since
        return 0.0 if since is None else self.clock() - since


class QuietScheduler(RQScheduler):
    """RQ's scheduler of deferred jobs (`enqueue_at`, `enqueue_in`), a process the worker forks. Redis
    lost, it ends without a traceback: its worker logs the outage once and starts a new one when Redis is
    back (each `work()` does, and RQ's maintenance restarts one that died)."""

    def work(self) -> None:
        try:
            super().work()
        except redis.RedisError:
            pass


class OwnerRetries(SimpleWorker):
    """A worker whose run ends at the first Redis error, leaving the retry to its owner. RQ's own
    `dequeue_job_and_maintain_ttl` retries a lost connection itself, sleeping up to a minute between tries
    and logging each one, where neither health nor a stop can see it."""

    lost: redis.RedisError | None = None

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        self.set_state(WorkerStatus.IDLE)
        while True:
            try:
                self.heartbeat()
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()
                return self.queue_class.dequeue_any(self._ordered_queues, timeout, connection=self.connection,
                                                    job_class=self.job_class, serializer=self.serializer,
                                                    death_penalty_class=self.death_penalty_class)
            except DequeueTimeout:  # the blocking wait ran out with nothing queued: wait again
                continue
            except redis.RedisError as exc:  # ends the run: RQ's loop stops on None
                self.lost = exc
                return None

    def _start_scheduler(self, burst: bool = False, logging_level: str | None = "INFO", *args, **kwargs) -> None:
        """RQ's own, with `QuietScheduler`: in burst mode due deferred jobs are queued here, else a
        process of its own keeps queueing them (one per queue, by a lock in Redis)."""
        self.scheduler = QuietScheduler(self.queues, connection=self.connection, logging_level=logging_level or "INFO",
                                        serializer=self.serializer)
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if not burst:
            self.scheduler.start()
            return
        try:
            self.scheduler.register_birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()
            self.scheduler.register_death()

    def teardown(self) -> None:
        """Unregistering fails while Redis is away: the pubsub thread must stop all the same, or each outage
        would leave one behind, retrying and logging every 2 s for ever."""
        try:
            super().teardown()
        finally:
            if getattr(self, "pubsub_thread", None) is not None:
                self.pubsub_thread.stop()


class ThreadWorker(OwnerRetries):
    """One burst in the owner's thread. Signals belong to the main thread and the owner stops this
    worker: no signal handlers, and no pubsub thread for RQ's remote commands (one per burst otherwise)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


class InprocessWorker:
    """Drains the queue in burst mode in a background thread until stopped, through Redis outages.

    Needed in embedded mode, where the store lives in this process and no other worker can reach it.
    """

    def __init__(self, connection: redis.Redis, queue: str, poll_s: float = 0.2,
                 unhealthy_after_s: float = UNHEALTHY_AFTER_S) -> None:
        self.queue = Queue(queue, connection=connection)
        self.poll_s = poll_s
        self.unhealthy_after_s = unhealthy_after_s
        self.outage = Outage("inprocess")
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

    def alive(self) -> bool:
        """The thread runs (liveness: a stopped one needs the process restarted)."""
        return self._thread.is_alive()

    def trouble(self) -> str | None:
        """Why this worker cannot work now (health answers 503 with it), or None."""
        if not self._thread.is_alive():
            return "the in-process worker has stopped"
        failing = self.outage.failing_for()
        if failing >= self.unhealthy_after_s:
            return f"the in-process worker has been failing for {failing:.0f} s ({self.outage.error})"
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._drain()
            except Exception as exc:  # Redis away, a registration refused: back off, never die
                self._stop.wait(self.outage.failed(exc))
                continue
            self.outage.recovered()
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _drain(self) -> None:
        """A burst when jobs wait, or deferred ones (`enqueue_at`/`enqueue_in`) are due: RQ's scheduler,
        run in the burst, moves those to the queue first (in this thread: no fork, the store is here)."""
        deferred = bool(self.queue.scheduled_job_registry.get_jobs_to_schedule(chunk_size=1))
        if self.queue.count or deferred:
            worker = ThreadWorker([self.queue], connection=self.queue.connection)
            # RQ's scheduler only when something is due: the burst of an SMS reply stays as short as it was
            worker.work(burst=True, logging_level="WARNING", with_scheduler=deferred)
            if worker.lost is not None:
                raise worker.lost


class StandaloneWorker(OwnerRetries):
    """`shortcode worker`. A stop signal is remembered, so the loop around `work()` can tell a stop from
    a failure."""

    stopped = False

    def request_stop(self, signum, frame) -> None:
        self.stopped = True
        super().request_stop(signum, frame)


def work_through_outages(connection: redis.Redis, queue: str, burst: bool = False) -> None:
    """RQ's work loop until a stop signal (or, in burst mode, an empty queue), started again after
    whatever else ended it."""
    outage = Outage("standalone")
    q = Queue(queue, connection=connection)
    try:
        while not _work_once(q, burst, outage):
            pass
    except StopRequested:  # a stop signal while backing off
        pass


def _work_once(queue: Queue, burst: bool, outage: Outage) -> bool:
    """One run of RQ's loop; True when the worker is done (stopped, or a burst emptied the queue)."""
    try:
        queue.connection.ping()
        outage.recovered()
        worker = StandaloneWorker([queue], connection=queue.connection)
        # with RQ's scheduler (a process of its own, one per queue across workers by a lock in Redis): jobs
        # deferred with `enqueue_at`/`enqueue_in` are queued when due
        worker.work(burst=burst, logging_level="WARNING", with_scheduler=True)
        if worker.lost is not None:
            raise worker.lost
        if worker.stopped or (burst and not queue.count):
            return True
        raise LoopEnded()
    except StopRequested:
        raise
    except Exception as exc:
        time.sleep(outage.failed(exc))
        return False
