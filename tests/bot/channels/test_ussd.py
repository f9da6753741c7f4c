"""The USSD endpoint over real HTTP on loopback, against a real redis-server."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlmodel import Session as DbSession, select

from bot.models import UssdSessionEnd
from bot.web import make_app

MSISDN = "+8613800000001"


@pytest.fixture
async def base(core, db):
    server = TestServer(make_app(core), host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


@pytest.fixture
async def http():
    async with ClientSession() as s:
        yield s


async def hop(http, base, text="", sid="s1", number=MSISDN, key="test-secret", **extra):
    form = {"sessionId": sid, "serviceCode": "*126#", "phoneNumber": number, "networkCode": "46000",
            "text": text, **extra}
    async with http.post(f"{base}/ussd/africastalking", params={"key": key}, data=form) as r:
        return r.status, await r.text()


async def test_first_hop_answers_the_main_menu(http, base):
    status, body = await hop(http, base)
    assert status == 200
    assert body.startswith("CON 掌上营业厅\n1. 我的账户\n2. 我的积分")


async def test_deep_navigation_uses_every_input_so_far(http, base):
    await hop(http, base, "")
    await hop(http, base, "1")
    status, body = await hop(http, base, "1*2")
    assert body == "CON 您的话费余额为¥56.30。\n0 返回 00 主页"
    _, body = await hop(http, base, "1*2*0")
    assert body.startswith("CON 我的账户")


async def test_replayed_hop_returns_the_same_screen_without_applying_twice(http, base, core):
    await hop(http, base, "")
    _, first = await hop(http, base, "9")  # a wrong input: counted once
    _, again = await hop(http, base, "9")  # the gateway retries the same hop
    assert again == first and first.startswith("CON 输入有误")
    _, third = await hop(http, base, "9*9")  # a second wrong input, not the third
    assert third.startswith("CON 输入有误")
    _, end = await hop(http, base, "9*9*9")
    assert end.startswith("END ")


async def test_replayed_first_hop_keeps_the_session(http, base):
    await hop(http, base, "")
    await hop(http, base, "1")
    _, body = await hop(http, base, "")  # a late duplicate of the first hop: no reset, no resume offer
    assert body.startswith("CON 我的账户")
    _, body = await hop(http, base, "1*1")
    assert "本月账单" in body and "188.50" in body


async def test_paging_over_http_answers_98(http, base):
    """The points screen is one page: 98 is a wrong choice there, answered with the same screen."""
    await hop(http, base, "")
    await hop(http, base, "2")
    _, body = await hop(http, base, "2*98")
    assert body.startswith("CON 输入有误") and "12,800" in body


async def test_new_dial_within_resume_window_offers_continue(http, base):
    await hop(http, base, "", sid="a")
    await hop(http, base, "1", sid="a")
    await hop(http, base, "1*2", sid="a")
    _, body = await hop(http, base, "", sid="b")
    assert body == "CON 欢迎回来，是否继续上次的操作？\n1. 继续\n2. 重新开始"
    _, body = await hop(http, base, "1", sid="b")
    assert body.startswith("CON 您的话费余额为")


async def test_unknown_number_gets_a_polite_end(http, base):
    status, body = await hop(http, base, number="+8613999999999")
    assert status == 200 and body == "END 抱歉，本服务仅限Shortcode Mobile用户使用。"


@pytest.mark.parametrize("key", ["", "wrong", "test-secret-but-longer"])
async def test_wrong_secret_is_forbidden_and_changes_nothing(http, base, core, key):
    status, body = await hop(http, base, key=key)
    assert status == 403 and "forbidden" in body
    from bot.redisconn import connect
    pair = connect(core.settings.redis.url)
    assert await pair.aio.keys(f"{core.settings.redis.prefix}*") == []
    await pair.close()


async def test_secret_in_header_is_accepted(http, base):
    form = {"sessionId": "h", "serviceCode": "*126#", "phoneNumber": MSISDN, "text": ""}
    async with http.post(f"{base}/ussd/africastalking", data=form, headers={"X-Shortcode-Key": "test-secret"}) as r:
        assert r.status == 200 and (await r.text()).startswith("CON ")


@pytest.mark.parametrize("form,reason", [
    ({"serviceCode": "*126#", "phoneNumber": MSISDN, "text": ""}, "missing field 'sessionId'"),
    ({"sessionId": "x", "serviceCode": "*999#", "phoneNumber": MSISDN}, "unknown serviceCode"),
    ({"sessionId": "x", "serviceCode": "*126#", "phoneNumber": "hello"}, "phoneNumber"),
    ({"sessionId": "x", "serviceCode": "*126#", "phoneNumber": MSISDN, "text": "1" * 1001}, "longer than 1000"),
    ({"sessionId": "x\x00", "serviceCode": "*126#", "phoneNumber": MSISDN}, "NUL"),
])
async def test_malformed_form_gets_400_with_a_reason(http, base, form, reason):
    async with http.post(f"{base}/ussd/africastalking?key=test-secret", data=form) as r:
        assert r.status == 400 and reason in await r.text()


async def test_json_body_gets_400_and_oversized_body_413(http, base):
    async with http.post(f"{base}/ussd/africastalking?key=test-secret", json={"sessionId": "x"}) as r:
        assert r.status == 400 and "form" in await r.text()
    big = {"sessionId": "x", "serviceCode": "*126#", "phoneNumber": MSISDN, "text": "1" * 20000}
    async with http.post(f"{base}/ussd/africastalking?key=test-secret", data=big) as r:
        assert r.status == 413


async def test_two_concurrent_hops_of_one_subscriber_do_not_interleave(http, base, core):
    """Both answers come back; the lock serialises them, so exactly one input is applied."""
    await hop(http, base, "")
    results = await asyncio.gather(hop(http, base, "1"), hop(http, base, "1"))
    assert [s for s, _ in results] == [200, 200]
    assert results[0][1] == results[1][1] and results[0][1].startswith("CON 我的账户")
    from bot.redisconn import connect
    from bot.store import SessionStore
    pair = connect(core.settings.redis.url)
    session = await SessionStore(pair.aio, core.settings.redis.prefix).peek("{" + MSISDN + "}")
    await pair.close()
    assert session.hops == 1 and session.location == ("account", "home")


async def test_end_notification_is_recorded_once(http, base, db):
    form = {"sessionId": "e1", "serviceCode": "*126#", "phoneNumber": MSISDN, "networkCode": "46000",
            "status": "Success", "durationInMillis": "5230", "hopsCount": "3", "input": "1*2", "errorMessage": ""}
    for expected in ("OK", "OK (duplicate)"):
        async with http.post(f"{base}/ussd/africastalking/end?key=test-secret", data=form) as r:
            assert r.status == 200 and await r.text() == expected
    with DbSession(db) as s:
        rows = s.exec(select(UssdSessionEnd)).all()
    assert [(r.session_id, r.status, r.hops, r.duration_ms) for r in rows] == [("e1", "Success", 3, 5230)]


async def test_end_notification_without_key_is_forbidden(http, base):
    async with http.post(f"{base}/ussd/africastalking/end", data={"sessionId": "e"}) as r:
        assert r.status == 403
