"""Job functions and worker entry points for the bulk benchmark.

- `bare_batch(ids)`: the baseline, a bare batched RQ job that renders the same reminder for each id and
  hands the texts off in one RPUSH: what RQ and Redis cost with no outbox at all.
- `python bench/bulk_jobs.py worker QUEUE DB_URL REDIS_URL {stage|gateway URL}`: an RQ SimpleWorker in
  burst mode whose outbox sender submits to a client that accepts at once (`stage`: claim, compliance,
  render and hand-off, without the gateway) or to the simulated gateway (`gateway`)."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TEMPLATE = "Your bill of {amount} is due on {day}. Reply BILL for details, STOP to opt out. Ref {ref}"


def render(ref: int) -> str:
    return TEMPLATE.format(amount="¥128.00", day="30 Nov", ref=ref)


def bare_batch(ids: list[int]) -> int:
    from rq import get_current_job

    from integrations.gsm import count

    texts = []
    for ref in ids:
        text = render(ref)
        count(text)  # the segment count a sender needs, as the outbox job's gateway does
        texts.append(text)
    get_current_job().connection.rpush("bench:handoff", *texts)
    return len(texts)


class AcceptingClient:
    """Hands messages to nowhere and answers as the gateway would: isolates the job stage."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def send_many(self, messages, sender=""):
        from integrations.gsm import count
        from integrations.smsgateway.client import Submitted

        out = []
        for number, text, _ref in messages:
            count(text)
            out.append(Submitted(number, 101, f"bench_{next(self.ids)}"))
        return out


def worker(queue: str, db_url: str, redis_url: str, mode: str, gateway_url: str = "") -> None:
    import redis
    from rq import Queue, SimpleWorker

    from bench.common import SECRETS
    from integrations.smsgateway.client import GatewayClient
    from integrations.sqltx import make_engine
    from jobs import outbox, process

    client = AcceptingClient() if mode == "stage" else GatewayClient(gateway_url, "shortcode", SECRETS["SHORTCODE_SMS_API_KEY"])
    process.use(sender=outbox.Sender(make_engine(db_url), client, sender_id="12580"))
    connection = redis.Redis.from_url(redis_url)
    SimpleWorker([Queue(queue, connection=connection)], connection=connection).work(burst=True, logging_level="ERROR")


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        worker(*sys.argv[2:])
