"""The console in a real browser: Debian's Chromium (`make chromium`) driven by playwright's Python package
through `executable_path`, offline, against a real `shortcode serve` on loopback with its worker and the
simulated gateway (`site.py`: one per test module, `site` fixture). Every answer the browser gets is checked
for a full phone number, an agent's token or password (in its URL, `Location` and body); a failing test
saves a screenshot of each of its pages under var/browser-failures/."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from tests.browser.site import Site, down, up
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


@pytest.fixture(scope="session")
def site(tmp_path_factory, redis_url):
    """The console's processes, shared by the browser tests (test_screenshots.py has its own). A campaign
    above 50 people needs a second person's approval here."""
    made = up(tmp_path_factory.mktemp("site"), redis_url, SHORTCODE_CAMPAIGNS_SECOND_APPROVAL_ABOVE="50")
    yield made
    down(made)


class Pages:
    """New pages, each in its own context (its own cookies: one signed-in agent), every answer checked."""

    def __init__(self, browser, site: Site) -> None:
        self.browser, self.site = browser, site
        self.opened: list[Page] = []
        self.leaks: list[str] = []

    async def new(self, lang: str = "en") -> Page:
        context = await self.browser.new_context(base_url=self.site.base, locale="zh-CN" if lang == "zh_Hans" else "en-US")
        await context.route("**/*", self._checked)
        page = await context.new_page()
        self.opened.append(page)
        return page

    async def signed_in(self, role: str, lang: str = "en", password: bool = True) -> Page:
        """A page signed in as "<role>1" with their password (or their token)."""
        page = await self.new(lang)
        await page.goto(f"/console/login?lang={lang}")
        await page.fill("#agent", f"{role}1")
        await page.fill("#token", (self.site.passwords if password else self.site.tokens)[role])
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
            found += [f"{where}: a token or password" for _ in range(self._token_in(text))]
        found += [f"{where}: Location" for _ in range(bool(PHONE.search(answer.headers.get("location", ""))))]
        self.leaks.extend(found)
        await route.fulfill(response=answer)

    def _token_in(self, text: str) -> int:
        return sum(secret in text for secret in self.site.secrets())


@pytest.fixture
async def pages(request, browser, site):
    """A `Pages` on the module's site; screenshots of its pages if the test failed, then the leak check."""
    made = Pages(browser, site)
    yield made
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        FAILURES.mkdir(parents=True, exist_ok=True)
        for n, page in enumerate(made.opened):
            shot = FAILURES / f"{request.node.name}-{n}.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failing page: {shot}")
    for page in made.opened:
        await page.context.close()
    assert not made.leaks, f"a full number, a token or a password reached the browser: {made.leaks[:5]}"
