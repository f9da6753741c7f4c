"""`shortcode churn train|evaluate|score|status`: fit the value-loss tree on the labelled history (scikit-learn,
only here), judge it on the held-out cohort beside the naive rule, score a week now (in this process, or as
parts for the workers with `--queue`), and show each week's parts done. Bad input: one line, exit 2."""
from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from bot.settings import Settings

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")


class BadInput(ValueError):
    """What the user typed cannot be run: one line, exit 2."""


def register(sub) -> None:
    """The `churn` command group on the `shortcode` parser (one line in cli.py)."""
    text = "the value-loss (churn) model: train, evaluate, score, status"
    churn = sub.add_parser("churn", help=text, description=text)
    actions = churn.add_subparsers(dest="action", required=True)
    for name, helptext in (("train", "fit the tree on the labelled usage history and write [churn] tree"),
                           ("evaluate", "precision, recall and lift of red and yellow on the held-out cohort, "
                                        "beside the naive rule")):
        s = actions.add_parser(name, help=helptext, description=helptext)
        s.add_argument("--month", help="the scoring month the labels are for, YYYY-MM (default: the latest)")
        s.add_argument("--tree", help="the tree file (default: [churn] tree)")
        s.set_defaults(func=cmd_churn)
    text = "score every subscriber for this week now (what the weekly job does)"
    s = actions.add_parser("score", help=text, description=text)
    s.add_argument("--at", help="a moment in the week to score, ISO 8601 (default: now)")
    s.add_argument("--queue", action="store_true",
                   help="queue the week's parts for the workers (as the weekly schedule does) instead of scoring here")
    s.set_defaults(func=cmd_churn)
    text = "each scored week's parts done out of its parts, and the subscribers scored so far"
    s = actions.add_parser("status", help=text, description=text)
    s.add_argument("--week", help="only this ISO week, YYYY-Www (2026-W49)")
    s.set_defaults(func=cmd_churn)


def cmd_churn(args: argparse.Namespace, settings: Settings, now: Callable[[], datetime] | None = None) -> int:
    from bot.db import make_engine, upgrade
    from integrations.boss.simulated import SimulatedBoss

    try:
        _check(args)
        upgrade(settings.database_url)
        boss = SimulatedBoss(make_engine(settings.database_url))
        tree = Path(args.tree) if getattr(args, "tree", None) else settings.path(Path(settings.churn.tree))
        return ACTIONS[args.action](args, settings, boss, tree, now or (lambda: datetime.now(timezone.utc)))
    except BadInput as exc:
        print(f"shortcode churn {args.action}: {exc}", file=sys.stderr)
        return 2


def _check(args: argparse.Namespace) -> None:
    if getattr(args, "month", None) and not MONTH.match(args.month):
        raise BadInput(f"--month {args.month}: not a month as YYYY-MM (2026-12)")
    if getattr(args, "week", None) and not WEEK.match(args.week):
        raise BadInput(f"--week {args.week}: not an ISO week as YYYY-Www (2026-W49)")
    if getattr(args, "at", None):
        try:
            datetime.fromisoformat(args.at)
        except ValueError:
            raise BadInput(f"--at {args.at}: not an ISO 8601 moment (2026-12-07T10:00)") from None


def _month(args: argparse.Namespace, boss) -> str:
    from jobs.churn_eval import latest_labelled_month

    month = args.month or latest_labelled_month(boss)
    if not month:
        raise BadInput("no labelled usage history: run `shortcode seed --demo` first")
    return month


def train(args, settings: Settings, boss, tree: Path, now) -> int:
    try:
        from bot.tools import churn_train
    except ImportError:
        raise BadInput("scikit-learn is not installed: pip install -e '.[ml]'") from None
    from jobs.churn_eval import cohort, held_out

    month = _month(args, boss)
    rows = [row for row in cohort(boss, month) if not held_out(row.msisdn)]
    try:
        model, _ = churn_train.fit(rows)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    churn_train.write(churn_train.tree_data(model, month, len(rows)), tree)
    print(f"trained on {len(rows):,} subscribers (scoring month {month}): {model.tree_.node_count} nodes, "
          f"depth {model.get_depth()}; written to {tree}")
    return 0


def evaluate(args, settings: Settings, boss, tree: Path, now) -> int:
    from jobs.churn_eval import cohort, held_out, judge, table
    from jobs.churn_features import dormant, features, fell_month_on_month
    from jobs.churn_tree import Thresholds, zone

    month, c = _month(args, boss), settings.churn
    limits, model = Thresholds(c.red, c.yellow, c.green), _tree(tree)
    rows = [row for row in cohort(boss, month) if held_out(row.msisdn)]
    if not rows:
        raise BadInput(f"no held-out subscribers labelled for {month}")
    zones = {r.msisdn: _zone(model, r.months, limits, c.dormant_days, zone, features, dormant) for r in rows}
    results = [judge("tree: red", rows, lambda r: zones[r.msisdn] == "red"),
               judge("tree: red + yellow", rows, lambda r: zones[r.msisdn] in ("red", "yellow")),
               judge("naive: spend fell m/m", rows, lambda r: fell_month_on_month(r.months))]
    print(f"held-out cohort: {len(rows):,} subscribers labelled for {month}, "
          f"{results[0].lost:,} lost value ({results[0].lost / len(rows):.1%})")
    print("\n".join(table(results)))
    naive, best = results[-1], results[1]
    print(f"red + yellow against the naive rule: lift {best.lift:.2f} vs {naive.lift:.2f} "
          f"({best.lift / naive.lift if naive.lift else float('inf'):.2f}x), recall {best.recall:.1%} vs "
          f"{naive.recall:.1%}")
    return 0


def _tree(path: Path):
    from jobs.churn_tree import Tree

    try:
        return Tree.load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise BadInput(f"{path}: not a churn tree ({exc}); run `shortcode churn train`") from None


def _zone(model, months, limits, dormant_days, zone, features, dormant) -> str:
    row = features(months)
    return zone(model.score(row)[0], row, dormant(months, dormant_days), limits)


def score(args, settings: Settings, boss, tree: Path, now) -> int:
    from jobs.churn import score_all, week_of
    from jobs.churn_tree import Thresholds

    moment = datetime.fromisoformat(args.at) if args.at else now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    week, month = week_of(moment)
    if args.queue:
        return _queue(settings, boss, week, month, tree)
    c, started = settings.churn, time.perf_counter()
    scored = score_all(boss, week, month, Thresholds(c.red, c.yellow, c.green), c.dormant_days, _tree(tree))
    zones = ", ".join(f"{name} {count:,}" for name, count in scored.zones.items())
    print(f"{week} (usage before {month}): {scored.subscribers:,} subscribers scored in "
          f"{time.perf_counter() - started:.1f} s: {zones}")
    return 0


def _queue(settings: Settings, boss, week: str, month: str, tree: Path) -> int:
    """The week's parts on the workers' queue: what the weekly entry does, now."""
    if settings.redis.url == "embedded":
        raise BadInput("--queue needs the workers' Redis ([redis] url); embedded mode scores in this process")
    import redis
    from rq import Queue

    from jobs.churn import arguments, queue_parts

    _tree(tree)  # a bad tree file is refused here, not by every part
    queue = Queue(settings.jobs.queue, connection=redis.Redis.from_url(settings.redis.url))
    queued = queue_parts(boss.engine, queue, week, month, {**arguments(settings), "tree": str(tree)})
    print(f"{week} (usage before {month}): {queued} parts queued for the workers"
          + ("" if queued else " (every part is done)") + f"; see `shortcode churn status --week {week}`")
    return 0


def status(args, settings: Settings, boss, tree: Path, now) -> int:
    from jobs.churn_parts import progress

    weeks = progress(boss.engine, args.week)
    if not weeks:
        print(f"{args.week}: not scored" if args.week else "no week scored as parts yet")
    for w in weeks:
        print(f"{w.week}: {w.done}/{w.parts} parts done, {w.subscribers:,} subscribers scored"
              + (", complete" if w.complete else ""))
    return 0


ACTIONS = {"train": train, "evaluate": evaluate, "score": score, "status": status}
