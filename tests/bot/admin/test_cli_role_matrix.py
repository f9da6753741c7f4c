"""Every CLI action of the admin API (`shortcode admin|care|campaign ...`) for every role: allowed or refused
exactly as its route in the role matrix, the refusal one line with exit 2 and nothing changed. The CLI runs in
process (`bot.tools.cli.main`) against the real app over loopback."""
from __future__ import annotations

import asyncio
import contextlib
import io

from bot.tools.cli import main
from jobs.audit import ROLES
from tests.bot.admin.test_role_matrix import EXPECTED, campaign_for, snapshot

CARE = ["--text-zh", "您好，这是客服的关怀短信。", "--text-en", "Hello from customer care."]
CAMPAIGN = ["--name", "matrix", "--prefixes", "+861380000000", "--text-zh", "感谢您的支持。", "--text-en",
            "Thank you for staying with us.", "--points", "100"]
ACTIONS = {  # CLI action: (its route, the arguments; "{id}" is a campaign brought to where the action may run)
    "admin whoami": (("GET", "/admin/whoami"), []),
    "care lookup": (("GET", "/admin/subscribers/{msisdn}"), ["13800000001"]),
    "care send": (("POST", "/admin/subscribers/{msisdn}/messages"), ["13800000001", *CARE]),
    "campaign list": (("GET", "/admin/campaigns"), []),
    "campaign create": (("POST", "/admin/campaigns"), CAMPAIGN),
    "campaign status": (("GET", "/admin/campaigns/{id}"), ["{id}"]),
    "campaign report": (("GET", "/admin/campaigns/{id}/report"), ["{id}"]),
    **{f"campaign {a}": (("POST", f"/admin/campaigns/{{id}}/{a}"), ["{id}"])
       for a in ("preview", "approve", "launch", "pause", "resume", "cancel")},
}


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_every_cli_action_of_the_admin_api_is_in_the_matrix():
    assert {route for route, _ in ACTIONS.values()} <= set(EXPECTED)


async def test_every_cli_action_for_every_role_is_allowed_or_refused_as_its_route(api):
    for action, ((method, path), args) in ACTIONS.items():
        least = EXPECTED[(method, path)]
        for role in ROLES:
            if "{id}" in args:
                number = str(await campaign_for(api, path.rsplit("/", 1)[1]))
                args_now = [number if a == "{id}" else a for a in args]
            else:
                args_now = args
            before = snapshot(api)
            code, out, err = await asyncio.to_thread(
                run, [*action.split(), *args_now, "--url", api.base, "--token", api.tokens[role]])
            if ROLES.index(role) >= ROLES.index(least):
                assert code == 0 and out.strip(), (action, role, err)
            else:
                assert code == 2 and err.startswith(f"shortcode {action}: 403 not allowed"), (action, role, err)
                assert len(err.strip().splitlines()) == 1 and out == "", (action, role, err)
                assert snapshot(api) == before, (action, role)
