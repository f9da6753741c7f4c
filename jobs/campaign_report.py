"""Did the care work? The zones of the members who got the message against the control group's, from the
baseline (the week the audience was chosen) to the latest scoring week after the launch: the share of each
group that moved to a better zone, to a worse one, or stayed."""
from __future__ import annotations

from datetime import timezone
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from jobs.campaign_spec import ZONES
from jobs.campaign_tables import CampaignMember
from jobs.churn import week_of
from jobs.tables import ChurnScore

M, SCORES = CampaignMember.__table__, ChurnScore.__table__
RANK = {zone: n for n, zone in enumerate(ZONES)}  # blue best ... white (dormant) worst


def _group(moves: dict[str, int]) -> dict[str, Any]:
    scored = sum(moves.values())
    share = {f"{k}_share": round(v / scored, 4) if scored else None for k, v in moves.items()}
    return {"scored": scored, **moves, **share}


def shift(before: str, after: str) -> str:
    """"better", "worse" or "same" from one zone to another."""
    change = RANK[after] - RANK[before]
    return "better" if change < 0 else "worse" if change > 0 else "same"


def movement(engine: Engine, row: Any) -> dict[str, Any] | None:
    """Zone movement per group (messaged, control) to the latest week scored after the launch week; None
    before the launch, and groups with `scored` 0 until a later week is scored."""
    if row.launched_at is None or not row.week:
        return None
    launched = row.launched_at if row.launched_at.tzinfo else row.launched_at.replace(tzinfo=timezone.utc)
    with engine.connect() as conn:
        later = conn.execute(select(func.max(SCORES.c.week)).where(SCORES.c.week > week_of(launched)[0])).scalar()
        found = conn.execute(select(M.c.control, M.c.zone, SCORES.c.zone, func.count()).select_from(
            M.join(SCORES, and_(SCORES.c.msisdn == M.c.msisdn, SCORES.c.week == (later or ""))))
            .where(M.c.campaign_id == row.id, M.c.zone != "").group_by(M.c.control, M.c.zone, SCORES.c.zone)).all()
    groups = {False: dict.fromkeys(("better", "worse", "same"), 0), True: dict.fromkeys(("better", "worse", "same"), 0)}
    for control, before, after, n in found:
        if before in RANK and after in RANK:
            groups[bool(control)][shift(before, after)] += n
    messaged, control = _group(groups[False]), _group(groups[True])
    effect = {k: round(messaged[k] - control[k], 4) if messaged[k] is not None and control[k] is not None else None
              for k in ("better_share", "worse_share")}
    return {"baseline_week": row.week, "week": later, "messaged": messaged, "control": control, "effect": effect}
