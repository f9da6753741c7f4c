"""/metrics with real processes: two `serve` and a worker share one metrics folder, and either `serve` answers
for all three: the turns add up to the hops and texts sent, the sends and reports to the gateway's count."""
from __future__ import annotations

import pytest
from aiohttp import ClientSession

from tests.conftest import free_port
from tests.metrics_text import scrape, total
from tests.processes import SECRETS, Stack, bring_up, eventually, gateway_control, wait_http

SESSIONS, HOPS = 10, ("", "1", "1*0")  # each session: dial, a choice, back; hops alternate between processes
TEXTERS = [f"+86138000000{n:02d}" for n in range(11, 16)]


@pytest.fixture
async def stack(tmp_path, redis_url):
    stack = Stack(tmp_path, redis_url)
    await bring_up(stack, 30)
    port = free_port()
    stack.web2 = f"http://127.0.0.1:{port}"
    stack.start("web2", "serve", SHORTCODE_HTTP_PORT=str(port))
    await wait_http(stack.web2 + "/healthz")
    yield stack
    stack.stop()


async def hop(http: ClientSession, base: str, session: int, text: str) -> None:
    form = {"sessionId": f"m{session}", "serviceCode": "*126#", "phoneNumber": f"+86138000000{session + 1:02d}",
            "networkCode": "46000", "text": text}
    async with http.post(base + "/ussd/africastalking", params={"key": SECRETS["SHORTCODE_USSD_SECRET"]},
                         data=form) as r:
        assert r.status == 200 and (await r.text())[:4] in ("CON ", "END "), await r.text()


async def test_counters_scraped_from_either_serve_add_up_to_the_traffic_sent(stack):
    """30 USSD hops alternating between two processes and 5 texts: both processes' /metrics count 30 USSD
    turns and 5 SMS turns; the worker's sends and the reports match the gateway's count."""
    webs = [stack.web, stack.web2]
    async with ClientSession() as http:
        for n, (session, text) in enumerate((s, t) for s in range(SESSIONS) for t in HOPS):
            await hop(http, webs[n % 2], session, text)
    for msisdn in TEXTERS:
        await gateway_control(stack, "/control/inbound", {"from": msisdn, "to": "12580", "text": "GOLF"})

    async def settled() -> str | None:
        accepted = (await gateway_control(stack, "/control/stats"))["accepted"]
        text = await scrape(stack.web2)
        reports = total(text, "shortcode_delivery_reports_total")
        return text if accepted == len(TEXTERS) and reports == 2 * accepted else None

    text = await eventually(settled, timeout=30, every=0.2)
    for base in webs:  # the same sums whichever process is asked
        seen = text if base == stack.web2 else await scrape(base)
        assert total(seen, "shortcode_turns_total", channel="ussd") == SESSIONS * len(HOPS)
        assert total(seen, "shortcode_turn_seconds_count", channel="ussd") == SESSIONS * len(HOPS)
        assert total(seen, "shortcode_turns_total", channel="sms") == len(TEXTERS)
    assert total(text, "shortcode_outbox_submits_total", channel="sms", status="sent") == len(TEXTERS)
    assert total(text, "shortcode_delivery_reports_total", status="Sent") == len(TEXTERS)
    assert total(text, "shortcode_outbox_rows", channel="sms", kind="reply", status="sent") == len(TEXTERS)
    assert total(text, "shortcode_scrape_source_up") == 2
