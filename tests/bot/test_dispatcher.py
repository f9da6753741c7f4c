"""The dispatcher acts on a turn's events only once the session it belongs to is saved."""
from __future__ import annotations

import pytest
import redis.asyncio as aredis

from bot.dispatcher import Inbound
from bot.store import StaleSession
from bot.wiring import build_core, build_dispatcher

MSISDN = "+8613800000001"


async def test_language_change_of_a_refused_turn_is_not_applied(core, db, redis_url, monkeypatch):
    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(core, client, db)
    for n, text in enumerate([None, "1", "3"]):
        await d.handle(Inbound("ussd", MSISDN, "s", text, n, "*126#"))

    async def stale(held, session):
        await d.store.release(held)
        raise StaleSession(MSISDN)

    monkeypatch.setattr(d.store, "save", stale)
    refused = await d.handle(Inbound("ussd", MSISDN, "s", "2", 3, "*126#"))  # English
    assert refused.final and refused.text == "抱歉，服务繁忙，请稍后再拨。"
    assert d.subscribers.profile(MSISDN).lang == "zh_Hans"
    monkeypatch.undo()
    reply = await d.handle(Inbound("ussd", MSISDN, "s", "2", 3, "*126#"))
    assert reply.text.startswith("Done") and d.subscribers.profile(MSISDN).lang == "en"
    await client.aclose()


async def _redeem(d, ref, hops_so_far=0):
    """Dial and go to the ¥10 top-up confirm screen; returns the hop count."""
    n = hops_so_far
    for text in [None, "2", "3", "1"]:
        n += 0 if text is None else 1
        await d.handle(Inbound("ussd", MSISDN, ref, text, n, "*126#"))
    return n


async def test_confirm_again_after_a_lost_save_and_a_redial_redeems_once(core, db, redis_url, monkeypatch):
    """The points were taken, then the session save failed; the subscriber redials, continues and
    confirms again: the idempotency key survives the resume, so nothing is taken twice."""
    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(core, client, db)
    n = await _redeem(d, "s1")
    original = d.store.save

    async def lost(held, session):
        await d.store.release(held)
        raise ConnectionError("redis went away")

    monkeypatch.setattr(d.store, "save", lost)
    assert (await d.handle(Inbound("ussd", MSISDN, "s1", "1", n + 1, "*126#"))).final  # apology
    monkeypatch.setattr(d.store, "save", original)
    assert d.services.boss.account(MSISDN).points == 12_300
    offer = await d.handle(Inbound("ussd", MSISDN, "s2", None, 0, "*126#"))
    assert offer.text.startswith("欢迎回来")
    await d.handle(Inbound("ussd", MSISDN, "s2", "1", 1, "*126#"))
    done = await d.handle(Inbound("ussd", MSISDN, "s2", "1", 2, "*126#"))
    assert "12,300" in done.text and d.services.boss.account(MSISDN).points == 12_300
    await client.aclose()


async def test_the_same_answers_twice_in_one_session_are_two_operations(core, db, redis_url):
    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(core, client, db)
    n = await _redeem(d, "s1")
    await d.handle(Inbound("ussd", MSISDN, "s1", "1", n + 1, "*126#"))
    await d.handle(Inbound("ussd", MSISDN, "s1", "0", n + 2, "*126#"))  # back to the rewards
    await d.handle(Inbound("ussd", MSISDN, "s1", "1", n + 3, "*126#"))
    await d.handle(Inbound("ussd", MSISDN, "s1", "1", n + 4, "*126#"))
    assert d.services.boss.account(MSISDN).points == 11_800  # two top-ups, two debits
    await client.aclose()


async def test_start_over_then_the_same_choices_is_a_new_operation(core, db, redis_url):
    """Start over clears the answers but not the count of operations: the next top-up is debited too."""
    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(core, client, db)
    n = await _redeem(d, "s1")
    await d.handle(Inbound("ussd", MSISDN, "s1", "1", n + 1, "*126#"))  # first top-up
    await d.handle(Inbound("ussd", MSISDN, "s1", "0", n + 2, "*126#"))  # somewhere not the root
    assert (await d.handle(Inbound("ussd", MSISDN, "s2", None, 0, "*126#"))).text.startswith("欢迎回来")
    await d.handle(Inbound("ussd", MSISDN, "s2", "2", 1, "*126#"))  # start over
    for hop, text in enumerate(["2", "3", "1", "1"], 2):
        await d.handle(Inbound("ussd", MSISDN, "s2", text, hop, "*126#"))
    assert d.services.boss.account(MSISDN).points == 11_800
    await client.aclose()


@pytest.mark.parametrize("cache_s, partner_reads", [(0, 3), (2, 0)])
async def test_a_hop_inside_a_conversation_writes_nothing_to_the_database(settings_with, db, redis_url, cache_s,
                                                                          partner_reads):
    """Paging the tee-time list deep in the golf flow: the profile comes with the session, and no statement
    writes or commits. The only database work is the partner's tee-sheet read, once a page, or none while
    `[partners] read_cache_seconds` keeps the read the list was first shown from."""
    from sqlalchemy import event

    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(build_core(settings_with(partners_read_cache_seconds=cache_s)), client, db)
    for n, text in enumerate([None, "3", "1", "1", "3"]):
        await d.handle(Inbound("ussd", MSISDN, "deep", text, n, "*126#"))
    statements: list[str] = []
    commits: list[int] = []
    event.listen(db, "before_cursor_execute", lambda conn, cur, sql, *a: statements.append(sql))
    event.listen(db, "commit", lambda conn: commits.append(1))
    for n, text in enumerate(["98", "99", "98"], 5):
        reply = await d.handle(Inbound("ussd", MSISDN, "deep", text, n, "*126#"))
        assert "98" in reply.text or "99" in reply.text
    reads = [sql for sql in statements if sql != "BEGIN"]  # SQLite: every connection begins explicitly
    assert commits == [] and len(reads) == partner_reads
    assert all(sql.lstrip().upper().startswith("SELECT") and "tee_booking" in sql for sql in reads)
    await client.aclose()


async def test_a_subscriber_in_shanghai_stays_there_when_the_service_default_is_elsewhere(settings_with, db,
                                                                                         redis_url):
    """The session leaves out only the *configured* default zone: with [service] timezone = Europe/London,
    a subscriber recorded in Asia/Shanghai must not be read back mid-conversation as London."""
    core = build_core(settings_with(service_timezone="Europe/London"))
    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(core, client, db)
    assert d.subscribers.profile(MSISDN).timezone == "Asia/Shanghai"
    await d.handle(Inbound("ussd", MSISDN, "tz", None, 0, "*126#"))
    held = await d.store.acquire(d.channel.session_key(MSISDN))
    await d.store.release(held)
    assert (await d._profile(held, Inbound("ussd", MSISDN, "tz", "1", 1, "*126#"))).timezone == "Asia/Shanghai"
    await client.aclose()


async def test_a_reply_carries_the_screen_its_page_and_language_as_well_as_the_text(core, db, redis_url):
    """A channel that draws options as buttons gets the channel-neutral screen, the page shown, the page
    count and the language; rendering them again gives exactly the text the reply carries."""
    client = aredis.Redis.from_url(redis_url)
    d = build_dispatcher(core, client, db)
    for n, text in enumerate([None, "3", "1", "1"]):  # golf: the tee times of a course and day
        first = await d.handle(Inbound("ussd", MSISDN, "screen", text, n, "*126#"))
    more = await d.handle(Inbound("ussd", MSISDN, "screen", "98", 4, "*126#"))
    assert first.pages > 1 and (first.page, more.page) == (0, 1) and more.pages == first.pages
    assert first.screen == more.screen and first.screen.options and first.lang == more.lang == "zh_Hans"
    for reply in (first, more):
        rendered = core.renderers["ussd"].render(reply.screen, reply.lang, reply.page)
        assert (rendered.text, rendered.final) == (reply.text, reply.final)
    apology = d.apology("en")
    assert apology.final and apology.screen.title.msgid == apology.text and apology.lang == "en"
    await client.aclose()
