"""The tester phone in a real Chromium (Debian's, driven by playwright) on the in-process app: a golf tee time
booked by clicking the keypad, its confirming screen and its confirmation SMS in the inbox. A stand-in until
tests/browser's fixtures (serve + worker + gateway) are merged: then this moves there."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.bot.console.test_phone import phone_on  # noqa: F401 (the fixture)

CHROMIUM = "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")
GOLF = ("*126#", "3", "1", "2", "3", "1", "1", "1", "1")  # golf, book, course, date, time, 1 player, bill, confirm


async def test_a_tester_books_golf_by_clicking_the_keypad(phone_on, tmp_path: Path):  # noqa: F811
    async with playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM)
        page = await browser.new_page()
        try:
            await sign_in(page, phone_on)
            await page.get_by_role("button", name="Use this phone").click()
            for step in GOLF:
                await dial(page, step)
            await playwright.expect(page.locator("#ussd-text")).to_contain_text("预订成功")
            await playwright.expect(page.locator("#inbox")).to_contain_text("预订成功")
            await playwright.expect(page.locator("#inbox")).to_contain_text("confirmation")
        except Exception:
            await page.screenshot(path=str(tmp_path / "phone-failed.png"), full_page=True)
            raise
        finally:
            await browser.close()


async def sign_in(page, console) -> None:
    await page.goto(console.base + "/console/login?lang=en")
    await page.fill("#agent", "agent1")
    await page.fill("#token", console.tokens["agent"])
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Tester phone").click()


async def dial(page, keys: str) -> None:
    """Each key clicked on the keypad, then Send; waits for the screen to change."""
    before = await page.inner_text("#screen")
    for key in keys:
        await page.locator(".keypad").get_by_role("button", name=key, exact=True).click()
    await page.get_by_role("button", name="Send").click()
    await playwright.expect(page.locator("#screen")).not_to_have_text(before)
