"""Settings: config.toml with a comment per key, overridden per key by the environment."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_environment_overrides_the_file():
    s = load_settings(ROOT / "config.toml", environ={"SHORTCODE_USSD_SECRET": "s3", "SHORTCODE_HTTP_PORT": "9000",
                                                     "SHORTCODE_REDIS_URL": "redis://10.0.0.1:6379/0"})
    assert (s.ussd.secret, s.http.port, s.redis.url) == ("s3", 9000, "redis://10.0.0.1:6379/0")


def test_embedded_defaults():
    s = load_settings(ROOT / "config.toml", environ={})
    assert s.redis.url == "embedded" and s.database_url == f"sqlite:///{ROOT}/var/shortcode.db"


def test_every_setting_is_in_config_toml_with_a_comment():
    text = (ROOT / "config.toml").read_text()
    for section, field in Settings.model_fields.items():
        if section == "base_dir":
            continue
        assert f"[{section}]" in text
        for key in field.annotation.model_fields:  # a key, or a table of its own ([reminders.caps])
            line = next(l for l in text.splitlines() if l.startswith((f"{key} =", f"[{section}.{key}]")))
            before = text.splitlines()[text.splitlines().index(line) - 1]
            assert before.startswith("#"), f"{section}.{key} has no comment"


def test_unknown_key_is_refused(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[ussd]\nsecrett = 'x'\n")
    with pytest.raises(ValidationError):
        load_settings(bad, environ={})


def test_every_key_is_documented():
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for section, field in Settings.model_fields.items():
        if section != "base_dir":
            for key in field.annotation.model_fields:
                assert f"SHORTCODE_{section}_{key}".upper() in doc or f"`{key}`" in doc, f"{section}.{key}"


def test_missing_config_named_by_environment_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_settings(environ={"SHORTCODE_CONFIG": str(tmp_path / "nope.toml")})


def test_generated_secrets_fill_in_only_what_the_file_leaves_unset_and_the_environment_wins(tmp_path):
    """var/secrets.toml (made by the embedded demo) sits above config.toml's empty or shipped values and
    below both an operator's own value in the file and the environment."""
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secrets.toml").write_text('[ussd]\nsecret = "gen-u"\n[sms]\nsecrets = "gen-s"\n'
                                                   'api_key = "gen-k"\n')
    config = tmp_path / "c.toml"
    config.write_text('[ussd]\nsecret = "demo-secret"\n[sms]\nsecrets = "mine"\n')
    s = load_settings(config, environ={})
    assert (s.ussd.secret, s.sms.secrets, s.sms.api_key) == ("gen-u", "mine", "gen-k")
    s = load_settings(config, environ={"SHORTCODE_USSD_SECRET": "env-u", "SHORTCODE_SMS_API_KEY": ""})
    assert (s.ussd.secret, s.sms.secrets, s.sms.api_key) == ("env-u", "mine", "")


def test_the_shipped_config_and_models_carry_no_working_secret():
    """Whatever is published with the project is known to everyone: it ships every secret empty."""
    import tomllib

    from bot.settings import SECRET_KEYS

    shipped = tomllib.loads((ROOT / "config.toml").read_text())
    for section, key in SECRET_KEYS:
        assert shipped[section][key] == "" and getattr(getattr(Settings(), section), key) == "", (section, key)


def test_a_session_lock_shorter_than_a_turn_deadline_is_refused():
    """A lock that expires before its turn's deadline could let a second input in while the first runs."""
    with pytest.raises(ValidationError, match="lock_ttl_ms"):
        load_settings(ROOT / "config.toml", environ={"SHORTCODE_SESSION_LOCK_TTL_MS": "9000"})
    with pytest.raises(ValidationError, match="lock_ttl_ms"):
        load_settings(ROOT / "config.toml", environ={"SHORTCODE_SMS_TURN_TIMEOUT": "20"})


def test_the_default_session_lock_lives_just_past_the_longest_turn_deadline():
    """A crash mid-turn locks the subscriber out for about a turn's deadline, not three times it."""
    s = load_settings(ROOT / "config.toml", environ={})
    deadline_ms = 1000 * max(s.ussd.reply_timeout, getattr(s.sms, "turn_timeout", 0))
    assert deadline_ms <= s.session.lock_ttl_ms <= deadline_ms + 2000


@pytest.mark.parametrize("env", [
    {"SHORTCODE_REMINDERS_CAPS": '{"Care": {"day": 1}}'},  # not a lower-case class name
    {"SHORTCODE_REMINDERS_CAPS": '{"care": {"day": 3, "week": 2}}'},  # a day above the week
    {"SHORTCODE_REMINDERS_CAPS": '{"care": {"day": -1}}'},
    {"SHORTCODE_REMINDERS_CAPS": '{"care": {"daily": 1}}'},
    {"SHORTCODE_REMINDERS_QUIET_START": "24:00"},
    {"SHORTCODE_REMINDERS_QUIET_END": "8am"},
])
def test_reminder_caps_and_quiet_hours_are_validated_at_start(env):
    with pytest.raises(ValidationError):
        load_settings(environ=env)


def test_reminder_caps_are_read_from_the_file_and_the_environment():
    assert load_settings(environ={}).reminders.caps["marketing"].model_dump() == {"day": 1, "week": 3}
    caps = load_settings(environ={"SHORTCODE_REMINDERS_CAPS": '{"care": {"week": 4}}'}).reminders.caps
    assert list(caps) == ["care"] and caps["care"].day is None and caps["care"].week == 4


def test_churn_zone_bounds_are_read_and_must_rise():
    """[churn]: the shipped bounds, overridable; green < yellow < red, each within (0, 1]."""
    s = load_settings(ROOT / "config.toml", environ={"SHORTCODE_CHURN_RED": "0.7"})
    assert (s.churn.green, s.churn.yellow, s.churn.red, s.churn.dormant_days) == (0.15, 0.35, 0.7, 0)
    with pytest.raises(ValidationError, match="zone bounds must rise"):
        load_settings(ROOT / "config.toml", environ={"SHORTCODE_CHURN_YELLOW": "0.1"})
    with pytest.raises(ValidationError):
        load_settings(ROOT / "config.toml", environ={"SHORTCODE_CHURN_RED": "1.5"})
    with pytest.raises(ValidationError):
        load_settings(ROOT / "config.toml", environ={"SHORTCODE_SCHEDULE_CHURN": "weekly"})
