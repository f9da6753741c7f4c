"""The Prometheus metrics every process records (docs/operations.md, "Metrics"): the web processes' turns and
partner calls, the workers' sends, reports, reminders and campaign rows, the scheduler's slots. Here, in
`jobs/`, because both the runtime and the jobs record them. With `[metrics] dir` set, `bot/telemetry.py`
points prometheus_client at that folder before this module is first imported, and every process's values
land there for any `serve` to read. Labels are small closed sets: never a number, an id or a text."""
from __future__ import annotations

import os
import socket
import time

from prometheus_client import Counter, Gauge, Histogram, values

HOST = socket.gethostname()
_IDS: dict[int, str] = {}


def process_id() -> str:
    """This process's name in the shared folder's file names: the host as well as the pid, because containers
    sharing one metrics volume all run as pid 1, 7, ... (prometheus_client asks on every change: cached)."""
    pid = os.getpid()
    return _IDS.get(pid) or _IDS.setdefault(pid, f"{HOST}-{pid}")


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    values.ValueClass = values.MultiProcessValue(process_identifier=process_id)

# from 5 ms (a hop from memory) to 10 s (the turn deadline)
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

TURNS = Counter("shortcode_turns", "Turns (one input answered) by channel and outcome: continued, ended, busy, "
                "failed, timed_out", ["channel", "outcome"])
TURN_SECONDS = Histogram("shortcode_turn_seconds", "Time to answer one input, lock to reply, by channel",
                         ["channel"], buckets=SECONDS)
PARTNER_SECONDS = Histogram("shortcode_partner_call_seconds", "Calls to a partner system (BOSS, tee sheets, "
                            "hospitals, police) by operation", ["operation"], buckets=SECONDS)
PARTNER_FAILURES = Counter("shortcode_partner_call_failures", "Partner calls that failed (error) or took longer "
                           "than [partners] timeout (timeout)", ["operation", "reason"])
OUTBOX_SUBMITS = Counter("shortcode_outbox_submits", "Outbox rows a sender finished with, by the status it left "
                         "them in: sent (the gateway took it), pending (to be retried), failed, ...",
                         ["channel", "status"])
DELIVERY_REPORTS = Counter("shortcode_delivery_reports", "Delivery reports received, by the gateway's status and "
                           "what was done: applied, ignored (not forward), parked (unknown id)",
                           ["status", "outcome"])
OPT_OUTS = Counter("shortcode_opt_outs", "STOP (opted_out) and START (opted_in) recorded, by channel",
                   ["channel", "change"])
REMINDERS_WRITTEN = Counter("shortcode_reminders_written", "Reminder rows written to the outboxes, by reminder kind "
                            "and channel", ["kind", "channel"])
CAMPAIGN_WRITTEN = Counter("shortcode_campaign_messages_written", "Campaign members' messages written to the "
                           "outboxes by campaign runs, by channel", ["channel"])
SCHEDULE_QUEUED = Gauge("shortcode_schedule_last_queued_timestamp_seconds", "When the scheduler last queued a "
                        "slot of each periodic job (Unix time)", ["job"], multiprocess_mode="max")
SCHEDULE_DONE = Gauge("shortcode_schedule_last_success_timestamp_seconds", "When a worker last finished a slot of "
                      "each periodic job without an error (Unix time)", ["job"], multiprocess_mode="max")
SCHEDULE_FAILURES = Counter("shortcode_schedule_failures", "Periodic job slots that raised, by job", ["job"])

STATUSES = ("sent", "pending", "failed")  # what `count_statuses` counts one by one; the rest as "other"


def now() -> float:
    return time.time()


def count_statuses(channel: str, statuses: list[str]) -> None:
    """One increment per status a batch left its rows in, not one per row."""
    for status in set(statuses):
        OUTBOX_SUBMITS.labels(channel, status if status in STATUSES else "other").inc(statuses.count(status))
