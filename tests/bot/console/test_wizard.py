"""The campaign wizard, the approval queue and a campaign's page over real HTTP: the wizard makes exactly the
campaign the admin API makes for the same spec, shows bad fields again with their reasons, makes one campaign
for a double submit; roles and the second approval as the API's; launch queues the run; the report renders."""
from __future__ import annotations

import re

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, insert, select, text

from jobs import campaigns
from jobs.campaign_tables import Campaign
from jobs.tables import ChurnScore
from tests.bot.admin.conftest import NOW, OPERATOR
from tests.bot.console.conftest import Console, csrf_of

LIMIT = 20  # [campaigns] second_approval_above here; the demo database has 50 subscribers, 9 under +861380000000
FORM = {"name": "红区关怀", "prefixes": "+861380000000", "text_en": "Thank you for staying with us.",
        "text_zh": "尊敬的客户，感谢您一直以来的支持。", "offer": "points", "points": "2000", "start": "now",
        "step": "create"}
SAME_SPEC = {"name": "红区关怀", "audience": {"prefixes": ["+861380000000"]},
             "text": {"en": "Thank you for staying with us.", "zh": "尊敬的客户，感谢您一直以来的支持。"},
             "offer": {"points": 2000}}
KEY = re.compile(r'name="key" value="([^"]+)"')


@pytest.fixture
def settings(settings_with):
    return settings_with(campaigns_second_approval_above=LIMIT)


def count(console: Console) -> int:
    with console.db.connect() as conn:
        return conn.execute(select(func.count()).select_from(Campaign)).scalar_one()


async def wizard(console: Console, role: str = "agent"):
    """(client, the form's fields: csrf and key)."""
    http, _ = await console.sign_in(role)
    async with http.get("/console/campaigns/new") as r:
        assert r.status == 200
        html = await r.text()
    return http, {"csrf": csrf_of(html), "key": KEY.search(html).group(1)}


async def submit(http, hidden: dict, lang: str | None = "en", **changes):
    """The form posted (the page in `lang`; None: the session's language, here the service's Chinese)."""
    path = "/console/campaigns/new" + (f"?lang={lang}" if lang else "")
    async with http.post(path, data={**FORM, **hidden, **changes}, allow_redirects=False) as r:
        return r.status, r.headers.get("Location"), await r.text()


async def test_the_wizard_creates_and_previews_exactly_the_campaign_the_api_would(console):
    http, hidden = await wizard(console)
    status, location, _ = await submit(http, hidden)
    assert status == 303 and location.startswith("/console/campaigns/")
    number = int(location.rsplit("/", 1)[1])
    made = campaigns.status(console.db, number)
    assert made["state"] == "previewed" and made["audience"] == 9 and made["created_by"] == "agent1"
    async with console.client().post(console.base + "/admin/campaigns", json=SAME_SPEC,
                                     headers={"Authorization": f"Bearer {console.tokens['agent']}"}) as r:
        assert r.status == 201
        by_api = (await r.json())["id"]
    with console.db.connect() as conn:
        specs = dict(conn.execute(select(Campaign.id, Campaign.spec)).all())
    assert specs[number] == specs[by_api] and campaigns.spec(console.db, number) == campaigns.parse_spec(SAME_SPEC)
    async with http.get(location) as r:
        page = await r.text()
    assert r.status == 200 and "回复1领取2,000积分" in page and "Reply 1 to get 2,000 points." in page


async def test_a_double_submit_makes_one_campaign(console):
    """A reload of the POST (same key, same fields) replays the first answer: same campaign, no second one."""
    http, hidden = await wizard(console)
    first = await submit(http, hidden)
    again = await submit(http, hidden)
    assert first[:2] == again[:2] and first[0] == 303 and count(console) == 1


async def test_the_same_form_sent_again_with_other_values_says_so_and_makes_nothing(console):
    """Back, change a field, submit: the key already made a campaign from other values; a fresh key is given."""
    http, hidden = await wizard(console)
    assert (await submit(http, hidden))[0] == 303
    status, _, html = await submit(http, hidden, name="another")
    assert status == 409 and "already sent with other values" in html and count(console) == 1
    fresh = KEY.search(html).group(1)
    assert fresh != hidden["key"] and (await submit(http, {**hidden, "key": fresh}, name="another"))[0] == 303
    assert count(console) == 2


async def test_bad_fields_are_shown_again_with_their_reasons_and_what_was_typed(console):
    http, hidden = await wizard(console)
    status, _, html = await submit(http, hidden, name="", prefixes="138x", points="0",
                                   text_en="Reply STOP to leave", rate_per_second="fast")
    assert status == 422 and count(console) == 0
    for reason in ("Give the campaign a name", "Number prefixes are + and digits", "Points from 1",
                   "without the offer or opt-out line", "messages per second from 1 to 10000"):
        assert reason in html, reason
    assert 'value="138x"' in html and "Reply STOP to leave</textarea>" in html
    fixed = await submit(http, {**hidden, "csrf": csrf_of(html), "key": KEY.search(html).group(1)})
    assert fixed[0] == 303 and count(console) == 1


async def test_reasons_in_chinese(console):
    http, hidden = await wizard(console)
    status, _, html = await submit(http, hidden, lang=None, name="")
    assert status == 422 and "请为活动命名" in html and "Give the campaign a name" not in html


async def test_the_count_button_counts_with_the_previews_query_and_shows_the_phone(console):
    http, hidden = await wizard(console)
    status, _, html = await submit(http, hidden, step="count")
    assert status == 200 and "9 subscribers" in html and "UCS-2" in html and "GSM-7" in html
    assert "Reply STOP to opt out." in html and count(console) == 0
    async with http.post("/console/campaigns/new", data={**FORM, **hidden, "step": "check"}) as r:
        checked = await r.json()  # what static/wizard.js shows, worded in the page language (English since ?lang=en)
    assert checked["count"] == {"audience": 9, "suppressed": 0} and checked["count_text"].startswith("9 subscribers (0 opted out")
    assert checked["phone"]["zh"]["text"].endswith("回复TD退订") and "UCS-2 · 36 characters" in checked["cost"]["zh"]
    assert count(console) == 0


async def test_a_start_time_is_the_operators_local_time(console):
    http, hidden = await wizard(console)
    status, location, _ = await submit(http, hidden, start="at", start_at="2026-12-24T09:30")
    assert status == 303
    number = int(location.rsplit("/", 1)[1])
    assert campaigns.spec(console.db, number).start_at.isoformat() == "2026-12-24T09:30:00+08:00"
    async with http.get(location) as r:
        assert "2026-12-24 09:30 (Asia/Shanghai)" in await r.text()


async def test_a_viewer_sees_no_new_campaign_and_cannot_post_one(console):
    http, _ = await console.sign_in("viewer")
    async with http.get("/console/campaigns") as r:
        html = await r.text()
    assert "/console/campaigns/new" not in html
    async with http.get("/console/campaigns/new") as r:
        assert r.status == 403
    async with http.post("/console/campaigns/new", data={**FORM, "csrf": csrf_of(html), "key": "k" * 20}) as r:
        assert r.status == 403
    assert count(console) == 0


async def big_campaign(console: Console) -> tuple:
    """A previewed campaign of all 50 (above the limit) made by agent1 through the wizard."""
    http, hidden = await wizard(console)
    _, location, _ = await submit(http, hidden, prefixes="")
    return http, int(location.rsplit("/", 1)[1])


async def press(http, number: int, step: str, back: str = "/console/approvals"):
    async with http.get("/console/approvals") as r:
        token = csrf_of(await r.text())
    async with http.post(f"/console/campaigns/{number}/{step}", data={"csrf": token, "back": back},
                         allow_redirects=False) as r:
        return r.status, await r.text()


async def test_the_creator_cannot_approve_above_the_limit_and_a_supervisor_can(console, settings):
    http, number = await big_campaign(console)
    async with http.get("/console/approvals") as r:
        assert f"/console/campaigns/{number}/approve" in await r.text()
    status, html = await press(http, number, "approve")
    assert status == 409 and "someone other than its creator" in html
    assert campaigns.status(console.db, number)["state"] == "previewed"
    boss, _ = await console.sign_in("supervisor")
    assert (await press(boss, number, "approve"))[0] == 303
    queue = Queue(settings.jobs.queue, connection=Redis.from_url(settings.redis.url))
    before = queue.count
    assert (await press(http, number, "launch"))[0] == 303
    assert campaigns.status(console.db, number)["state"] == "running" and queue.count == before + 1


async def test_a_viewer_sees_no_lifecycle_button_and_gets_403_posting(console):
    _, number = await big_campaign(console)
    viewer, _ = await console.sign_in("viewer")
    for page in ("/console/approvals", f"/console/campaigns/{number}"):
        async with viewer.get(page) as r:
            html = await r.text()
        assert r.status == 200 and f"/console/campaigns/{number}/" not in html.replace(
            f'data-progress="/console/campaigns/{number}/progress"', "")
    for step in ("approve", "launch", "cancel"):
        assert (await press(viewer, number, step))[0] == 403
    assert campaigns.status(console.db, number)["state"] == "previewed"


@pytest.fixture
def scored(console) -> None:
    """Everyone yellow in the campaign's week (2026-W49), and the week after: every other one green."""
    with console.db.begin() as conn:
        numbers = conn.execute(text("SELECT msisdn FROM subscriber ORDER BY msisdn")).scalars().all()
        conn.execute(insert(ChurnScore), [
            {"msisdn": n, "week": week, "zone": zone, "score": 0.5, "reasons": ""}
            for i, n in enumerate(numbers)
            for week, zone in (("2026-W49", "yellow"), ("2026-W50", "green" if i % 2 else "yellow"))])


async def test_the_detail_page_shows_progress_and_the_report(console, scored, running):
    http, _ = await console.sign_in("viewer")
    async with http.get(f"/console/campaigns/{running}") as r:
        html = await r.text()
    assert r.status == 200 and 'data-count="sent"' in html and "<svg" in html and "2026-W50" in html
    assert html.count("<rect") == 6 and '<th scope="row">收到短信组</th>' in html
    async with http.get(f"/console/campaigns/{running}/progress") as r:
        counts = await r.json()
    assert counts["state"] == "running" and set(counts) >= {"sent", "delivered", "replied", "accepted", "pending"}
    agent, _ = await console.sign_in("agent")
    async with agent.get(f"/console/campaigns/{running}") as r:
        html = await r.text()
    assert f"/console/campaigns/{running}/pause" in html and f"/console/campaigns/{running}/resume" not in html
    status, _ = await press(agent, running, "pause", f"/console/campaigns/{running}")
    assert status == 303 and campaigns.status(console.db, running)["state"] == "paused"
    assert (await press(agent, running, "resume", f"/console/campaigns/{running}"))[0] == 303
    assert campaigns.status(console.db, running)["state"] == "running"


async def test_a_whole_number_typed_as_a_prefix_is_refused_and_never_echoed(console):
    """The page holds no whole number: not kept in the field, not in the reason."""
    http, hidden = await wizard(console)
    status, _, html = await submit(http, hidden, prefixes="+86139 +8613800000001")
    assert status == 422 and count(console) == 0 and "13800000001" not in html
    assert 'value="+86139"' in html and "A whole phone number is not a prefix" in html


async def test_a_campaign_of_one_number_made_by_the_api_is_shown_masked(console, core):
    number = campaigns.create(console.db, {**SAME_SPEC, "audience": {"prefixes": ["+8613800000001"]}},
                              OPERATOR, NOW)["id"]
    http, _ = await console.sign_in("viewer")
    async with http.get(f"/console/campaigns/{number}") as r:
        html = await r.text()
    assert r.status == 200 and "13800000001" not in html and "+86138****0001" in html
