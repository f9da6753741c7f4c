"""Every console page in both languages, in Chromium, as a care agent sees it on a working demo: real
processes (`site.py`) with 1,000 demo subscribers scored last week and this week, a campaign done (sent to the
red zone, with replies, accepted offers and a few STOPs), next week scored ahead of time (so the report
compares the zone movement of the messaged with the control group's, as it will a week after a launch), one
campaign running and one waiting for approval. Each page answers 200 with no full number, token or password (the guard of conftest.py), and its
screenshot is saved. `make screenshots` keeps them in docs/screenshots/ (linked from docs/console.md); in
`make test` they go to a temporary folder."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.browser.site import Site, down, up
from tests.processes import eventually, gateway_control

KEEP = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PAGES = ("login", "dashboard", "campaigns", "wizard", "approvals", "campaign", "subscribers", "subscriber", "phone")
TEXT = {"zh": "尊敬的客户，感谢您一直以来的支持。", "en": "Thank you for staying with us."}


@pytest.fixture(scope="module")
def site(tmp_path_factory, redis_url):
    made = up(tmp_path_factory.mktemp("shots"), redis_url, subscribers=1000)
    now = datetime.now(timezone.utc)
    for moment in (now - timedelta(days=7), now):
        made.cli("churn", "score", "--at", moment.isoformat())
    yield made
    down(made)


async def campaign(site: Site, name: str, audience: dict, until: str, **spec) -> int:
    """A campaign made through the admin API and taken to `until` (previewed, approved or launched)."""
    made = await site.admin("POST", "/admin/campaigns", {"name": name, "audience": audience, "text": TEXT,
                                                         "offer": {"points": 2000}, **spec})
    steps = ("preview", "approve", "launch")
    for step in steps[:steps.index(until) + 1]:
        await site.admin("POST", f"/admin/campaigns/{made['id']}/{step}", {} if step == "launch" else None)
    return made["id"]


async def demo(site: Site) -> int:
    """The campaigns and replies the pages show; the id of the done campaign."""
    done = await campaign(site, "红区挽留 12月", {"zones": ["red"]}, "launch")

    async def finished() -> bool:
        found = await site.admin("GET", f"/admin/campaigns/{done}")
        return found["state"] == "done" and found["delivered"] == found["written"]
    await eventually(finished, timeout=60, every=0.5)
    members = (await site.admin("GET", f"/admin/campaigns/{done}/report"))
    for n in range(1, 60):  # some of them answer "1", a few say STOP
        number = f"+86138{n:08d}"
        await gateway_control(site.stack, "/control/inbound", {"from": number, "to": "12580",
                                                                 "text": "STOP" if n % 11 == 0 else "1"})
    next_week = datetime.now(timezone.utc) + timedelta(days=7)
    site.cli("churn", "score", "--at", next_week.isoformat())  # the report's zone movement
    await campaign(site, "黄区关怀 12月", {"zones": ["yellow", "green"]}, "launch", rate_per_second=1)
    await campaign(site, "金卡生日礼遇", {"tiers": ["gold"]}, "preview")
    assert members
    return done


async def test_every_page_in_both_languages(pages, site, tmp_path):
    done = await demo(site)
    folder = KEEP if os.environ.get("SHORTCODE_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    for lang in ("zh_Hans", "en"):
        await shoot(await pages.new(lang), "login", f"/console/login?lang={lang}", folder, lang)
        page = await pages.signed_in("supervisor", lang)
        paths = {"dashboard": "/console/", "campaigns": "/console/campaigns", "wizard": "/console/campaigns/new",
                 "approvals": "/console/approvals", "campaign": f"/console/campaigns/{done}",
                 "subscribers": "/console/subscribers"}
        for name, path in paths.items():
            await shoot(page, name, path, folder, lang)
        await page.locator("input[name=msisdn]").fill("138 0000 0001")
        await page.locator("main form button[type=submit]").first.click()
        await page.wait_for_url("**/console/subscribers/*")
        await page.screenshot(path=str(folder / f"subscriber-{lang}.png"), full_page=True)
        await shoot(page, "phone", "/console/phone", folder, lang)
    assert sorted(p.stem for p in folder.glob("*.png")) == sorted(f"{n}-{l}" for n in PAGES for l in ("en", "zh_Hans"))


async def shoot(page, name: str, path: str, folder: Path, lang: str) -> None:
    answer = await page.goto(path)
    assert answer.status == 200, (path, answer.status)
    await page.screenshot(path=str(folder / f"{name}-{lang}.png"), full_page=True)
