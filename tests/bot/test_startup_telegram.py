"""Telegram's webhook secret is one of the secrets `serve` insists on, but only where Telegram is enabled."""
from __future__ import annotations

import tomllib

import pytest

from bot.settings import Settings
from bot.startup import Refused, check_secrets, generate_local_secrets

OWN = dict(ussd={"secret": "u-own"}, sms={"secrets": "s-own", "api_key": "k-own"})


def test_an_enabled_telegram_without_its_secret_is_refused_outside_the_demo():
    settings = Settings(**OWN, telegram={"enabled": True, "token": "1:x"})
    with pytest.raises(Refused, match="SHORTCODE_TELEGRAM_SECRET_TOKEN"):
        check_secrets(settings, "0.0.0.0")


def test_telegram_disabled_needs_no_secret_and_enabled_with_one_serves():
    check_secrets(Settings(**OWN), "0.0.0.0")
    check_secrets(Settings(**OWN, telegram={"enabled": True, "secret_token": "tg-own"}), "0.0.0.0")


def test_the_demo_generates_a_telegram_secret_too(tmp_path):
    generate_local_secrets(Settings(base_dir=tmp_path))
    generated = tomllib.loads((tmp_path / "var" / "secrets.toml").read_text())
    assert len(generated["telegram"]["secret_token"]) >= 32
