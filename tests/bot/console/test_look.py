"""The console's look and dashboard over real HTTP: static assets pass the door (and nothing else does), the
dashboard's tiers, chart, progress JSON and masked opt-outs, and signing in with a password, rate limited."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from aiohttp import ClientSession, CookieJar, TCPConnector
from sqlalchemy import insert, select
from structlog.testing import capture_logs

from bot.admin import passwords
from bot.console.dashboard import weeks
from bot.models import Subscriber
from jobs.audit import AuditLog
from jobs.tables import ChurnScore, OptOut
from tests.bot.admin.conftest import NOW, OPERATOR
from tests.bot.console.conftest import Console, csrf_of

PASSWORD = "correct horse battery"
FULL_NUMBER = re.compile(r"\+?86\d{11}|\b1[3-9]\d{9}\b")


def client_from(console: Console, address: str) -> ClientSession:
    """A browser on another loopback address (127.0.0.x): the per-address limit sees it apart."""
    made = ClientSession(console.base, cookie_jar=CookieJar(unsafe=True),
                         connector=TCPConnector(local_addr=(address, 0)))
    console.clients.append(made)
    return made


async def try_sign_in(http: ClientSession, name: str, secret: str):
    """(status, page, headers) of a sign-in through the form, in English."""
    async with http.get("/console/login?lang=en") as r:
        form = {"agent": name, "token": secret, "csrf": csrf_of(await r.text())}
    async with http.post("/console/login", data=form, allow_redirects=False) as r:
        return r.status, await r.text(), r.headers


# -- static assets and the door ---------------------------------------------------------------------
async def test_the_stylesheet_and_script_are_served_without_a_session_and_cached(console):
    http = console.client()
    for name, kind in (("console.css", "text/css"), ("progress.js", "javascript")):
        async with http.get(f"/console/static/{name}", allow_redirects=False) as r:
            assert r.status == 200 and kind in r.content_type, name
            assert "no-store" not in r.headers["Cache-Control"] and "max-age" in r.headers["Cache-Control"]
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    async with http.get("/console/static/console.css") as r:
        css = await r.text()
    assert "Noto Sans CJK SC" in css and ":focus-visible" in css and "http" not in css.replace("http-equiv", "")


@pytest.mark.parametrize("method,path", [
    ("GET", "/console/static/"), ("GET", "/console/static/nothing.css"), ("POST", "/console/static/console.css"),
    ("GET", "/console/static/%2e%2e/campaigns"), ("GET", "/console/static/..%2fcampaigns"),
    ("GET", "/console/staticx"), ("GET", "/console/static-console.css"), ("GET", "/console/progress.json")])
async def test_the_door_lets_only_the_static_files_through(console, method, path):
    """No listing, no traversal, no look-alike path, no other method: a redirect to sign in or a refusal."""
    async with console.client().request(method, path, allow_redirects=False) as r:
        body = await r.text()
        assert r.status in (303, 403, 404), (path, r.status)
        assert "<table" not in body and "Index of" not in body and "console.css" not in body


async def test_the_pages_link_the_stylesheet_and_a_skip_link_first(console):
    http = console.client()
    async with http.get("/console/login?lang=en") as r:
        html = await r.text()
    assert '<link rel="stylesheet" href="/console/static/console.css">' in html
    body = html.split("<body>", 1)[1].lstrip()
    assert body.startswith('<a class="skip-link" href="#main">Skip to content</a>') and 'id="main"' in html
    assert "style=" not in html and "<script>" not in html and " on" + "click" not in html


# -- the dashboard ----------------------------------------------------------------------------------
def scored(console: Console) -> dict[str, list[str]]:
    """Zones for every seeded subscriber this week, half of them last week too; numbers by tier."""
    this, last = weeks(datetime.now(timezone.utc))
    with console.db.begin() as conn:
        rows = conn.execute(select(Subscriber.msisdn, Subscriber.tier).order_by(Subscriber.msisdn)).all()
        for i, (msisdn, _) in enumerate(rows):
            for week in (this, last) if i % 2 else (this,):
                conn.execute(insert(ChurnScore).values(msisdn=msisdn, week=week, zone="red" if i % 5 else "green",
                                                       score=0.5, reasons=""))
    by_tier: dict[str, list[str]] = {}
    for msisdn, tier in rows:
        by_tier.setdefault(tier, []).append(msisdn)
    return by_tier


def opted_out(console: Console, msisdns: list[str]) -> None:
    with console.db.begin() as conn:
        for i, msisdn in enumerate(msisdns):
            conn.execute(insert(OptOut).values(msisdn=msisdn, opted_out=True, channel="sms",
                                               text="退订" if i else f"stop it {msisdn}",
                                               changed_at=datetime(2026, 12, 1, 16, i, tzinfo=timezone.utc)))


async def test_the_dashboard_counts_tiers_draws_the_chart_and_masks_the_opt_outs(console):
    """Tier counts this week and last; an SVG with its title; opt-outs masked, in Shanghai time, no free text."""
    by_tier = scored(console)
    numbers = [m for found in by_tier.values() for m in found][:3]
    opted_out(console, numbers)
    http, _ = await console.sign_in("viewer")
    async with http.get("/console/?lang=en") as r:
        html = await r.text()
    assert '<svg class="chart"' in html and 'role="img"' in html and "<title id=\"zone-chart-title\">" in html
    assert "Subscribers per tier" in html and "Recent opt-outs" in html
    for tier, found in by_tier.items():
        assert re.search(rf"<th scope=\"row\">{tier}</th>\s*<td class=\"num\">{len(found)}</td>", html), tier
    assert "2026-12-02 00:02" in html and "退订" in html and "stop it" not in html  # 16:02 UTC is 00:02 next day
    assert not FULL_NUMBER.search(html), FULL_NUMBER.search(html)
    assert numbers[0][:6] + "****" + numbers[0][-4:] in html


async def test_the_dashboard_in_chinese_names_tiers_and_zones_in_chinese(console):
    scored(console)
    http, _ = await console.sign_in("viewer")
    async with http.get("/console/?lang=zh_Hans") as r:
        html = await r.text()
    assert "Subscribers per tier" not in html and "<svg" in html and "红" in html


async def test_the_progress_json_shows_the_running_campaign_behind_the_door(console, running):
    """Without a session: the sign-in redirect; with one: the counts and the bar's end, no names typed."""
    async with console.client().get("/console/progress.json", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/console/login"
    http, _ = await console.sign_in("viewer")
    async with http.get("/console/progress.json", allow_redirects=False) as r:
        assert r.status == 200 and r.content_type == "application/json"
        assert r.headers["Cache-Control"] == "no-store"
        body = await r.json()
    [found] = body["campaigns"]
    assert found["id"] == running and found["state"] == "running" and found["target"] >= 1
    assert set(found) == {"id", "state", "sent", "delivered", "replied", "accepted", "target"}
    async with http.get("/console/") as r:
        html = await r.text()
    assert f'data-campaign="{running}"' in html and "<progress" in html and "/console/static/progress.js" in html


# -- passwords ----------------------------------------------------------------------------------------
async def test_an_agent_signs_in_with_a_password(console):
    """The same field takes a password; the session opens the dashboard; the token still works too."""
    passwords.set_password(console.db, OPERATOR, "agent1", PASSWORD, NOW)
    http = console.client()
    status, _, headers = await try_sign_in(http, "agent1", PASSWORD)
    assert status == 303 and headers["Location"] == "/console/"
    async with http.get("/console/", allow_redirects=False) as r:
        assert r.status == 200 and "agent1" in await r.text()
    assert (await try_sign_in(console.client(), "agent1", console.tokens["agent"]))[0] == 303


async def test_a_wrong_password_is_the_same_401_as_a_wrong_token_and_logs_only_refused(console):
    passwords.set_password(console.db, OPERATOR, "agent1", PASSWORD, NOW)
    with capture_logs() as logs:
        wrong_password = await try_sign_in(console.client(), "agent1", PASSWORD + "!")
        wrong_token = await try_sign_in(console.client(), "agent1", "sc_not-a-token")
    assert wrong_password[0] == wrong_token[0] == 401
    message = "Unknown agent, password or token."
    assert message in wrong_password[1] and message in wrong_token[1]
    assert PASSWORD not in wrong_password[1] and "agent1" not in wrong_password[1].split("<main", 1)[1]
    assert [e["event"] for e in logs if "sign_in" in e["event"]] == ["console_sign_in_refused"] * 2
    assert PASSWORD not in str(logs)


async def test_the_stored_password_is_salted_scrypt_never_the_password(console):
    passwords.set_password(console.db, OPERATOR, "agent1", PASSWORD, NOW)
    passwords.set_password(console.db, OPERATOR, "viewer1", PASSWORD, NOW)
    with console.db.connect() as conn:
        stored = dict(conn.execute(select(passwords.AG.c.name, passwords.AG.c.password)).all())
        [row, _] = conn.execute(select(AuditLog).where(AuditLog.action == "agent.password")).all()
    assert stored["agent1"].startswith("scrypt$") and stored["agent1"] != stored["viewer1"]
    assert PASSWORD not in stored["agent1"] and stored["admin1"] is None
    assert (row.target, row.actor) == ("agent:agent1", "tester") and PASSWORD not in str(row)
    assert passwords.matches(PASSWORD, stored["agent1"]) and not passwords.matches(PASSWORD[:-1], stored["agent1"])
    assert not passwords.matches(PASSWORD, None)


async def test_a_new_password_ends_the_sessions_opened_with_the_old_one(console):
    passwords.set_password(console.db, OPERATOR, "agent1", PASSWORD, NOW)
    http = console.client()
    assert (await try_sign_in(http, "agent1", PASSWORD))[0] == 303
    passwords.set_password(console.db, OPERATOR, "agent1", PASSWORD + " 2", NOW)
    async with http.get("/console/", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/console/login"


async def test_ten_failures_for_one_name_lock_it_for_everyone_even_with_the_right_password(console):
    """The name's count, from another address: the right password from here is 429 too, with Retry-After."""
    passwords.set_password(console.db, OPERATOR, "agent1", PASSWORD, NOW)
    other = client_from(console, "127.0.0.2")
    for _ in range(10):
        assert (await try_sign_in(other, "agent1", "wrong password"))[0] == 401
    status, html, headers = await try_sign_in(console.client(), "agent1", PASSWORD)
    assert status == 429 and headers["Retry-After"] == "900" and "Too many failed sign-ins" in html
    assert (await try_sign_in(console.client(), "viewer1", console.tokens["viewer"]))[0] == 303


async def test_ten_failures_from_one_address_lock_that_address_for_every_name(console):
    """One address guessing many names: the address' count; another address still signs in."""
    guesser = client_from(console, "127.0.0.3")
    for n in range(10):
        assert (await try_sign_in(guesser, f"name{n}", "wrong password"))[0] == 401
    assert (await try_sign_in(guesser, "viewer1", console.tokens["viewer"]))[0] == 429
    assert (await try_sign_in(console.client(), "viewer1", console.tokens["viewer"]))[0] == 303


async def test_an_agent_sets_their_own_password_through_the_admin_api_but_not_anothers(console):
    """Any role for themself, only an admin for someone else; too short is 422; then it signs in."""
    async with ClientSession(console.base) as http:
        async def put(role: str, name: str, password: str) -> int:
            async with http.post(f"/admin/agents/{name}/password", json={"password": password},
                                 headers={"Authorization": f"Bearer {console.tokens[role]}"}) as r:
                assert PASSWORD not in await r.text()
                return r.status
        assert await put("viewer", "viewer1", PASSWORD) == 200
        assert await put("supervisor", "viewer1", PASSWORD) == 403
        assert await put("admin", "agent1", PASSWORD) == 200
        assert await put("agent", "agent1", "short") == 422
        assert await put("admin", "nobody", PASSWORD) == 404
    assert (await try_sign_in(console.client(), "viewer1", PASSWORD))[0] == 303
    assert (await try_sign_in(console.client(), "agent1", PASSWORD))[0] == 303


def test_every_tier_shown_is_marked_for_translation():
    from bot.console import words
    from bot.engine.flow import TIERS

    assert words.TIERS == TIERS


def test_every_opt_out_channel_is_marked_for_translation():
    from bot.channels.sms_mailbox import SmsMailbox
    from bot.channels.telegram_mailbox import TelegramMailbox
    from bot.console import words

    assert set(words.CHANNELS) == {SmsMailbox.channel, TelegramMailbox.channel}
