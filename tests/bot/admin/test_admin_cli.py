"""`shortcode admin whoami` and `shortcode care lookup|send`: the admin client against a served app."""
from __future__ import annotations

import asyncio
import json

from tests.bot.tools.test_cli import shortcode
from tests.conftest import free_port


async def cli(tmp_path, *args, **env):
    return await asyncio.to_thread(shortcode, *args, tmp_path=tmp_path, check=False, **env)


async def test_whoami_prints_the_agent_as_json(api, tmp_path):
    out = await cli(tmp_path, "admin", "whoami", "--url", api.base, SHORTCODE_TOKEN=api.tokens["agent"])
    assert out.returncode == 0 and json.loads(out.stdout) == {"name": "agent1", "role": "agent",
                                                              "source": "http 127.0.0.1"}


async def test_refusals_are_one_line_and_exit_2(api, tmp_path):
    for args, env, says in (
            (("admin", "whoami", "--url", api.base, "--token", "sc_nope"), {}, "401 not authenticated: unknown token"),
            (("admin", "whoami", "--url", api.base), {}, "no token: pass --token or set SHORTCODE_TOKEN"),
            (("care", "send", "13800000001", "--kind", "low-balance", "--url", api.base),
             {"SHORTCODE_TOKEN": api.tokens["viewer"]}, "403 not allowed: POST /admin/subscribers/{msisdn}/messages"),
            (("care", "lookup", "13999999999", "--url", api.base), {"SHORTCODE_TOKEN": api.tokens["viewer"]},
             "404 not found: no such subscriber"),
            (("care", "lookup", "12", "--url", api.base), {"SHORTCODE_TOKEN": api.tokens["viewer"]},
             "400 bad request: msisdn: not a valid phone number"),
            (("care", "send", "13800000001", "--url", api.base), {"SHORTCODE_TOKEN": api.tokens["agent"]},
             "give --kind, --campaign, or --text-zh and/or --text-en"),
            (("admin", "whoami", "--url", f"http://127.0.0.1:{free_port()}"), {"SHORTCODE_TOKEN": "sc_x"},
             "cannot reach the admin API at http://127.0.0.1:")):
        out = await cli(tmp_path, *args, **env)
        assert out.returncode == 2 and says in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and out.stdout == "", (args, out.stderr)


async def test_care_send_then_lookup_shows_the_message(api, tmp_path):
    env = {"SHORTCODE_TOKEN": api.tokens["agent"]}
    out = await cli(tmp_path, "care", "send", "13800000001", "--text-zh", "您好，关怀短信。", "--text-en",
                    "Hello, a care message.", "--key", "cli-1", "--url", api.base, **env)
    assert out.returncode == 0 and json.loads(out.stdout)["queued"] == 1, out.stderr
    again = await cli(tmp_path, "care", "send", "13800000001", "--text-zh", "您好，关怀短信。", "--text-en",
                      "Hello, a care message.", "--key", "cli-1", "--url", api.base, **env)
    assert again.stdout == out.stdout
    found = json.loads((await cli(tmp_path, "care", "lookup", "13800000001", "--url", api.base, **env)).stdout)
    assert found["msisdn"] == "+86138****0001" and len(found["messages"]) == 1


async def test_a_campaign_from_the_cli_create_preview_approve_launch_and_watch(api, tmp_path):
    """The care agent's first campaign in commands; `launch --wait` draws progress until the campaign ends
    (here: a supervisor cancels it), then prints its last status."""
    env = {"SHORTCODE_TOKEN": api.tokens["agent"]}
    out = await cli(tmp_path, "campaign", "create", "--name", "红区关怀", "--prefixes", "+861380000000",
                    "--text-zh", "尊敬的客户，感谢您的支持。", "--text-en", "Thank you for staying with us.",
                    "--points", "2000", "--url", api.base, **env)
    assert out.returncode == 0, out.stderr
    number = str(json.loads(out.stdout)["id"])
    preview = json.loads((await cli(tmp_path, "campaign", "preview", number, "--url", api.base, **env)).stdout)
    assert preview["audience"] == 9 and "2,000" in preview["samples"]["zh"]["text"]
    assert (await cli(tmp_path, "campaign", "approve", number, "--url", api.base, **env)).returncode == 0
    watching = asyncio.create_task(cli(tmp_path, "campaign", "launch", number, "--wait", "--url", api.base, **env))
    await asyncio.sleep(2.5)
    status, _, _ = await api.call("POST", f"/admin/campaigns/{number}/cancel", role="supervisor", json={})
    assert status == 200
    out = await asyncio.wait_for(watching, 30)
    assert out.returncode == 0, out.stderr
    progress = [line for line in out.stdout.splitlines() if line.startswith(("running", "cancelled"))]
    assert progress[0].startswith("running ") and "/" in progress[0] and progress[-1].startswith("cancelled")
    assert json.loads(out.stdout[out.stdout.rindex("\n{") + 1:])["state"] == "cancelled"
    listed = json.loads((await cli(tmp_path, "campaign", "list", "--url", api.base, **env)).stdout)
    assert [c["state"] for c in listed["campaigns"]] == ["cancelled"]


async def test_campaign_cli_refusals_are_one_line_and_exit_2(api, tmp_path):
    agent = {"SHORTCODE_TOKEN": api.tokens["agent"]}
    for args, env, says in (
            (("campaign", "create", "--url", api.base), agent, "give --name (or --file)"),
            (("campaign", "create", "--name", "x", "--text-zh", "只有中文", "--url", api.base), agent,
             "422 invalid: field 'text'"),
            (("campaign", "create", "--file", str(tmp_path / "none.json"), "--url", api.base), agent,
             "none.json"),
            (("campaign", "launch", "999", "--url", api.base), agent, "404 not found: there is no campaign 999"),
            (("campaign", "create", "--name", "x", "--kind", "low-balance", "--url", api.base),
             {"SHORTCODE_TOKEN": api.tokens["viewer"]}, "403 not allowed"),
            (("campaign", "status", "1", "--url", api.base), {}, "no token")):
        out = await cli(tmp_path, *args, **env)
        assert out.returncode == 2 and says in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and out.stdout == "", (args, out.stderr)
