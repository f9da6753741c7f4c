"""The console in a real browser: Debian's Chromium (`make chromium`) driven by playwright's Python package
through `executable_path`, offline, against the app on a loopback port. Every answer the browser gets is
checked for a full phone number or an agent's token (in its URL and its body); a failing test saves a
screenshot of each of its pages under var/browser-failures/."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from tests.bot.console.conftest import Console, open_console  # noqa: F401 (the fixture)
from tests.privacy import PHONE

CHROMIUM = Path("/usr/bin/chromium")
FAILURES = Path(__file__).resolve().parents[2] / "var" / "browser-failures"
TEXTUAL = re.compile(r"text/|json|javascript")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
async def browser():
    assert CHROMIUM.exists(), "Debian's chromium is missing: `make chromium` installs it"
    async with async_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses root
        made = await p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield made
        await made.close()


class Pages:
    """New pages, each in its own context (its own cookies: one signed-in agent), every answer checked."""

    def __init__(self, browser, console: Console) -> None:
        self.browser, self.console = browser, console
        self.opened: list[Page] = []
        self.leaks: list[str] = []

    async def new(self, lang: str = "en") -> Page:
        context = await self.browser.new_context(base_url=self.console.base, locale="zh-CN" if lang == "zh_Hans" else "en-US")
        await context.route("**/*", self._checked)
        page = await context.new_page()
        self.opened.append(page)
        return page

    async def signed_in(self, role: str, lang: str = "en") -> Page:
        page = await self.new(lang)
        await page.goto(f"/console/login?lang={lang}")
        await page.fill("#agent", f"{role}1")
        await page.fill("#token", self.console.tokens[role])
        await page.locator("form.login button[type=submit], main form button[type=submit]").first.click()
        await page.wait_for_url("**/console/")
        return page

    async def _checked(self, route) -> None:
        """The answer as the server sent it, looked through for what must never be in a page or a URL."""
        answer = await route.fetch(max_redirects=0)
        where = route.request.url
        found = [where] if PHONE.search(where) or self._token_in(where) else []
        if TEXTUAL.search(answer.headers.get("content-type", "")):
            text = await answer.text()
            found += [f"{where}: {hit}" for hit in PHONE.findall(text)]
            found += [f"{where}: a token" for _ in range(self._token_in(text))]
        found += [f"{where}: Location" for _ in range(bool(PHONE.search(answer.headers.get("location", ""))))]
        self.leaks.extend(found)
        await route.fulfill(response=answer)

    def _token_in(self, text: str) -> int:
        return sum(token in text for token in self.console.tokens.values())


@pytest.fixture
async def console_pages(request, browser, open_console, settings_with):  # noqa: F811
    """`make(**settings)`: the app on loopback with one agent per role; a `Pages` on it."""
    made: list[Pages] = []

    async def make(**changes) -> Pages:
        found = Pages(browser, await open_console(settings_with(**changes)))
        made.append(found)
        return found

    yield make
    failed = getattr(request.node, "report_call", None)
    for pages in made:
        if failed is not None and failed.failed:
            FAILURES.mkdir(parents=True, exist_ok=True)
            for n, page in enumerate(pages.opened):
                shot = FAILURES / f"{request.node.name}-{n}.png"
                await page.screenshot(path=str(shot), full_page=True)
                print(f"screenshot of the failing page: {shot}")
        for page in pages.opened:
            await page.context.close()
        assert not pages.leaks, f"a full number or a token reached the browser: {pages.leaks[:5]}"
