"""The tester phone over real HTTP: off is 404, the door and the role, USSD walked through the webhook's path
with the sim's encoding and budget, SMS keywords answered, the inbox, and no full number in a page."""
from __future__ import annotations

import asyncio
import re
from html import unescape

import pytest
from aiohttp import ClientSession

from bot.console import handset
from bot.msisdn import mask
from bot.tools.console import budget_use
from jobs import outbox
from tests.bot.admin.conftest import NOW
from tests.bot.console.conftest import Console, csrf_of

SHOWCASE = "+8613800000001"  # gold tier, Chinese: the first demo subscriber
OPTION = re.compile(r'<option value="([0-9a-f]+)"[^>]*>([^<]+)</option>')
PATHS = [("GET", "/console/phone"), ("POST", "/console/phone"), ("POST", "/console/phone/subscriber")]


@pytest.fixture
async def phone_on(open_console, settings_with) -> Console:
    return await open_console(settings_with(console_phone="true"))


async def page(http: ClientSession) -> str:
    async with http.get("/console/phone?lang=en") as r:
        assert r.status == 200
        return await r.text()


async def pick(http: ClientSession, mode: str = "ussd", number: str = SHOWCASE) -> str:
    """Picks the demo subscriber shown as `number` masked; the phone page after the 303."""
    html = await page(http)
    handle = next(h for h, label in OPTION.findall(html) if label.startswith(mask(number)))
    form = {"csrf": csrf_of(html), "subscriber": handle, "mode": mode}
    async with http.post("/console/phone/subscriber", data=form, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/console/phone"
    return await page(http)


async def press(http: ClientSession, typed: str = "", action: str = "send", key: str = "") -> str:
    html = await page(http)
    form = {"csrf": csrf_of(html), "typed": typed, **({"key": key} if key else {"action": action})}
    async with http.post("/console/phone", data=form, allow_redirects=False) as r:
        assert r.status == 303
    return await page(http)


def screen(html: str) -> str:
    found = re.search(r'<pre class="phone-text" id="(?:ussd-text|sms-reply)">(.*?)</pre>', html, re.S)
    return found.group(1) if found else ""


@pytest.mark.parametrize("method,path", PATHS)
async def test_the_phone_off_is_404_even_signed_in(console, method, path):
    """The default settings of the tests (a Redis server, not embedded): "auto" is off, and nothing is told."""
    http, _ = await console.sign_in("admin")
    data = {"csrf": await console.page_csrf(http)}
    async with http.request(method, path, data=data if method == "POST" else None, allow_redirects=False) as r:
        assert r.status == 404
    async with http.get("/console/") as r:
        assert "/console/phone" not in await r.text()


async def test_a_viewer_sees_no_phone_and_gets_403(phone_on):
    """The phone acts as a subscriber: an agent's role, as sending a subscriber a message is in the admin API."""
    http, _ = await phone_on.sign_in("viewer")
    csrf = await phone_on.page_csrf(http)
    async with http.get("/console/") as r:
        assert "/console/phone" not in await r.text()
    async with http.get("/console/phone") as r:
        assert r.status == 403
    async with http.post("/console/phone", data={"csrf": csrf, "typed": "*126#", "action": "send"}) as r:
        assert r.status == 403
    agent, _ = await phone_on.sign_in("agent")
    async with agent.get("/console/") as r:
        assert 'href="/console/phone"' in await r.text()


async def test_a_post_without_csrf_is_refused(phone_on):
    http, _ = await phone_on.sign_in("agent")
    async with http.post("/console/phone", data={"typed": "*126#", "action": "send"}, allow_redirects=False) as r:
        assert r.status == 403


async def test_ussd_walks_to_a_menu_and_back_and_a_wrong_choice_reprompts(phone_on):
    """Dial, choose, go back, a wrong choice: the screens the webhook gives, with the sim's encoding and budget."""
    http, _ = await phone_on.sign_in("agent")
    await pick(http)
    html = await press(http, "*126#")
    main = screen(html)
    encoding, used, budget = budget_use(unescape(main), 182, 80)  # what `shortcode sim` prints under it
    assert "1." in main and f"CON · {encoding} {used}/{budget}" in html and encoding == "UCS-2"
    points = screen(await press(http, "2"))
    assert points != main and "0" in points
    assert screen(await press(http, "0")) == main
    wrong = screen(await press(http, "9"))
    assert wrong != main and wrong.endswith(main)  # a line on top, then the same menu again
    assert "phone-text" not in await press(http, action="end")


async def test_keypad_keys_type_and_send_dials(phone_on):
    """Without JavaScript each key is a post that adds to what is typed; Send dials it."""
    http, _ = await phone_on.sign_in("agent")
    await pick(http)
    for key in "*126#":
        html = await press(http, typed=re.search(r'id="typed" name="typed" value="([^"]*)"', await page(http)).group(1),
                           key=key)
    assert 'value="*126#"' in html
    assert "CON ·" in await press(http, "*126#")


async def test_an_unknown_code_is_refused_as_the_gateway_would(phone_on):
    http, _ = await phone_on.sign_in("agent")
    await pick(http)
    html = await press(http, "*999#")
    assert "The USSD gateway refuses this code." in html and "phone-text" not in html


async def test_an_sms_keyword_gets_its_reply_and_the_inbox_shows_it(phone_on):
    """BAL by SMS: the reply (cause sms-in:<id>) is on the screen and in the inbox, newest first, with its status."""
    http, _ = await phone_on.sign_in("agent")
    await pick(http, "sms")
    html = await press(http, "BAL")
    for _ in range(30):
        if screen(html):
            break
        await asyncio.sleep(0.2)
        html = await page(http)
    reply = screen(html)
    assert reply and "You: BAL" in html
    inbox = html.split('id="inbox"')[1]
    assert reply in inbox and "pending" in inbox and "reply" in inbox


async def test_the_inbox_shows_what_reaches_the_subscriber_and_no_full_number(phone_on):
    """A reminder written for the number is in its inbox; no page holds a demo number in full."""
    with phone_on.db.begin() as conn:
        outbox.add(conn, SHOWCASE, "Your bill is ready.", "test-reminder-1", NOW, kind="reminder")
    http, _ = await phone_on.sign_in("agent")
    html = await pick(http)
    assert "Your bill is ready." in html and "reminder" in html
    assert SHOWCASE not in html and SHOWCASE[1:] not in html and mask(SHOWCASE) in html
    assert not re.search(r"\d{9,}", re.sub(r'value="[0-9a-f]+"', "", html))


async def test_the_phone_page_speaks_chinese(phone_on):
    http, _ = await phone_on.sign_in("agent")
    async with http.get("/console/phone?lang=zh_Hans") as r:
        html = await r.text()
    assert "测试手机" in html and "收件箱" in html


@pytest.mark.parametrize("redis_url,phone,on", [("embedded", "auto", True), ("redis://x", "auto", False),
                                                ("embedded", "false", False), ("redis://x", "true", True)])
def test_auto_is_on_in_the_embedded_demo_only(settings_with, redis_url, phone, on):
    """`[console] phone`: "auto" follows embedded mode (embedded Redis and SQLite); true and false force it."""
    assert handset.enabled(settings_with(redis_url=redis_url, console_phone=phone)) is on


def test_a_phone_setting_that_is_not_auto_true_or_false_is_refused(settings_with):
    with pytest.raises(ValueError, match="console"):
        settings_with(console_phone="maybe")


async def test_a_golf_booking_confirms_on_screen_and_by_sms_in_the_inbox(phone_on):
    """The showcase books a tee time by bill: the confirming screen, and the same text as a confirmation SMS."""
    http, _ = await phone_on.sign_in("agent")
    await pick(http)
    for typed in ("*126#", "3", "1", "2", "3", "1", "1", "1", "1"):  # golf, book, course, date, time, 1, bill, ok
        html = await press(http, typed)
    assert "预订成功" in screen(html)
    inbox = html.split('id="inbox"')[1]
    assert "预订成功" in inbox and "confirmation" in inbox
