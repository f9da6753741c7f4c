"""The tester phone in a real Chromium, on a real `serve` (`site.py`): a golf tee time booked by clicking the keypad, its confirming screen
and its confirmation SMS in the inbox."""
from __future__ import annotations

from playwright.async_api import expect

GOLF = ("*126#", "3", "1", "2", "3", "1", "1", "1", "1")  # golf, book, course, date, time, 1 player, bill, confirm


async def test_a_tester_books_golf_by_clicking_the_keypad(pages):
    page = await pages.signed_in("agent")
    await page.get_by_role("link", name="Tester phone").click()
    await page.get_by_role("button", name="Use this phone").click()
    for step in GOLF:
        await dial(page, step)
    await expect(page.locator("#ussd-text")).to_contain_text("预订成功")
    await expect(page.locator("#inbox")).to_contain_text("预订成功")
    await expect(page.locator("#inbox")).to_contain_text("confirmation")


async def dial(page, keys: str) -> None:
    """Each key clicked on the keypad, then Send; waits for the screen to change."""
    before = await page.inner_text("#screen")
    for key in keys:
        await page.locator(".keypad").get_by_role("button", name=key, exact=True).click()
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#screen")).not_to_have_text(before)
