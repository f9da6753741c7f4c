"""Every console page in both languages, in Chromium, as a care agent sees it: each answers 200 with no full
number or token (the guard of conftest.py), and its screenshot is saved. `make screenshots` keeps them in
docs/screenshots/ (linked from docs/console.md); in `make test` they go to the test's temporary folder."""
from __future__ import annotations

import os
from pathlib import Path

from bot.wiring import build_services
from jobs import campaigns
from tests.bot.admin.conftest import NOW, OPERATOR
from tests.bot.console.conftest import SPEC

KEEP = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PAGES = ("login", "dashboard", "campaigns", "wizard", "approvals", "campaign", "subscribers", "subscriber", "phone")


async def test_every_page_in_both_languages(console_pages, core, tmp_path):
    pages = await console_pages(console_phone="true")
    db = pages.console.db
    number = campaigns.create(db, SPEC, OPERATOR, NOW)["id"]
    campaigns.preview(db, number, OPERATOR, NOW, core.catalogs, build_services(core, db))
    folder = KEEP if os.environ.get("SHORTCODE_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    for lang in ("zh_Hans", "en"):
        await shoot(await pages.new(lang), "login", f"/console/login?lang={lang}", folder, lang)
        page = await pages.signed_in("supervisor", lang)
        paths = {"dashboard": "/console/", "campaigns": "/console/campaigns", "wizard": "/console/campaigns/new",
                 "approvals": "/console/approvals", "campaign": f"/console/campaigns/{number}",
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
