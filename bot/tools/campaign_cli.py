"""`shortcode campaign create|list|preview|approve|launch|pause|resume|cancel|status|report`: a care agent's
campaigns from the terminal, through the admin API (`bot/tools/admin_client.py`), so the CLI is refused exactly
what the API refuses. `launch --wait` and `status --watch` show a progress bar until the run ends."""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from bot.settings import Settings
from bot.tools.admin_client import AdminClient, AdminError, add_client_options, client, describe, new_key, run

TEXT_KEYS = (("zh", "zh"), ("en", "en"))  # the API's language key, and the flag's suffix
SIMPLE = ("preview", "approve", "pause", "resume", "cancel")


def register(sub) -> None:
    s = sub.add_parser("campaign", help="care campaigns as an agent: create, preview, approve, launch, report")
    csub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    _create_parser(csub.add_parser("create", help="a new draft campaign from flags or a JSON file"))
    c = csub.add_parser("list", help="campaigns, newest first")
    c.add_argument("--state", help="only campaigns in this state (draft, running, done, ...)")
    add_client_options(c)
    for action, text in (("preview", "count the audience and render the message in both languages"),
                         ("approve", "approve a previewed campaign (a large one: a supervisor, not its creator)"),
                         ("pause", "stop sending until resumed"), ("resume", "continue a paused campaign"),
                         ("cancel", "stop for good: members not sent to get nothing")):
        _with_id(csub.add_parser(action, help=text))
    c = _with_id(csub.add_parser("launch", help="start an approved campaign (or schedule it at its start time)"))
    c.add_argument("--key", help="Idempotency-Key: a repeated launch with it starts one run (default: a new one)")
    c.add_argument("--wait", action="store_true", help="show progress until the campaign is done")
    c = _with_id(csub.add_parser("status", help="state and counts so far"))
    c.add_argument("--watch", action="store_true", help="show progress until the campaign is done")
    _with_id(csub.add_parser("report", help="the counts and the audience's zone movement against the control"))
    describe(csub)
    s.set_defaults(func=cmd_campaign)


def _with_id(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("id", type=int, help="the campaign's number")
    add_client_options(parser)
    return parser


def _create_parser(c: argparse.ArgumentParser) -> None:
    c.add_argument("--file", help="the whole campaign as JSON (docs/campaigns.md); flags are then not used")
    c.add_argument("--name", help="a name agents will recognise")
    c.add_argument("--zones", help="warning zones, comma-separated: blue,green,yellow,red,white")
    c.add_argument("--tiers", help="tiers, comma-separated")
    c.add_argument("--languages", help="subscriber languages, comma-separated: zh_Hans,en")
    c.add_argument("--prefixes", help="number prefixes, comma-separated: +86138,+86139")
    c.add_argument("--min-tenure", type=int, help="at least this many months with the operator")
    c.add_argument("--active-within", type=int, help="active in the last N days")
    c.add_argument("--text-zh", help="the message in Simplified Chinese (the offer line and 回复TD退订 are added)")
    c.add_argument("--text-en", help="the message in English (the offer line and the opt-out hint are added)")
    c.add_argument("--kind", help="a reminder kind of menus/reminders.toml instead of a text")
    c.add_argument("--points", type=int, help="offer: bonus points taken by replying 1")
    c.add_argument("--package", help="offer: a service package at --price-fen, taken by replying 1")
    c.add_argument("--price-fen", type=int, help="offer: the package's discounted price in fen")
    c.add_argument("--at", help="start time, ISO 8601 with its offset (default: at launch)")
    c.add_argument("--rate", type=int, help="messages a second at most (default: as fast as the senders go)")
    c.add_argument("--key", help="Idempotency-Key: a repeated create with it makes one campaign")
    add_client_options(c)


def spec_from(args: argparse.Namespace) -> dict[str, Any]:
    """The API body from the flags (or the file); the API checks it and names the wrong field."""
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError) as exc:
            raise AdminError(f"--file {args.file}: {exc}") from None
    if not args.name:
        raise AdminError("give --name (or --file)")
    audience = {k: _split(v) for k, v in (("zones", args.zones), ("tiers", args.tiers),
                                          ("languages", args.languages), ("prefixes", args.prefixes)) if v}
    audience.update({k: v for k, v in (("min_tenure_months", args.min_tenure),
                                       ("active_within_days", args.active_within)) if v is not None})
    body: dict[str, Any] = {"name": args.name, "audience": audience}
    texts = {key: getattr(args, f"text_{flag}") for key, flag in TEXT_KEYS if getattr(args, f"text_{flag}")}
    body.update({"text": texts} if texts else {"kind": args.kind} if args.kind else {})
    offer = {k: v for k, v in (("points", args.points), ("package", args.package),
                               ("price_fen", args.price_fen)) if v is not None}
    body.update({k: v for k, v in (("offer", offer or None), ("start_at", args.at),
                                   ("rate_per_second", args.rate)) if v is not None})
    return body


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def cmd_campaign(args: argparse.Namespace, settings: Settings) -> int:
    name = f"campaign {args.action}"
    if args.action == "create":
        return run(name, lambda: client(args, settings).call("POST", "/admin/campaigns", spec_from(args),
                                                             key=args.key or new_key()))
    if args.action == "list":
        query = f"?state={args.state}" if args.state else ""
        return run(name, lambda: client(args, settings).call("GET", "/admin/campaigns" + query))
    path = f"/admin/campaigns/{args.id}"
    if args.action in SIMPLE:
        return run(name, lambda: client(args, settings).call("POST", f"{path}/{args.action}", {}))
    if args.action == "report":
        return run(name, lambda: client(args, settings).call("GET", f"{path}/report"))
    if args.action == "launch":
        code = run(name, lambda: client(args, settings).call("POST", f"{path}/launch", {}, key=args.key or new_key()))
        return _watch(name, client(args, settings), path) if code == 0 and args.wait else code
    if args.watch:
        return _watch(name, client(args, settings), path)
    return run(name, lambda: client(args, settings).call("GET", path))


def _watch(name: str, api: AdminClient, path: str, every: float = 1.0) -> int:
    """Poll the campaign until it ends, drawing its progress; the last status is printed as JSON."""
    bar = Bar(sys.stdout)
    try:
        while True:
            status = api.call("GET", path)
            bar(status)
            if settled(status):
                break
            time.sleep(every)
    except AdminError as exc:
        bar.done()
        print(f"shortcode {name}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        bar.done()
        return 130
    bar.done()
    print(json.dumps(status, ensure_ascii=False, indent=2))
    return 0


def settled(status: dict) -> bool:
    """Cancelled; or done (every message written) and every message sent, failed, capped or held to the
    morning by quiet hours (those are not waited for: `status` shows them go later)."""
    state = status.get("state")
    waiting = int(status.get("pending") or 0) - int(status.get("deferred") or 0)
    return state == "cancelled" or (state == "done" and waiting <= 0)


class Bar:
    """A bar redrawn in place on a terminal; elsewhere a line when the figures changed, at most every 10 s, and
    the last one."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.tty, self.last, self.at = out, out.isatty(), "", 0.0

    def __call__(self, status: dict) -> None:
        n = {k: int(status.get(k) or 0) for k in ("audience", "control", "not_due", "written", "pending", "held",
                                                  "sent", "deferred", "failed", "replied", "accepted")}
        target = max(1, n["audience"] - n["control"] - n["not_due"], n["written"])  # not_due: a kind not due
        done = n["written"] - n["pending"] - n["held"]  # written and past the senders
        text = (f"{status.get('state', '?'):<9} {done:,}/{target:,}  sent {n['sent']:,}  "
                f"deferred {n['deferred']:,}  failed {n['failed']:,}  replied {n['replied']:,}  "
                f"accepted {n['accepted']:,}")
        if self.tty:
            filled = min(30, 30 * done // target)
            self.out.write(f"\r[{'#' * filled:<30}] {text}")
        elif text != self.last and (time.monotonic() - self.at >= 10 or settled(status)):
            self.out.write(text + "\n")
            self.at, self.last = time.monotonic(), text
        self.out.flush()

    def done(self) -> None:
        if self.tty:
            self.out.write("\n")
