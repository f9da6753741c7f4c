"""The role matrix of the campaign steps through the browser, on real processes (`site.py`): an agent, a
supervisor and an admin each click a campaign through approve, launch, pause and cancel on its page; a viewer
sees none of those buttons, and the same posts forged from the viewer's page (with its CSRF token) are
refused with 403 and change nothing. Which role may do what is the admin API's table (`bot/admin/routes.py`),
tested route by route over HTTP in tests/bot/admin/test_role_matrix.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from playwright.async_api import expect

from bot.console.access import role_of
from jobs.audit import Actor

STEPS = (("Approve", "approved"), ("Launch", "scheduled"), ("Pause", "paused"), ("Cancel", "cancelled"))
# 10 people (the creator may approve: below the site's second-approval limit), starting tomorrow: launched it
# is "scheduled", which may be paused, however long a step takes
SPEC = {"name": "Role check", "audience": {"prefixes": ["+861380000002"]},
        "text": {"zh": "感谢您的一路相伴。", "en": "We value you."},
        "start_at": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()}


async def previewed(site) -> int:
    made = await site.admin("POST", "/admin/campaigns", SPEC)
    await site.admin("POST", f"/admin/campaigns/{made['id']}/preview")
    return made["id"]


def test_the_matrix_is_the_api_table():
    """Every step below is allowed to agents and above and refused to viewers, as the admin API says."""
    for step, _ in STEPS:
        needs = role_of("POST", f"/admin/campaigns/{{id}}/{step.lower()}")
        assert Actor("x", "agent", "t").at_least(needs) and not Actor("x", "viewer", "t").at_least(needs), step


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
async def test_a_role_that_may_clicks_a_campaign_through_every_step(pages, role):
    cid = await previewed(pages.site)
    page = await pages.signed_in(role)
    await page.goto(f"/console/campaigns/{cid}")
    for button, state in STEPS:
        await page.get_by_role("button", name=button, exact=True).click()
        await expect(page.locator("[data-count=state]")).to_have_text(state)
        assert (await pages.site.admin("GET", f"/admin/campaigns/{cid}"))["state"] == state


async def test_a_viewer_sees_no_step_and_each_forged_step_is_refused(pages):
    site = pages.site
    first = await previewed(site)  # approve and cancel would apply here
    second = await previewed(site)
    await site.admin("POST", f"/admin/campaigns/{second}/approve")  # launch would
    third = await previewed(site)
    await site.admin("POST", f"/admin/campaigns/{third}/approve")
    await site.admin("POST", f"/admin/campaigns/{third}/launch", {})  # pause would
    forged = ((first, "approve"), (first, "cancel"), (second, "launch"), (third, "pause"))
    before = {cid: (await site.admin("GET", f"/admin/campaigns/{cid}"))["state"] for cid in (first, second, third)}
    assert before == {first: "previewed", second: "approved", third: "scheduled"}, before
    viewer = await pages.signed_in("viewer")
    for cid, step in forged:
        await viewer.goto(f"/console/campaigns/{cid}")
        await expect(viewer.locator("main form[action$='/%s']" % step)).to_have_count(0)
        await expect(viewer.locator("main button")).to_have_count(0)
        status = await viewer.evaluate("""async (path) => {
            const csrf = document.querySelector('input[name=csrf]').value;
            const r = await fetch(path, {method: 'POST', body: new URLSearchParams({csrf}), redirect: 'manual'});
            return r.status; }""", f"/console/campaigns/{cid}/{step}")
        assert status == 403, (cid, step, status)
    after = {cid: (await site.admin("GET", f"/admin/campaigns/{cid}"))["state"] for cid in (first, second, third)}
    assert after == before
    await site.admin("POST", f"/admin/campaigns/{third}/cancel")
