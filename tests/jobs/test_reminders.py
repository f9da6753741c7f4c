"""Reminder runs on a fixed clock: every kind selects on its day (the operator's, or the subscriber's own for
birthdays), renders in the subscriber's language, and writes each reminder once per occasion."""
from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from jobs.reminder_write import run_counts
from jobs.reminders import run
from jobs.tables import Outbox, ReminderGoto, TelegramOutbox
from tests.jobs.reminder_fakes import (CATALOGS, KINDS, SETUP, Bill, Ending, FakeBoss, FakeGolf, FakeHospital,
                                       FakePolice, LowBalance, RoamingEvent, RoamingTariff, Suspension, database,
                                       link_telegram, services)

UTC = timezone.utc
ZH, EN = "+8613800000001", "+8613800000002"
SUBSCRIBERS = [(ZH, "zh_Hans", "Asia/Shanghai", "gold"), (EN, "en", "Asia/Shanghai", "regular")]


def at_shanghai(y, m, d, hour=10) -> datetime:
    """A moment given in the operator's zone (UTC+8)."""
    return datetime(y, m, d, hour, tzinfo=UTC) - timedelta(hours=8)


@pytest.fixture
def engine(tmp_path):
    engine = database(f"sqlite:///{tmp_path}/r.db", SUBSCRIBERS)
    yield engine
    engine.dispose()


def go(engine, kind, now, svc, **options):
    return run(KINDS[kind], now, engine, svc, CATALOGS, SETUP, **options)


def rows(engine, table=Outbox):
    with engine.connect() as conn:
        t = table.__table__
        return conn.execute(select(t).order_by(t.c.id if "id" in t.c else t.c.msisdn)).all()


def texts(engine) -> dict[str, str]:
    return {r.msisdn: r.text for r in rows(engine)}


def test_bill_ready_on_the_issue_day_in_each_language(engine):
    """The bill's month, amount and due date, in the subscriber's language, on the day it is issued."""
    boss = FakeBoss(bills=[Bill(ZH, "2026-12", 12_850, 12_850, date(2026, 12, 1), date(2026, 12, 15)),
                           Bill(EN, "2026-12", 850, 850, date(2026, 12, 1), date(2026, 12, 15))])
    assert go(engine, "bill-ready", at_shanghai(2026, 11, 30), services(boss=boss)).selected == 0
    counts = go(engine, "bill-ready", at_shanghai(2026, 12, 1), services(boss=boss))
    assert (counts.selected, counts.queued) == (2, 2)
    assert texts(engine) == {ZH: "您2026年12月账单金额¥128.50，请于12月15日前缴费。回复TD退订",
                             EN: "Your December 2026 bill is ¥8.50, due Dec 15. Reply STOP to opt out."}
    row = rows(engine)[0]
    assert (row.cause, row.kind, row.topic, row.cap_class, row.status) == (
        f"rem:bill-ready:2026-12:{ZH}", "reminder", "bill-ready", "care", "pending")


def test_bill_due_three_days_before_a_31st_and_across_a_month_end(engine):
    """N days before the due date in the operator's calendar: Dec 28 for Dec 31, Dec 30 for Jan 2; a paid
    bill is not reminded."""
    boss = FakeBoss(bills=[Bill(ZH, "2026-12", 10_000, 4_000, date(2026, 12, 1), date(2026, 12, 31)),
                           Bill(EN, "2026-12", 10_000, 10_000, date(2026, 12, 3), date(2027, 1, 2))])
    svc = services(boss=boss)
    # 01:00 in Shanghai on Dec 28 is still Dec 27 in UTC: the operator's day counts
    assert go(engine, "bill-due", datetime(2026, 12, 27, 17, 0, tzinfo=UTC), svc).selected == 1
    assert texts(engine) == {ZH: "温馨提示：您的账单尚有¥40.00未缴，请于12月31日前缴清。回复TD退订"}
    assert go(engine, "bill-due", at_shanghai(2026, 12, 29), svc).selected == 0
    go(engine, "bill-due", at_shanghai(2026, 12, 30), svc)
    assert texts(engine)[EN] == "Reminder: ¥100.00 is still due on your bill, by Jan 2. Reply STOP to opt out."
    assert rows(engine)[1].cap_class == "service"
    paid = FakeBoss(bills=[Bill(ZH, "2027-01", 10_000, 0, date(2027, 1, 1), date(2027, 1, 31))])
    assert go(engine, "bill-due", at_shanghai(2027, 1, 28), services(boss=paid)).selected == 0


def test_low_balance_once_per_crossing_with_its_reply(engine):
    """One reminder per crossing, whatever the number of runs; a new crossing is a new reminder. It names the
    reply, and the reply's flow state and values are kept beside it for 48 hours."""
    t1, t2 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC), datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    boss = FakeBoss(lows=[LowBalance(EN, 850, t1)])
    now = datetime(2026, 12, 2, 1, 10, tzinfo=UTC)
    go(engine, "low-balance", now, services(boss=boss))
    go(engine, "low-balance", now + timedelta(minutes=10), services(boss=boss))
    assert texts(engine) == {EN: "Your balance is ¥8.50, below ¥10.00. Reply 1 to top up ¥50.00 with 2,500 points. "
                                 "Reply STOP to opt out."}
    [goto] = rows(engine, ReminderGoto)
    assert (goto.kind, goto.goto, goto.cause) == ("low-balance", "points.topup",
                                                  f"rem:low-balance:20261202T010000:{EN}")
    assert json.loads(goto.params)["reward"] == "topup50" and json.loads(goto.params)["balance_fen"] == 850
    assert goto.expires_at.replace(tzinfo=UTC) == now + timedelta(hours=48)
    boss.lows[:] = [LowBalance(EN, 400, t2)]
    go(engine, "low-balance", t2 + timedelta(minutes=5), services(boss=boss))
    assert len(rows(engine)) == 2
    assert rows(engine, ReminderGoto)[0].cause == f"rem:low-balance:20261205T030000:{EN}"


def test_package_expiring_offers_the_tier_price_or_nothing(engine):
    """Seven days before the end, the renewal at the subscriber's tier; a package the tier cannot buy is skipped."""
    boss = FakeBoss(endings=[Ending(ZH, "car_full", date(2026, 12, 31)), Ending(EN, "golf", date(2026, 12, 31)),
                             Ending(EN, "health_tips", date(2027, 1, 1))])
    counts = go(engine, "package-expiring", at_shanghai(2026, 12, 24), services(boss=boss))
    assert (counts.selected, counts.queued, counts.skipped) == (2, 1, 1)  # regular tier: no golf price
    assert texts(engine) == {ZH: "您的车主全能包将于12月31日到期，回复1续订（¥200.00/年）。回复TD退订"}
    go(engine, "package-expiring", at_shanghai(2026, 12, 25), services(boss=boss))
    assert texts(engine)[EN] == "Health tips ends Jan 1. Reply 1 to renew for ¥5.00/month. Reply STOP to opt out."
    assert {g.goto for g in rows(engine, ReminderGoto)} == {"packages.renew"}


def test_points_expiring_on_the_chosen_november_days_for_the_nov_30_cycle_end(engine):
    """Nov 1, 15 and 25 remind of the points lapsing on Nov 30; other days, and December, do not."""
    boss = FakeBoss(expiring={ZH: 2_500})
    svc = services(boss=boss)
    for day in (date(2026, 11, 2), date(2026, 11, 30), date(2026, 12, 1), date(2026, 10, 25)):
        assert go(engine, "points-expiring", at_shanghai(day.year, day.month, day.day), svc).selected == 0
    go(engine, "points-expiring", at_shanghai(2026, 11, 25), svc)
    assert boss.asked == [("points_expiring", date(2026, 11, 30))]
    assert texts(engine) == {ZH: "您有2,500积分（价值¥50.00）将于11月30日过期，回复1兑换。回复TD退订"}
    go(engine, "points-expiring", at_shanghai(2026, 11, 25, 15), svc)  # a second run that day: nothing new
    go(engine, "points-expiring", at_shanghai(2027, 11, 1), svc)
    assert [r.cause for r in rows(engine)] == [f"rem:points-expiring:2026-11-25:{ZH}",
                                               f"rem:points-expiring:2027-11-01:{ZH}"]
    assert boss.asked[-1] == ("points_expiring", date(2027, 11, 30))


def test_roaming_follows_the_feed_from_a_durable_cursor(engine):
    """Each event once, the feed read after the last event handled; a stale event is passed over; a country
    without a tariff gets the standard-rates line."""
    t = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    boss = FakeBoss(tariffs={"JP": RoamingTariff("JP", 3_000, 1_024)},
                    events=[RoamingEvent(1, ZH, "JP", t - timedelta(days=3)), RoamingEvent(2, ZH, "JP", t),
                            RoamingEvent(3, EN, "TH", t)])
    go(engine, "roaming", t + timedelta(minutes=1), services(boss=boss))
    assert texts(engine) == {ZH: "欢迎来到日本！漫游资费：¥30.00/天，含1,024MB流量。回复TD退订",
                             EN: "Welcome to Thailand! Roaming: standard rates apply. Reply STOP to opt out."}
    boss.events.append(RoamingEvent(4, EN, "JP", t + timedelta(hours=1)))
    counts = go(engine, "roaming", t + timedelta(hours=1, minutes=1), services(boss=boss))
    assert counts.selected == 1  # only the new event was read
    assert [r.cause for r in rows(engine)][-1] == f"rem:roaming:ev4:{EN}"


def test_appointment_and_tee_time_the_day_before(engine):
    """What, where, when and the code, the day before."""
    appointment = SimpleNamespace(code="D1234", doctor_id=5, day=date(2026, 12, 3), half="pm", number=12)
    booking = SimpleNamespace(code="G5678", course_id=3, day=date(2026, 12, 3), slot=9 * 60 + 6, players=2,
                              status="booked")
    svc = services(hospital=FakeHospital([(ZH, appointment)]), golf=FakeGolf([(EN, booking)]))
    go(engine, "appointment", at_shanghai(2026, 12, 2), svc)
    go(engine, "tee-time", at_shanghai(2026, 12, 2), svc)
    assert texts(engine) == {ZH: "就诊提醒：12月3日下午，协和医院心内科李医生，12号，预约码D1234。回复TD退订",
                             EN: "Tee time Dec 3 09:06 at Mission Hills, 2 players, code G5678. Reply STOP to opt out."}


def test_inspection_due_thirty_days_before_with_the_plate_masked(engine):
    police = FakePolice([(EN, SimpleNamespace(plate="粤B12345", inspection_due=date(2027, 1, 1)))])
    assert go(engine, "inspection-due", at_shanghai(2026, 12, 1), services(police=police)).selected == 0
    go(engine, "inspection-due", at_shanghai(2026, 12, 2), services(police=police))
    assert texts(engine) == {EN: "Vehicle 粤B***45 is due for its annual inspection on Jan 1. Reply STOP to opt out."}


def test_suspension_care_before_the_line_is_suspended(engine):
    boss = FakeBoss(suspended=[Suspension(ZH, 5_600, date(2026, 12, 10))])
    go(engine, "suspension-care", at_shanghai(2026, 12, 8), services(boss=boss))
    assert texts(engine) == {ZH: "您已欠费¥56.00，请于12月10日前缴清以免停机，可到营业厅或通过支付宝缴费。回复TD退订"}
    assert rows(engine)[0].cap_class == "service"


@pytest.fixture
def birthdays(tmp_path):
    la, sh = "+8613800000010", "+8613800000011"
    engine = database(f"sqlite:///{tmp_path}/b.db", [(la, "en", "America/Los_Angeles", "silver"),
                                                     (sh, "zh_Hans", "Asia/Shanghai", "gold")])
    yield engine, la, sh
    engine.dispose()


@pytest.mark.parametrize("fold", [False, True])
def test_feb_29_birthdays_on_feb_28_of_a_common_year_in_each_subscribers_zone(birthdays, fold):
    """Born Feb 29: greeted on Feb 28 in 2027 from 09:00 in their own zone (Shanghai first, Los Angeles 16 hours
    later), on Feb 29 in 2028 and not on Feb 28; whether the BOSS folds Feb 29 into Feb 28 itself or not."""
    engine, la, sh = birthdays
    boss = FakeBoss(born={la: (2, 29), sh: (2, 29)}, fold_feb29=fold)
    svc = services(boss=boss)

    def greeted(moment):
        go(engine, "birthday", moment, svc)
        return {r.msisdn: r.cause for r in rows(engine)}

    assert greeted(datetime(2027, 2, 28, 0, 30, tzinfo=UTC)) == {}  # 08:30 in Shanghai: before 09:00
    assert greeted(datetime(2027, 2, 28, 1, 5, tzinfo=UTC)) == {sh: f"rem:birthday:2027-02-28:{sh}"}
    assert greeted(datetime(2027, 2, 28, 16, 5, tzinfo=UTC)) == {sh: f"rem:birthday:2027-02-28:{sh}"}  # LA 08:05
    assert greeted(datetime(2027, 2, 28, 17, 5, tzinfo=UTC))[la] == f"rem:birthday:2027-02-28:{la}"
    assert greeted(datetime(2027, 3, 1, 17, 5, tzinfo=UTC)).keys() == {la, sh}  # once a year
    assert len(rows(engine)) == 2
    texts = {r.msisdn: r.text for r in rows(engine)}
    assert texts[sh] == "Sub 0011，祝您生日快乐！金卡会员尊享高尔夫及业务套餐优惠价。回复TD退订"
    assert texts[la] == ("Happy birthday, Sub 0010! Your silver prices on service packages are waiting. "
                         "Reply STOP to opt out.")
    assert {r.kind for r in rows(engine)} == {"marketing"}
    go(engine, "birthday", datetime(2028, 2, 28, 17, 5, tzinfo=UTC), svc)  # a leap year: not on Feb 28
    assert len(rows(engine)) == 2
    go(engine, "birthday", datetime(2028, 2, 29, 1, 5, tzinfo=UTC), svc)
    go(engine, "birthday", datetime(2028, 2, 29, 17, 5, tzinfo=UTC), svc)
    assert sorted(r.cause for r in rows(engine))[-2:] == [f"rem:birthday:2028-02-29:{la}",
                                                          f"rem:birthday:2028-02-29:{sh}"]


@pytest.mark.parametrize("day, holiday", [(date(2026, 2, 17), "春节"), (date(2026, 9, 25), "中秋节"),
                                          (date(2026, 10, 1), "国庆节"), (date(2027, 2, 6), "春节"),
                                          (date(2027, 9, 15), "中秋节"), (date(2027, 10, 1), "国庆节")])
def test_holiday_table_by_year_greets_everyone(engine, day, holiday):
    counts = go(engine, "holiday-greeting", at_shanghai(day.year, day.month, day.day), services())
    assert counts.queued == 2
    assert texts(engine)[ZH] == f"祝您{holiday}快乐，阖家幸福！回复TD退订"
    assert {(r.kind, r.cap_class) for r in rows(engine)} == {("marketing", "marketing")}


def test_no_holiday_no_greeting(engine):
    for day in (date(2026, 9, 26), date(2027, 9, 25), date(2026, 2, 6)):
        assert go(engine, "holiday-greeting", at_shanghai(day.year, day.month, day.day), services()).selected == 0


def test_a_repeated_run_writes_nothing_twice_and_records_the_run(engine):
    now = at_shanghai(2026, 10, 1)
    first = go(engine, "holiday-greeting", now, services())
    again = go(engine, "holiday-greeting", now + timedelta(hours=1), services())
    assert (first.queued, again.queued, again.already) == (2, 0, 2)
    assert len(rows(engine)) == 2
    record = run_counts(engine, "holiday-greeting:2026-10-01")
    assert (record["selected"], record["queued"], record["kind"], record["period"]) == (2, 2, "holiday-greeting",
                                                                                        "2026-10-01")
    assert record["finished_at"] is not None


def test_two_runs_racing_write_one_row_per_subscriber(sql_url):
    """Two workers running the same kind and period at once (SQLite and PostgreSQL): one row each."""
    subscribers = [(f"+86138000{i:05d}", "en", "Asia/Shanghai", "regular") for i in range(300)]
    engine = database(sql_url, subscribers)
    barrier, results, errors = threading.Barrier(2), [], []

    def worker():
        try:
            barrier.wait()
            results.append(go(engine, "holiday-greeting", at_shanghai(2026, 10, 1), services(), batch=50))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert not errors
    assert len(rows(engine)) == 300
    assert len({r.cause for r in rows(engine)}) == 300
    assert sum(r.queued for r in results) == 300
    assert run_counts(engine, "holiday-greeting:2026-10-01")["queued"] == 300
    engine.dispose()


def test_telegram_subscribers_get_it_in_their_chat_and_ids_are_queued_in_batches(engine):
    """A subscriber who chose Telegram (/notify) gets the reminder there; the rest by SMS; new ids go to the
    senders' queues in batches."""
    link_telegram(engine, EN, 777)
    queued = []
    go(engine, "holiday-greeting", at_shanghai(2026, 10, 1), services(), enqueue=lambda ch, ids: queued.append((ch, ids)))
    [sms] = rows(engine)
    [tg] = rows(engine, TelegramOutbox)
    assert (sms.msisdn, tg.msisdn, tg.chat_id, tg.kind, tg.topic) == (ZH, EN, 777, "marketing", "holiday-greeting")
    assert tg.text == "Wishing you a happy National Day! Reply STOP to opt out."
    assert sorted(queued) == [("sms", [sms.id]), ("telegram", [tg.id])]
    go(engine, "holiday-greeting", at_shanghai(2026, 10, 1), services(), enqueue=lambda ch, ids: queued.append(1))
    assert len(queued) == 2  # nothing new, nothing queued


def test_opted_out_subscribers_are_counted_not_written(engine):
    from jobs.tables import OptOut
    from sqlalchemy import insert

    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn=ZH, opted_out=True, channel="sms", text="TD",
                                                     changed_at=datetime(2026, 9, 1, tzinfo=UTC)))
    counts = go(engine, "holiday-greeting", at_shanghai(2026, 10, 1), services())
    assert (counts.selected, counts.queued, counts.suppressed) == (2, 1, 1)
    assert list(texts(engine)) == [EN]


def test_one_subscriber_and_a_dry_run(engine):
    """`--msisdn` runs one subscriber; a dry run writes nothing and records no run."""
    dry = go(engine, "holiday-greeting", at_shanghai(2026, 10, 1), services(), dry_run=True)
    assert (dry.selected, dry.queued, rows(engine)) == (2, 2, [])
    assert dry.sample[0] == "祝您国庆节快乐，阖家幸福！回复TD退订"
    assert run_counts(engine, "holiday-greeting:2026-10-01") is None
    one = go(engine, "holiday-greeting", at_shanghai(2026, 10, 1), services(), msisdn=EN)
    assert (one.selected, list(texts(engine))) == (1, [EN])


def test_the_rq_job_takes_plain_values_and_uses_what_the_worker_lends(engine, monkeypatch):
    """`run_reminder(kind, at)`: the database, catalogs, partners and kinds come from `jobs.process`."""
    from jobs import process
    from jobs.reminders import run_reminder

    monkeypatch.setattr(process, "_LENT", {})
    process.use(engine, catalogs=CATALOGS, services=services(), reminders=SETUP)
    counts = run_reminder("holiday-greeting", at="2026-10-01T02:00:00")  # no offset: UTC, 10:00 in Shanghai
    assert (counts["key"], counts["queued"]) == ("holiday-greeting:2026-10-01", 2)
    assert "sample" not in counts
