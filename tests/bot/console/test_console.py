"""The web console's first slice over real HTTP: the door, sign-in and its cookie, the headers, CSRF, roles
on the campaign actions, the audit row, and both languages."""
from __future__ import annotations

import pytest
from structlog.testing import capture_logs
from sqlalchemy import select, update

from aiohttp import web

from bot.admin import agents
from bot.admin.tables import AgentToken
from bot.console import install
from jobs import campaigns
from jobs.audit import AuditLog
from tests.bot.admin.conftest import NOW, OPERATOR
from tests.bot.console.conftest import Console, csrf_of

OPEN = ("/console/login", "/console/static")  # the sign-in page and its stylesheet and scripts


def console_routes() -> list[tuple[str, str]]:
    """Every route the console registers (a new page is covered without being listed), with sample ids, plus
    a path that matches none."""
    app = web.Application()
    install(app)
    found = {(r.method, r.resource.canonical.replace("{id}", "1").replace("{handle}", "x"))
             for r in app.router.routes() if r.method != "HEAD"}
    return sorted(m_p for m_p in found if not m_p[1].startswith(OPEN)) + [("GET", "/console/nowhere")]


PAGES = console_routes()


def audited(console: Console, action: str) -> list:
    with console.db.connect() as conn:
        return conn.execute(select(AuditLog).where(AuditLog.action == action)).all()


@pytest.mark.parametrize("method,path", PAGES)
async def test_every_console_page_without_a_session_redirects_to_the_login_page(console, method, path):
    """Nothing but the sign-in page is reachable without a session."""
    async with console.client().request(method, path, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/console/login"


async def test_a_good_token_signs_in_with_a_strict_session_cookie(console):
    """HttpOnly, SameSite=Strict, path /console/, 8 h; not Secure on loopback; then the dashboard opens."""
    http, answer = await console.sign_in_answer("viewer")
    assert answer.status == 303 and answer.headers["Location"] == "/console/"
    cookie = answer.cookies["sc_console"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/console/"
    assert cookie["max-age"] == str(8 * 3600) and not cookie["secure"] and len(cookie.value) >= 40
    async with http.get("/console/") as r:
        assert r.status == 200 and "viewer1" in await r.text()


@pytest.mark.parametrize("token", ["sc_not-a-token", ""])
async def test_a_bad_token_or_someone_elses_is_refused(console, token):
    """A wrong token is 401 with no session; another agent's token does not sign in as this one."""
    http, status = await console.sign_in("viewer", token or console.tokens["admin"])
    assert status == 401
    async with http.get("/console/", allow_redirects=False) as r:
        assert r.status == 303


async def test_signing_out_ends_the_session(console):
    """After the sign-out POST the same cookie opens nothing."""
    http, _ = await console.sign_in("agent")
    form = {"csrf": await console.page_csrf(http)}
    async with http.post("/console/logout", data=form, allow_redirects=False) as r:
        assert r.status == 303
    async with http.get("/console/", allow_redirects=False) as r:
        assert r.status == 303


@pytest.mark.parametrize("path", ["/console/login", "/console/", "/console/campaigns", "/console/nowhere"])
async def test_every_console_answer_carries_the_strict_headers(console, path):
    """CSP default-src 'self' without inline scripts, no framing, no referrer: pages, redirects, 404s."""
    http, _ = await console.sign_in("viewer")
    async with http.get(path, allow_redirects=False) as r:
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Referrer-Policy"] == "no-referrer"


async def test_a_post_without_its_csrf_token_is_403_and_changes_nothing(console, running):
    """The agent may pause, but not through a form without the session's token (or with a wrong one)."""
    http, _ = await console.sign_in("agent")
    for form in ({}, {"csrf": "forged"}):
        async with http.post(f"/console/campaigns/{running}/pause", data=form, allow_redirects=False) as r:
            assert r.status == 403
    assert campaigns.status(console.db, running)["state"] == "running" and not audited(console, "campaign.pause")


async def test_a_sign_in_without_the_form_token_is_403(console):
    http = console.client()
    form = {"agent": "agent1", "token": console.tokens["agent"]}
    async with http.post("/console/login", data=form, allow_redirects=False) as r:
        assert r.status == 403 and "sc_console" not in r.cookies


async def test_a_viewer_sees_no_buttons_and_gets_403_posting_anyway(console, running):
    """The admin API's rule: pause needs an agent; the viewer's valid CSRF token does not change that."""
    http, _ = await console.sign_in("viewer")
    async with http.get("/console/campaigns") as r:
        html = await r.text()
    assert "红区关怀" in html and "/pause" not in html and "/cancel" not in html
    async with http.post(f"/console/campaigns/{running}/pause", data={"csrf": csrf_of(html)},
                         allow_redirects=False) as r:
        assert r.status == 403
    assert campaigns.status(console.db, running)["state"] == "running" and not audited(console, "campaign.pause")


async def test_an_agent_pauses_a_running_campaign_and_the_audit_says_so(console, running):
    """The button's form pauses it; the audit row names the agent, its role, and "console <ip>"."""
    http, _ = await console.sign_in("agent")
    async with http.get("/console/campaigns") as r:
        html = await r.text()
    assert f"/console/campaigns/{running}/pause" in html
    async with http.post(f"/console/campaigns/{running}/pause", data={"csrf": csrf_of(html)},
                         allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/console/campaigns"
    assert campaigns.status(console.db, running)["state"] == "paused"
    [row] = audited(console, "campaign.pause")
    assert (row.actor, row.role, row.source) == ("agent1", "agent", "console 127.0.0.1")


async def test_pausing_twice_shows_the_lifecycle_refusal(console, running):
    http, _ = await console.sign_in("agent")
    token = await console.page_csrf(http, "/console/campaigns")
    for expected in (303, 409):
        async with http.post(f"/console/campaigns/{running}/pause", data={"csrf": token},
                             allow_redirects=False) as r:
            assert r.status == expected
    assert len(audited(console, "campaign.pause")) == 1


async def test_the_token_never_appears_in_any_answer(console, running):
    """Not echoed after a failed sign-in, not on any page, not in a header or a URL."""
    token = console.tokens["agent"]
    http = console.client()
    async with http.get("/console/login") as r:
        form = {"agent": "agent1", "token": token + "x", "csrf": csrf_of(await r.text())}
    async with http.post("/console/login", data=form) as r:
        assert r.status == 401 and token not in await r.text()
    http, _ = await console.sign_in("agent")
    for path in ("/console/", "/console/campaigns", "/console/login"):
        async with http.get(path) as r:
            assert token not in await r.text() and token not in str(r.headers) and token not in str(r.url)


async def test_both_languages_render_and_the_choice_is_kept(console, running):
    """`?lang=en` shows English and sets the cookie; `?lang=zh_Hans` Chinese; labels for every field."""
    http = console.client()
    async with http.get("/console/login?lang=en") as r:
        html = await r.text()
    assert "Sign in" in html and '<label for="agent">' in html and '<label for="token">' in html
    async with http.get("/console/login") as r:
        assert "Agent name" in await r.text()
    async with http.get("/console/login?lang=zh_Hans") as r:
        html = await r.text()
    assert "登录" in html and 'lang="zh-Hans"' in html
    http, _ = await console.sign_in("agent")
    async with http.get("/console/?lang=en") as r:
        english = await r.text()
    async with http.get("/console/?lang=zh_Hans") as r:
        chinese = await r.text()
    assert "Running campaigns" in english and "红区关怀" in english
    assert "Running campaigns" not in chinese and "红区关怀" in chinese


@pytest.mark.parametrize("revoke", ["agent", "token"])
async def test_revoking_the_agent_or_its_token_ends_the_console_session(console, revoke):
    """The session is only as good as the token it was opened with, checked on every request."""
    http, _ = await console.sign_in("agent")
    async with http.get("/console/", allow_redirects=False) as r:
        assert r.status == 200
    if revoke == "agent":
        agents.revoke(console.db, OPERATOR, "agent1", NOW)
    else:
        with console.db.begin() as conn:
            conn.execute(update(AgentToken.__table__).values(revoked_at=NOW))
    async with http.get("/console/", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/console/login"


async def test_a_refused_sign_in_echoes_and_logs_nothing_typed(console):
    """A number typed as the name appears neither in the page nor in a log line."""
    http = console.client()
    async with http.get("/console/login") as r:
        form = {"agent": "13800000001", "token": "sc_guess", "csrf": csrf_of(await r.text())}
    with capture_logs() as logs:
        async with http.post("/console/login", data=form) as r:
            assert r.status == 401 and "13800000001" not in await r.text()
    assert "13800000001" not in str(logs)
