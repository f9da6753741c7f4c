"""`shortcode serve` pre-flight, run as a user runs it: the secrets anyone can read in the repository
never open the service, and the demo on loopback makes secrets of its own."""
from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import tomllib
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession

from bot.db import upgrade
from bot.settings import load_settings
from integrations.smsgateway.signing import headers
from tests.conftest import free_port
from tests.processes import ROOT, SECRETS, Serve, clean_env, eventually, refused, shipped_config

SHIPPED = {"secret": '"demo-secret"', "secrets": '"demo-sms-secret"', "api_key": '"demo-key"'}  # before this fix
DIAL = {"sessionId": "s1", "serviceCode": "*126#", "phoneNumber": "+8613800000001", "networkCode": "46000",
        "text": ""}


@pytest.fixture
def migrated(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/own.db"
    upgrade(url)
    return url


@pytest.mark.parametrize("var,value", [
    ("SHORTCODE_USSD_SECRET", "demo-secret"), ("SHORTCODE_USSD_SECRET", ""),
    ("SHORTCODE_SMS_SECRETS", "demo-sms-secret"), ("SHORTCODE_SMS_SECRETS", "e2e-sms-secret, demo-sms-secret"),
    ("SHORTCODE_SMS_SECRETS", "e2e-sms-secret, "), ("SHORTCODE_SMS_API_KEY", "demo-key"),
    ("SHORTCODE_SMS_API_KEY", " "),
])
async def test_serve_outside_embedded_mode_refuses_a_shipped_or_empty_secret(tmp_path, redis_url, migrated, var,
                                                                              value):
    """A real Redis means a real deployment: every secret must be one of the operator's own."""
    env = clean_env(SHORTCODE_REDIS_URL=redis_url, SHORTCODE_DATABASE_URL=migrated, **{**SECRETS, var: value})
    line = await refused(Serve(tmp_path, env))
    assert var in line and "refus" in line


async def test_serve_outside_embedded_mode_starts_with_secrets_of_its_own(tmp_path, redis_url, migrated):
    """The check refuses only what it should: the same process with the operator's own secrets comes up."""
    env = clean_env(SHORTCODE_REDIS_URL=redis_url, SHORTCODE_DATABASE_URL=migrated, **SECRETS)
    serve = Serve(tmp_path, env)
    try:
        assert await serve.outcome() == "started", serve.stderr
        assert SECRETS["SHORTCODE_USSD_SECRET"] not in serve.stdout  # a secret the operator set is never echoed
    finally:
        serve.stop()


@pytest.mark.parametrize("values", [{}, SHIPPED], ids=["config.toml as shipped", "the old demo secrets"])
async def test_serve_on_a_public_address_refuses_the_shipped_configuration(tmp_path, values):
    """As the Dockerfile runs it (embedded, on 0.0.0.0) with nothing set: it names what to set and stops."""
    config = shipped_config(tmp_path, free_port(), free_port(), **values)
    line = await refused(Serve(tmp_path, clean_env(), "--config", str(config), host="0.0.0.0"))
    assert "0.0.0.0" in line and "SHORTCODE_USSD_SECRET" in line and "SHORTCODE_SMS_SECRETS" in line
    assert not (tmp_path / "var" / "secrets.toml").exists()  # nothing is generated for a public address


async def test_the_attack_from_the_readme_is_refused_by_the_demo_server(tmp_path):
    """What the attacker did: sign an SMS and dial with the secrets printed in the README, against a
    server started the way the README starts it. The demo made its own secrets: both get 403, nothing
    is stored, and the curl it prints (with its real key) works."""
    config = shipped_config(tmp_path, free_port(), free_port())
    serve = Serve(tmp_path, clean_env(), "--config", str(config))
    try:
        assert await serve.outcome() == "started", serve.stderr
        form = urlencode({"id": "attack-1", "from": "+8613800000002", "to": "12580", "text": "积分",
                          "date": "2026-11-23", "linkId": "l1", "networkCode": "46000"}).encode()
        async with ClientSession() as http:
            async with http.post(serve.base + "/sms/inbound", data=form, headers={
                    "Content-Type": "application/x-www-form-urlencoded", **headers("demo-sms-secret", form)}) as r:
                assert r.status == 403
            async with http.post(serve.base + "/ussd/africastalking?key=demo-secret", data=DIAL) as r:
                assert r.status == 403
            assert inbox(tmp_path) == 0
            generated = tomllib.loads((tmp_path / "var" / "secrets.toml").read_text())
            assert stat.S_IMODE((tmp_path / "var" / "secrets.toml").stat().st_mode) == 0o600
            key = generated["ussd"]["secret"]
            assert len(key) >= 32 and f"key={key}'" in serve.stdout  # the README's curl, with the real key
            async with http.post(f"{serve.base}/ussd/africastalking?key={key}", data=DIAL) as r:
                assert r.status == 200 and (await r.text()).startswith(("CON ", "END "))
            own = headers(generated["sms"]["secrets"], form)
            async with http.post(serve.base + "/sms/inbound", data=form,
                                 headers={"Content-Type": "application/x-www-form-urlencoded", **own}) as r:
                assert r.status == 200
            assert inbox(tmp_path) == 1
        # the erase's suppression key is generated too, and the settings of this install read it
        assert len(generated["erase"]["suppression_key"]) >= 32
        own_settings = load_settings(tmp_path / "config.toml", environ={})
        assert own_settings.erase.suppression_key == generated["erase"]["suppression_key"]
    finally:
        serve.stop()


def inbox(tmp_path) -> int:
    """Inbound SMS the demo stored (its SQLite file is under the config's folder)."""
    with sqlite3.connect(tmp_path / "var" / "shortcode.db") as conn:
        return conn.execute("SELECT count(*) FROM sms_inbox").fetchone()[0]


async def test_the_simulated_gateway_signs_with_the_secrets_the_demo_made(tmp_path):
    """The README's SMS walk-through: `shortcode gateway` (started first) and `serve` share the generated
    secrets, so a text through the gateway is answered and the answer is accepted back by the gateway."""
    web_port, gateway_port = free_port(), free_port()
    config = shipped_config(tmp_path, web_port, gateway_port)
    subprocess.run([sys.executable, "-m", "bot.tools.cli", "--config", str(config), "seed", "--demo", "--subscribers",
                    "5"], env=clean_env(), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with open(tmp_path / "gateway.log", "wb") as log:
        gateway = subprocess.Popen([sys.executable, "-m", "bot.tools.cli", "--config", str(config), "gateway"],
                                   env=clean_env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    serve = None
    try:
        gw = f"http://127.0.0.1:{gateway_port}"
        await eventually(lambda: (tmp_path / "var" / "secrets.toml").exists())
        serve = Serve(tmp_path, clean_env(), "--config", str(config), port=web_port)
        assert await serve.outcome() == "started", serve.stderr
        async with ClientSession() as http:
            async with http.post(gw + "/control/inbound", json={"from": "+8613800000001", "text": "BAL"}) as r:
                assert r.status == 200

            async def answered():
                async with http.get(gw + "/control/handset", params={"to": "+8613800000001"}) as r:
                    return await r.json()

            assert await eventually(answered, timeout=30)
    finally:
        if serve:
            serve.stop()
        gateway.terminate()
        gateway.wait(10)


async def test_a_public_address_never_prints_the_generated_key(tmp_path):
    """Secrets generated by an earlier demo run are this install's own, so `serve --host 0.0.0.0` may use
    them; but what it prints goes to shared logs there, so the curl shows a placeholder, not the key."""
    config = shipped_config(tmp_path, free_port(), free_port())
    demo = Serve(tmp_path, clean_env(), "--config", str(config))
    try:
        assert await demo.outcome() == "started", demo.stderr
    finally:
        demo.stop()
    key = tomllib.loads((tmp_path / "var" / "secrets.toml").read_text())["ussd"]["secret"]
    public = Serve(tmp_path, clean_env(), "--config", str(config), host="0.0.0.0")
    try:
        assert await public.outcome() == "started", public.stderr
        assert key not in public.stdout and "<your [ussd] secret>" in public.stdout
    finally:
        public.stop()
