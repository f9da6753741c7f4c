"""The value-loss features on fixed usage: levels, trends and ratios of the three months before scoring."""
from __future__ import annotations

from integrations.boss import Usage
from jobs.churn_features import FEATURES, change_pct, dormant, features, fell_month_on_month


def month(name: str, arpu: int, calls: int = 100, offnet: int = 10, active: int = 28, complaints: int = 0,
          arrears: int = 0, topup: int = 10_000, data: int = 2_000, tenure: int = 24) -> Usage:
    return Usage(name, arpu, 300, data, 20, topup, active, calls, offnet, complaints, arrears, tenure)


FALLING = [month("2026-09", 10_000), month("2026-10", 8_000, offnet=20, complaints=1, active=25),
           month("2026-11", 5_800, offnet=35, active=20, arrears=6, topup=5_000, data=1_000, tenure=26)]


def test_features_of_a_falling_subscriber():
    got = dict(zip(FEATURES, features(FALLING)))
    assert got == {"arpu_yuan": 58.0, "spend_change_pct": -42.0, "spend_mom_pct": -27.5, "offnet_pct": 35.0,
                   "offnet_change_pts": 25.0, "active_days": 20.0, "active_change": -8.0, "complaints": 1.0,
                   "arrears_days": 6.0, "topup_change_pct": -50.0, "data_change_pct": -50.0, "tenure_months": 26.0}


def test_a_short_history_reads_as_flat_before_its_first_month():
    got = dict(zip(FEATURES, features(FALLING[-1:])))
    assert got["spend_change_pct"] == got["spend_mom_pct"] == got["offnet_change_pts"] == 0.0


def test_change_from_nothing_and_calls_without_any():
    assert change_pct(0, 0) == 0.0 and change_pct(0, 5) == 100.0 and change_pct(200, 50) == -75.0
    assert dict(zip(FEATURES, features([month("2026-11", 0, calls=0, offnet=0)])))["offnet_pct"] == 0.0


def test_dormant_is_the_last_month_at_most_the_configured_active_days():
    assert dormant([month("2026-11", 0, active=0)], 0) and not dormant([month("2026-11", 0, active=1)], 0)
    assert dormant([month("2026-11", 0, active=2)], 2) and dormant([], 0)


def test_the_naive_rule_wants_a_fall_in_each_month():
    assert fell_month_on_month(FALLING)
    assert not fell_month_on_month([FALLING[0], FALLING[2], FALLING[1]]) and not fell_month_on_month(FALLING[1:])
