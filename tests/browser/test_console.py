"""The care agents' console in a real Chromium against real processes (`site.py`): signing in by keyboard,
the dashboard's chart in both languages, a campaign made in the wizard, approved by a supervisor in another
browser, launched and watched to done with the gateway's delivery reports counted; the role rule and the
CSRF check hold for a forged post; a subscriber looked up by typing their number, which never reaches a URL
or a page in full."""
from __future__ import annotations

from playwright.async_api import expect

SIGN_IN = ("Sign in", "登录")


async def test_an_agent_signs_in_by_keyboard_alone_and_sees_the_dashboard_chart(pages):
    page = await pages.new()
    await page.goto("/console/login?lang=en")
    focused = []
    for _ in range(12):
        await page.keyboard.press("Tab")
        focused.append(await page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
        if focused[-1] == "agent":
            break
    assert "Skip to content" in focused and focused[-1] == "agent", focused
    await page.keyboard.type("agent1")
    await page.keyboard.press("Tab")
    await page.keyboard.type(pages.site.passwords["agent"])
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/")
    await expect(page.locator("main svg").first).to_be_visible()


async def test_a_token_signs_in_too_and_the_dashboard_speaks_chinese(pages):
    page = await pages.signed_in("viewer", "zh_Hans", password=False)
    await expect(page.locator("nav")).to_contain_text("关怀活动")
    assert await page.evaluate("document.documentElement.lang") == "zh-Hans"


async def test_a_campaign_from_the_wizard_is_approved_by_a_supervisor_and_runs_to_done(pages):
    agent = await pages.signed_in("agent")
    await agent.goto("/console/campaigns/new")
    await agent.fill("#name", "Winter care")
    await agent.fill("#prefixes", "+86138000001")  # 100 people
    await agent.fill("#text_zh", "尊敬的客户，感谢您一直以来的支持。")
    await agent.fill("#text_en", "Thank you for staying with us.")
    await agent.check("#offer-points")
    await agent.fill("#points", "2000")
    await agent.get_by_role("button", name="Create and preview").click()
    await agent.wait_for_url("**/console/campaigns/*")
    page_of_it = agent.url
    await expect(agent.locator("[data-count=state]")).to_have_text("previewed")
    # the creator may not approve above the limit: the button answers with the reason, nothing changes
    await agent.get_by_role("button", name="Approve").click()
    await expect(agent.get_by_role("alert")).to_contain_text("someone other than its creator")
    await agent.goto(page_of_it)
    await expect(agent.locator("[data-count=state]")).to_have_text("previewed")
    supervisor = await pages.signed_in("supervisor")
    await supervisor.goto("/console/approvals")
    await supervisor.get_by_role("button", name="Approve").first.click()
    await agent.goto("/console/approvals")
    await agent.get_by_role("button", name="Launch").first.click()
    await agent.goto(page_of_it)
    await expect(agent.locator("[data-count=state]")).to_have_text("done", timeout=30_000)
    # the worker sends through the gateway, whose delivery reports come back to `serve`: the page, polling,
    # shows every written message sent and delivered
    written = await agent.locator("[data-count=written]").inner_text()
    assert int(written) > 0
    for count in ("sent", "delivered"):
        await expect(agent.locator(f"[data-count={count}]")).to_have_text(written, timeout=20_000)
    report = await pages.site.admin("GET", "/admin/campaigns/" + page_of_it.rsplit("/", 1)[1])
    assert report["delivered"] == report["sent"] == int(written), report


async def test_a_viewer_sees_no_buttons_and_a_forged_post_is_refused(pages):
    agent = await pages.signed_in("agent")
    viewer = await pages.signed_in("viewer")
    await viewer.goto("/console/campaigns")
    await expect(viewer.get_by_role("link", name="New campaign")).to_have_count(0)
    assert (await viewer.goto("/console/campaigns/new")).status == 403
    for page, with_csrf, status in ((viewer, True, 403), (agent, False, 403)):
        await page.goto("/console/")  # its sign-out form carries the session's CSRF token
        answer = await page.evaluate("""async (withCsrf) => {
            const csrf = document.querySelector('input[name=csrf]').value;
            const body = new URLSearchParams(withCsrf ? {csrf, name: "forged"} : {name: "forged"});
            const r = await fetch('/console/campaigns/new', {method: 'POST', body, redirect: 'manual'});
            return r.status; }""", with_csrf)
        assert answer == status
    await agent.goto("/console/campaigns")
    await expect(agent.get_by_role("link", name="forged")).to_have_count(0)


async def test_an_agent_looks_a_subscriber_up_by_typing_the_number(pages):
    agent = await pages.signed_in("agent", "zh_Hans")
    await agent.goto("/console/subscribers?lang=zh_Hans")
    await agent.locator("input[name=msisdn]").fill("138 0000 0001")
    await agent.locator("main form button[type=submit]").first.click()
    await agent.wait_for_url("**/console/subscribers/*")
    assert "13800000001" not in agent.url
    await expect(agent.locator("main")).to_contain_text("+86138****0001")


async def test_the_guard_sees_a_number_in_a_url(pages):
    """The check every browser test leans on can fail: a URL with a full number is caught."""
    page = await pages.new()
    await page.goto("/console/login?x=%2B8613800000001")
    assert pages.leaks
    pages.leaks.clear()
