"""A campaign's lifecycle on a fixed clock: specs refused with a reason, moves only from the right state,
a second person for a big audience, the audience and its control group, and an audit row for every move."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from jobs import campaigns as c
from jobs.audit import read
from jobs.campaign_audience import in_control
from jobs.campaigns import CampaignError
from tests.jobs.campaign_world import CATALOGS, LI, NOW, QIAN, WANG, ZHAO, number, people, spec, world


@pytest.fixture
def engine(tmp_path):
    engine = world(f"sqlite:///{tmp_path}/c.db", 100, opted_out=(3, 8))
    yield engine
    engine.dispose()


@pytest.fixture
def both(sql_url):
    """The same world on SQLite and on PostgreSQL."""
    engine = world(sql_url, 100, opted_out=(3, 8))
    yield engine
    engine.dispose()


def refused(call, *args, **kwargs) -> CampaignError:
    with pytest.raises(CampaignError) as caught:
        call(*args, **kwargs)
    return caught.value


def made(engine, actor=LI, **changes) -> int:
    return c.create(engine, spec(**changes), actor, NOW)["id"]


def previewed(engine, share=0.1, **changes) -> dict:
    return c.preview(engine, made(engine, **changes), LI, NOW, CATALOGS, None, control_share=share)


# -- the spec -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, field", [
    ({"name": " "}, "name"),
    ({"text": {"en": "Hello"}}, "text"),
    ({"text": {"en": "Hi. Reply STOP to opt out.", "zh": "您好"}}, "text"),
    ({"text": {"en": "Hi", "zh": "回复1领取积分"}}, "text"),
    ({"kind": "holiday"}, "text or kind"),
    ({"audience": {"cities": ["Shanghai"]}}, "audience.cities"),
    ({"audience": {"zones": ["purple"]}}, "audience.zones"),
    ({"audience": {"prefixes": ["138"]}}, "audience.prefixes"),
    ({"audience": {}, "extra": 1}, "extra"),
    ({"offer": {"points": 2000, "package": "health", "price_fen": 100}}, "offer"),
    ({"offer": {"points": 0}}, "offer.points"),
    ({"offer": {"package": "nope", "price_fen": 100}}, "offer"),
    ({"start_at": "2026-12-03T10:00:00"}, "start_at"),
    ({"rate_per_second": 0}, "rate_per_second"),
])
def test_a_bad_spec_is_refused_with_422_naming_the_field(engine, changes, field):
    """Nothing is created; the reason names the field and says what is wrong."""
    error = refused(c.create, engine, spec(**changes), LI, NOW)
    assert (error.status, error.code) == (422, "invalid")
    assert field.split(" ")[0] in error.reason or "exactly one" in error.reason, error.reason
    assert c.listing(engine) == []


def test_a_kind_whose_trigger_cannot_be_asked_about_a_member_is_refused(engine):
    """Roaming is a feed read forward by the reminder runs' cursor: a campaign cannot ask it, and says why."""
    error = refused(c.create, engine, spec(text=None, kind="roaming"), LI, NOW)
    assert error.status == 422 and "roaming feed" in error.reason, error.reason
    assert refused(c.create, engine, spec(text=None, kind="autumn"), LI, NOW).reason.startswith(
        "kind: unknown reminder kind 'autumn'")


def test_create_makes_a_draft_and_audits_it(engine):
    """The status shows who made it and when; the audit log has the row."""
    status = c.create(engine, spec(), LI, NOW)
    assert (status["state"], status["created_by"], status["name"]) == ("draft", "li.na", "冬季关怀")
    assert status["created_at"] == NOW.isoformat() and status["sent"] == 0
    assert [(r["action"], r["target"]) for r in read(engine)] == [("campaign.create", f"campaign:{status['id']}")]


# -- the lifecycle --------------------------------------------------------------------------------------

def test_the_whole_lifecycle_moves_in_order_with_an_audit_row_each(both):
    """draft -> previewed -> approved -> running -> paused -> running -> cancelled."""
    engine = both
    cid = made(engine)
    assert c.preview(engine, cid, LI, NOW, CATALOGS, None)["state"] == "previewed"
    assert c.approve(engine, cid, ZHAO, NOW, 10_000)["approved_by"] == "zhao.min"
    assert c.launch(engine, cid, LI, NOW)["state"] == "running"
    assert c.pause(engine, cid, LI, NOW)["state"] == "paused"
    assert c.resume(engine, cid, LI, NOW)["state"] == "running"
    assert c.cancel(engine, cid, ZHAO, NOW)["state"] == "cancelled"
    assert [(r["action"], r["actor"], r["detail"]["state"]) for r in read(engine)] == [
        ("campaign.create", "li.na", "draft"), ("campaign.preview", "li.na", "previewed"),
        ("campaign.approve", "zhao.min", "approved"), ("campaign.launch", "li.na", "running"),
        ("campaign.pause", "li.na", "paused"), ("campaign.resume", "li.na", "running"),
        ("campaign.cancel", "zhao.min", "cancelled")]


@pytest.mark.parametrize("steps, move, needs", [
    ([], "approve", "previewed"),
    ([], "launch", "approved"),
    (["preview"], "launch", "approved"),
    (["preview"], "pause", "scheduled or running"),
    (["preview", "approve"], "preview", "draft or previewed"),
    (["preview", "approve"], "resume", "paused"),
    (["preview", "approve", "launch"], "approve", "previewed"),
    (["preview", "approve", "launch", "cancel"], "cancel", "draft"),
    (["preview", "approve", "launch", "cancel"], "resume", "paused"),
])
def test_a_move_from_the_wrong_state_is_409_and_changes_nothing(engine, steps, move, needs):
    """The reason says the state it is in and the one the move needs."""
    cid = made(engine)
    for step in steps:
        _do(engine, step, cid)
    before = c.status(engine, cid)
    error = refused(_do, engine, move, cid)
    assert (error.status, error.code) == (409, "wrong_state")
    assert f"is {before['state']}" in error.reason and needs in error.reason
    assert c.status(engine, cid) == before


def _do(engine, move: str, cid: int):
    if move == "preview":
        return c.preview(engine, cid, LI, NOW, CATALOGS, None)
    if move == "approve":
        return c.approve(engine, cid, ZHAO, NOW, 10_000)
    return getattr(c, move)(engine, cid, LI, NOW)


@pytest.mark.parametrize("move", ["preview", "approve", "launch", "pause", "resume", "cancel"])
def test_an_unknown_campaign_is_404(engine, move):
    error = refused(_do, engine, move, 999)
    assert (error.status, error.code) == (404, "not_found")


def test_a_start_in_the_future_is_scheduled(engine):
    """Launched with start_at an hour away: scheduled, with that start."""
    later = NOW + timedelta(hours=1)
    cid = made(engine, start_at=later.isoformat())
    c.preview(engine, cid, LI, NOW, CATALOGS, None)
    c.approve(engine, cid, LI, NOW, 10_000)
    status = c.launch(engine, cid, LI, NOW)
    assert (status["state"], status["start_at"]) == ("scheduled", later.isoformat())


def test_racing_approvals_make_one_move_and_one_refusal(both):
    """Two supervisors approve at once: one approves, the other is told it is approved already."""
    engine = both
    cid = made(engine)
    c.preview(engine, cid, LI, NOW, CATALOGS, None)
    outcomes = []

    def approve(actor):
        try:
            outcomes.append(c.approve(engine, cid, actor, NOW, 10_000)["state"])
        except CampaignError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=approve, args=(a,)) for a in (ZHAO, QIAN)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == ["approved", "wrong_state"]
    assert [r["action"] for r in read(engine)].count("campaign.approve") == 1


# -- second approval --------------------------------------------------------------------------------------

@pytest.mark.parametrize("creator, approver, allowed", [
    (LI, LI, False),  # an agent approving their own
    (LI, WANG, False),  # another agent: not senior enough
    (ZHAO, ZHAO, False),  # a supervisor approving their own
    (LI, ZHAO, True),
    (ZHAO, QIAN, True),
])
def test_an_audience_above_the_limit_needs_a_second_senior_person(engine, creator, approver, allowed):
    """Above second_approval_above: a supervisor or admin who did not create it; else 409, still previewed."""
    cid = made(engine, actor=creator)
    audience = c.preview(engine, cid, creator, NOW, CATALOGS, None)["audience"]
    if allowed:
        assert c.approve(engine, cid, approver, NOW, audience - 1)["state"] == "approved"
        return
    error = refused(c.approve, engine, cid, approver, NOW, audience - 1)
    assert (error.status, error.code) == (409, "second_approval")
    assert c.status(engine, cid)["state"] == "previewed"


def test_at_the_limit_the_creator_may_approve(engine):
    cid = made(engine)
    audience = c.preview(engine, cid, LI, NOW, CATALOGS, None)["audience"]
    assert c.approve(engine, cid, LI, NOW, audience)["state"] == "approved"


# -- the audience -----------------------------------------------------------------------------------------

def expected(audience: dict, n: int = 100, opted_out=(3, 8)) -> tuple[int, int]:
    """(members, suppressed) by the world's own rules (tests/jobs/campaign_world.py `people`)."""
    lang = {"zh": "zh_Hans"}
    match = [(i, p) for i, p in enumerate(people(n))
             if (not audience.get("zones") or p["zone"] in audience["zones"])
             and (not audience.get("tiers") or p["tier"] in audience["tiers"])
             and (not audience.get("languages") or p["language"] in [lang.get(x, x) for x in audience["languages"]])
             and (not audience.get("prefixes") or any(p["msisdn"].startswith(x) for x in audience["prefixes"]))
             and p["tenure"] >= audience.get("min_tenure_months", -99)
             and (p["active"] > 0 or "active_within_days" not in audience)]
    stopped = sum(i in opted_out for i, _ in match)
    return len(match) - stopped, stopped


@pytest.mark.parametrize("audience", [
    {},
    {"zones": ["red"]},
    {"zones": ["red", "white"], "tiers": ["gold"]},
    {"languages": ["en"]},
    {"languages": ["zh"]},
    {"prefixes": ["+86138000000"]},  # 0..99: all; and a narrower one
    {"prefixes": ["+861380000005", "+861380000009"]},
    {"min_tenure_months": 24},
    {"active_within_days": 30},
    {"zones": ["yellow"], "languages": ["zh_Hans"], "min_tenure_months": 6, "active_within_days": 10},
])
def test_the_audience_is_everyone_matching_every_filter_but_the_opted_out(both, audience):
    """Each filter narrows; opted-out subscribers are never members and are counted as suppressed."""
    got = previewed(both, audience=audience)
    assert (got["audience"], got["suppressed"]) == expected(audience)


def test_the_zone_is_the_latest_scored_week(tmp_path):
    """An older week's zones do not count: the newest week at or before the preview does."""
    engine = world(f"sqlite:///{tmp_path}/w.db", 50, week="2026-W48")
    from sqlalchemy import update

    from jobs.tables import ChurnScore
    with engine.begin() as conn:  # the same people scored again a week later, everyone red now
        rows = conn.execute(ChurnScore.__table__.select()).all()
        conn.execute(ChurnScore.__table__.insert(), [{**r._mapping, "week": "2026-W49", "zone": "red"} for r in rows])
        conn.execute(update(ChurnScore.__table__).where(ChurnScore.__table__.c.week == "2026-W48").values(zone="blue"))
    assert previewed(engine, audience={"zones": ["red"]})["audience"] == 50
    engine.dispose()


def test_the_control_group_is_the_configured_share_and_the_same_every_time(tmp_path):
    """Of 2,000 members about 10 % are held back; previewing again holds back the same people; another
    campaign holds back others."""
    engine = world(f"sqlite:///{tmp_path}/g.db", 2000)
    first = previewed(engine, audience={})
    assert first["audience"] == 2000 and 160 <= first["control"] <= 240
    again = c.preview(engine, first["id"], LI, NOW, CATALOGS, None, control_share=0.1)
    assert again["control"] == first["control"]
    held = {number(i) for i in range(2000) if in_control(first["id"], number(i), 0.1)}
    other = {number(i) for i in range(2000) if in_control(first["id"] + 1, number(i), 0.1)}
    assert len(held) == first["control"] and len(held & other) < len(held) / 2
    assert previewed(engine, share=0.0, audience={})["control"] == 0
    engine.dispose()


def test_the_preview_renders_both_languages_with_the_offer_line_and_the_opt_out_hint(engine):
    """The samples are the texts as sent: the agent's words, then what the system adds."""
    samples = previewed(engine)["samples"]
    assert samples["en"] == {"text": "We value you. Reply 1 to get 2,000 points. Reply STOP to opt out.",
                             "encoding": "GSM-7", "segments": 1, "characters": 65}
    assert samples["zh"]["text"] == "感谢您的一路相伴。回复1领取2,000积分。回复TD退订"
    assert (samples["zh"]["encoding"], samples["zh"]["segments"]) == ("UCS-2", 1)


def test_a_package_offer_names_the_package_and_its_offer_price(engine):
    samples = previewed(engine, offer={"package": "health", "price_fen": 4000})["samples"]
    assert samples["en"]["text"] == "We value you. Reply 1 for Health standard at ¥40.00/year. Reply STOP to opt out."


def test_listing_shows_the_newest_first_and_filters_by_state(engine):
    first, second = made(engine), made(engine, name="春节问候")
    c.preview(engine, second, LI, NOW, CATALOGS, None)
    assert [x["id"] for x in c.listing(engine)] == [second, first]
    assert [x["id"] for x in c.listing(engine, state="draft")] == [first]
    assert refused(c.listing, engine, state="sleeping").status == 422


def test_a_kind_campaigns_preview_renders_the_kind_with_sample_values_and_says_so(engine):
    """bill-ready at the lint's widest bill, its hint moved after the offer line; each sample carries a note."""
    samples = previewed(engine, text=None, kind="bill-ready")["samples"]
    assert samples["en"]["text"] == ("Your December 2026 bill is ¥99,999.99, due Dec 15. Reply 1 to get 2,000 "
                                     "points. Reply STOP to opt out.")
    assert samples["zh"]["text"] == "您2026年12月账单金额¥99,999.99，请于12月15日前缴费。回复1领取2,000积分。回复TD退订"
    assert all("sample values" in s["note"] and "'bill-ready'" in s["note"] for s in samples.values())
    plain = previewed(engine, text=None, kind="bill-ready", offer=None)["samples"]["en"]["text"]
    assert plain == "Your December 2026 bill is ¥99,999.99, due Dec 15. Reply STOP to opt out."
