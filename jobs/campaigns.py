"""A campaign's lifecycle: draft -> previewed -> approved -> scheduled/running -> paused -> cancelled/done.
Every move is one transaction: the campaign's row locked, its state checked, the change and its audit row
written together, so two agents racing to move it get one move and one clear refusal. Nothing here sends:
`launch` marks it running and the caller queues `jobs.campaign_run.queue_run(queue)(id, at)`."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from pydantic import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from integrations.sqltx import utc, write
from jobs import campaign_counts
from jobs.audit import Actor, record
from jobs.campaign_audience import choose
from jobs.campaign_spec import CampaignSpec
from jobs.campaign_tables import Campaign
from jobs.campaign_text import kind_problem, samples

C = Campaign.__table__
STATES = ("draft", "previewed", "approved", "scheduled", "running", "paused", "cancelled", "done")
LIVE = ("scheduled", "running")  # the run writes messages in these states only
CONTROL_SHARE = 0.1  # [campaigns] control_share's default; `serve` and the CLI pass the configured one
MOMENTS = ("created_at", "updated_at", "previewed_at", "approved_at", "launched_at", "start_at", "paused_at",
           "cancelled_at", "finished_at")


class CampaignError(Exception):
    """A refused request: `status` as HTTP says it (404 unknown, 409 wrong state or approver, 422 invalid),
    `reason` one sentence an agent can act on, `code` a short word for programs."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


def parse_spec(data: CampaignSpec | dict[str, Any]) -> CampaignSpec:
    """A spec from a request's JSON (or one already parsed), or a 422 naming the first problem."""
    try:
        spec = data if isinstance(data, CampaignSpec) else CampaignSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CampaignError(422, "invalid", f"{where}: {first['msg']}" if where else first["msg"]) from None
    problem = kind_problem(spec.kind) if spec.kind else None
    if problem:
        raise CampaignError(422, "invalid", f"kind: {problem}")
    return spec


def target(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def spec_of(row: Any) -> CampaignSpec:
    """The spec of a campaign row (a Row or the dict `move` returns)."""
    return CampaignSpec.model_validate_json(row["spec"] if isinstance(row, dict) else row.spec)


# -- moves ------------------------------------------------------------------------------------------------

def _locked(conn: Connection, campaign_id: int) -> Any:
    """The campaign's row, locked until the transaction ends (PostgreSQL; SQLite's write lock is the file's)."""
    row = conn.execute(select(C).where(C.c.id == campaign_id).with_for_update()).first()
    if row is None:
        raise CampaignError(404, "not_found", f"there is no campaign {campaign_id}")
    return row


def _expect(row: Any, action: str, states: Iterable[str]) -> None:
    states = tuple(states)
    if row.state not in states:
        raise CampaignError(409, "wrong_state", f"campaign {row.id} is {row.state}; {action} needs it "
                                                f"{' or '.join(states)}")


Change = Callable[[Connection, Any], dict[str, Any]]


def move(engine: Engine, campaign_id: int, actor: Actor, now: datetime, action: str, states: Iterable[str],
         change: Change) -> dict[str, Any]:
    """One move: lock, check the state, `change(conn, row)` -> the columns to set (and its side effects),
    audit. Returns the new row as a dict."""
    def work(conn: Connection) -> dict[str, Any]:
        row = _locked(conn, campaign_id)
        _expect(row, action, states)
        values = change(conn, row)
        conn.execute(update(C).where(C.c.id == campaign_id).values(**values, updated_at=utc(now)))
        record(conn, actor, f"campaign.{action}", target(campaign_id), now, state=values.get("state", row.state),
               **{k: v for k, v in values.items() if k in ("audience", "control", "suppressed")})
        return {**row._mapping, **values}

    return write(engine, work)


def create(engine: Engine, spec: CampaignSpec | dict[str, Any], actor: Actor, now: datetime) -> dict[str, Any]:
    """A new campaign in "draft"; its status."""
    spec = parse_spec(spec)

    def work(conn: Connection) -> int:
        new = conn.execute(insert(C).values(
            name=spec.name, spec=spec.model_dump_json(), state="draft", created_by=actor.name,
            created_at=utc(now), updated_at=utc(now), week="", audience=0, control=0, suppressed=0, written=0, not_due=0,
            cursor="").returning(C.c.id)).scalar_one()
        record(conn, actor, "campaign.create", target(new), now, name=spec.name, state="draft")
        return new

    return status(engine, write(engine, work))


def preview(engine: Engine, campaign_id: int, actor: Actor, now: datetime, catalogs: Any, services: Any,
            control_share: float = CONTROL_SHARE) -> dict[str, Any]:
    """Choose the audience (fixed now: the approver approves these people) and render a sample per language.
    Again from "previewed" chooses afresh. `services` is the partners; the audience reads only our tables."""
    def change(conn: Connection, row: Any) -> dict[str, Any]:
        chosen = choose(conn, campaign_id, spec_of(row).audience, control_share, now)
        return {"state": "previewed", "previewed_at": utc(now), "week": chosen.week, "audience": chosen.audience,
                "control": chosen.control, "suppressed": chosen.suppressed}

    row = move(engine, campaign_id, actor, now, "preview", ("draft", "previewed"), change)
    return {"id": campaign_id, "state": row["state"], "audience": row["audience"], "control": row["control"],
            "suppressed": row["suppressed"], "samples": samples(spec_of(row), catalogs)}


def approve(engine: Engine, campaign_id: int, actor: Actor, now: datetime, second_approval_above: int
            ) -> dict[str, Any]:
    """Approve what the preview chose. An audience above `second_approval_above` needs a second person: a
    supervisor or admin who is not the campaign's creator."""
    def change(conn: Connection, row: Any) -> dict[str, Any]:
        if row.audience > second_approval_above:
            if actor.name == row.created_by:
                raise CampaignError(409, "second_approval", f"campaign {campaign_id} reaches {row.audience} "
                                    f"people (above {second_approval_above}): someone other than its creator "
                                    "must approve it")
            if not actor.at_least("supervisor"):
                raise CampaignError(409, "second_approval", f"campaign {campaign_id} reaches {row.audience} "
                                    f"people (above {second_approval_above}): a supervisor or admin must approve it")
        return {"state": "approved", "approved_by": actor.name, "approved_at": utc(now)}

    move(engine, campaign_id, actor, now, "approve", ("previewed",), change)
    return status(engine, campaign_id)


def _start(row: Any, now: datetime) -> datetime:
    start = spec_of(row).start_at
    return start if start is not None and start > now else now


def launch(engine: Engine, campaign_id: int, actor: Actor, now: datetime) -> dict[str, Any]:
    """Running now, or scheduled for the spec's start_at. The caller queues the run (`queue_run`)."""
    def change(conn: Connection, row: Any) -> dict[str, Any]:
        start = _start(row, now)
        return {"state": "scheduled" if start > now else "running", "launched_by": actor.name,
                "launched_at": utc(now), "start_at": utc(start)}

    move(engine, campaign_id, actor, now, "launch", ("approved",), change)
    return status(engine, campaign_id)


def pause(engine: Engine, campaign_id: int, actor: Actor, now: datetime) -> dict[str, Any]:
    """Stop writing, and hold the messages written but not yet taken by a sender ("held")."""
    def change(conn: Connection, row: Any) -> dict[str, Any]:
        campaign_counts.set_status(conn, campaign_id, "pending", "held", now)
        return {"state": "paused", "paused_at": utc(now)}

    move(engine, campaign_id, actor, now, "pause", LIVE, change)
    return status(engine, campaign_id)


def resume(engine: Engine, campaign_id: int, actor: Actor, now: datetime) -> dict[str, Any]:
    """Writing goes on from where it stopped, and held messages are due again (the outbox re-scan and the
    campaign re-scan pick both up; a caller may also queue the run at once)."""
    def change(conn: Connection, row: Any) -> dict[str, Any]:
        campaign_counts.set_status(conn, campaign_id, "held", "pending", now)
        start = row.start_at if row.start_at is not None else now
        return {"state": "scheduled" if aware(start) > now else "running"}

    move(engine, campaign_id, actor, now, "resume", ("paused",), change)
    return status(engine, campaign_id)


def cancel(engine: Engine, campaign_id: int, actor: Actor, now: datetime) -> dict[str, Any]:
    """No more messages: nothing more is written, and what is written but not yet taken by a sender is
    cancelled (a reply "1" to it takes nothing: bot/channels/reminder_replies.py)."""
    def change(conn: Connection, row: Any) -> dict[str, Any]:
        for old in ("pending", "held"):
            campaign_counts.set_status(conn, campaign_id, old, "cancelled", now)
        return {"state": "cancelled", "cancelled_at": utc(now)}

    move(engine, campaign_id, actor, now, "cancel", [s for s in STATES if s not in ("cancelled", "done")], change)
    return status(engine, campaign_id)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC times; PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# -- reading ----------------------------------------------------------------------------------------------

def _row(engine: Engine, campaign_id: int) -> Any:
    with engine.connect() as conn:
        row = conn.execute(select(C).where(C.c.id == campaign_id)).first()
    if row is None:
        raise CampaignError(404, "not_found", f"there is no campaign {campaign_id}")
    return row


def spec(engine: Engine, campaign_id: int) -> CampaignSpec:
    """The campaign's spec as it was created (its detail page shows it)."""
    return spec_of(_row(engine, campaign_id))


def summary(row: Any) -> dict[str, Any]:
    """The campaign's own columns as plain JSON values (times as ISO 8601 UTC)."""
    out = {k: row._mapping[k] for k in ("id", "name", "state", "created_by", "approved_by", "launched_by",
                                         "audience", "control", "suppressed", "written", "not_due")}
    out.update({k: aware(row._mapping[k]).isoformat() if row._mapping[k] else None for k in MOMENTS})
    return out


def status(engine: Engine, campaign_id: int, services: Any = None) -> dict[str, Any]:
    """The campaign and its counts so far (jobs/campaign_counts.py); `accepted` only with the partners."""
    row = _row(engine, campaign_id)
    return {**summary(row), **campaign_counts.counts(engine, row, services)}


def report(engine: Engine, campaign_id: int, services: Any) -> dict[str, Any]:
    """The counts, and how the zones of those who got it moved against the control group's."""
    from jobs.campaign_report import movement

    return {**status(engine, campaign_id, services), "zones": movement(engine, _row(engine, campaign_id))}


def listing(engine: Engine, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest campaigns first, of one state or all; the campaigns' own columns only (no counting)."""
    if state is not None and state not in STATES:
        raise CampaignError(422, "invalid", f"unknown state {state!r}: choose from {list(STATES)}")
    stmt = select(C).order_by(C.c.id.desc()).limit(max(1, min(limit, 500)))
    with engine.connect() as conn:
        rows = conn.execute(stmt if state is None else stmt.where(C.c.state == state)).all()
    return [summary(r) for r in rows]
