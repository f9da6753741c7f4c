"""The in-process worker runs queued jobs on the embedded store and stops when asked."""
from __future__ import annotations

import time

import fakeredis
from rq import Queue

from jobs.worker import InprocessWorker


def test_inprocess_worker_runs_a_job_on_the_embedded_store():
    server = fakeredis.FakeServer()
    conn = fakeredis.FakeRedis(server=server)
    worker = InprocessWorker(conn, "test", poll_s=0.02)
    worker.start()
    try:
        job = Queue("test", connection=conn).enqueue("operator.add", 2, 3)
        deadline = time.monotonic() + 10
        while job.get_status(refresh=True) != "finished" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert job.return_value() == 5
    finally:
        worker.stop()
    assert not worker._thread.is_alive()
