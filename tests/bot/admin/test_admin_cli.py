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
             "400 refused: msisdn: not a valid phone number"),
            (("care", "send", "13800000001", "--url", api.base), {"SHORTCODE_TOKEN": api.tokens["agent"]},
             "give --kind, or --text-zh and/or --text-en"),
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
