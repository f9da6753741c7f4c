"""Settings: config.toml, overridden per key by SHORTCODE_<SECTION>_<KEY> environment variables."""
from __future__ import annotations

import json
import os
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jobs.schedule import parse_when

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.toml"
# Secrets the embedded demo generates per install (`bot/startup.py`), next to its SQLite file; never tracked.
LOCAL_SECRETS = Path("var/secrets.toml")
# The secret settings, as (section, key): each must be the operator's own outside the embedded demo.
SECRET_KEYS = (("ussd", "secret"), ("sms", "secrets"), ("sms", "api_key"), ("telegram", "secret_token"))
TELEGRAM_SECRET = ("telegram", "secret_token")  # required only where Telegram is enabled
# generated for the embedded demo too, but never required to start: only `subscriber erase` needs it
GENERATED_KEYS = (*SECRET_KEYS, ("erase", "suppression_key"))
# Values that were published with the project (README, docs, older config.toml): known to everyone.
SHIPPED = frozenset({"demo-secret", "demo-sms-secret", "demo-key"})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Service(_Section):
    operator: str = "Shortcode Mobile"
    region: str = "CN"
    timezone: str = "Asia/Shanghai"
    language: str = "zh_Hans"


class Http(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 16384
    max_in_flight: int = 512
    uvloop: bool = False
    gc_young_threshold: int = 10000


class Database(_Section):
    url: str = "sqlite:///var/shortcode.db"


class Redis(_Section):
    url: str = "embedded"
    prefix: str = "sc:"
    max_connections: int = 640


class Session(_Section):
    idle_timeout: int = 120
    resume_window: int = 600
    max_wrong_inputs: int = 3
    lock_ttl_ms: int = 11000
    lock_wait_ms: int = 3000


class Ussd(_Section):
    secret: str = ""
    gsm7_budget: int = 182
    ucs2_budget: int = 80
    reply_timeout: float = 10.0


class Sms(_Section):
    gateway_url: str = "http://127.0.0.1:8090"
    username: str = "shortcode"
    api_key: str = ""
    secrets: str = ""
    short_code: str = "12580"
    session_window: int = 600
    max_segments: int = 2
    max_per_minute: int = 20
    turn_timeout: float = 10.0


class Telegram(_Section):
    enabled: bool = False
    api_url: str = "http://127.0.0.1:8091/bot"
    token: str = ""
    session_window: int = 600
    max_per_second: float = 30.0
    per_chat_seconds: float = 1.0
    secret_token: str = ""


class Partners(_Section):
    timeout: float = 3.0
    read_cache_seconds: float = 2.0


class Jobs(_Section):
    inprocess_worker: bool = True
    queue: str = "shortcode"
    rescan_every: float = 30
    claim_seconds: float = 60


class Cap(_Section):
    """One class's frequency cap: at most `day` a day and `week` an ISO week per subscriber (in their time zone);
    a window left out has no limit, and a class with neither is exempt."""

    day: int | None = Field(default=None, ge=0)
    week: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _day_within_week(self) -> Cap:
        if self.day is not None and self.week is not None and self.day > self.week:
            raise ValueError(f"day cap ({self.day}) is above the week cap ({self.week})")
        return self


CAP_CLASS = re.compile(r"^[a-z][a-z0-9-]{0,15}$")  # fits outbox.cap_class (16)


class Reminders(_Section):
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    caps: dict[str, Cap] = {"care": Cap(day=2, week=5), "marketing": Cap(day=1, week=3), "service": Cap()}

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not re.fullmatch(r"\d\d:\d\d", value):
            raise ValueError(f"{value!r} is not a time of day as HH:MM")
        time.fromisoformat(value)  # 24:00 or 08:61 is refused here
        return value

    @field_validator("caps", mode="before")
    @classmethod
    def _caps_from_env(cls, value):
        """SHORTCODE_REMINDERS_CAPS is JSON: {"care": {"day": 2, "week": 5}, "service": {}}."""
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("caps")
    @classmethod
    def _class_names(cls, value: dict[str, Cap]) -> dict[str, Cap]:
        bad = [name for name in value if not CAP_CLASS.match(name)]
        if bad:
            raise ValueError(f"cap classes must be lower-case words of at most 16 characters: {bad}")
        return value


class Churn(_Section):
    """The value-loss warning zones (docs/churn.md): score bounds and what counts as dormant."""

    red: float = Field(default=0.6, gt=0, le=1)
    yellow: float = Field(default=0.35, gt=0, le=1)
    green: float = Field(default=0.15, gt=0, le=1)
    dormant_days: int = Field(default=0, ge=0, le=31)  # at most this many active days last month: white
    tree: str = "menus/churn_tree.json"

    @model_validator(mode="after")
    def _zones_in_order(self) -> Churn:
        if not self.green < self.yellow < self.red:
            raise ValueError(f"zone bounds must rise: green ({self.green}) < yellow ({self.yellow}) < red "
                             f"({self.red})")
        return self


class Campaigns(_Section):
    """Care campaigns (docs/campaigns.md): the held-back control group, the second approval, the run's batch."""

    control_share: float = Field(default=0.1, ge=0, lt=1)  # of each audience, by a hash of campaign and number
    second_approval_above: int = Field(default=10_000, ge=0)  # a bigger audience needs a second person
    batch: int = Field(default=1000, ge=1, le=100_000)  # members written per transaction
    run_lease: float = Field(default=60, gt=0)  # seconds a run is taken to be alive after its last batch


class Schedule(_Section):
    """When each periodic job runs (`jobs/schedule.py`): five cron fields in [service] timezone, or
    "every N s|m|h"."""

    inprocess: bool = False
    catch_up: float = 3600
    outbox_rescan: str = "every 30s"
    telegram_rescan: str = "every 30s"
    reconcile: str = "every 5m"
    points_expiry: str = "5 0 1 12 *"
    churn: str = "30 2 * * 1"  # the weekly value-loss scoring, Monday 02:30
    campaign_rescan: str = "every 1m"  # runs that died (or were never queued) are queued again
    churn_rescan: str = "every 5m"  # scoring parts whose worker died are queued again
    reminders: bool = True
    purge: str = "40 * * * *"  # the retention purge ([retention]), hourly

    @field_validator("outbox_rescan", "telegram_rescan", "reconcile", "points_expiry", "churn", "campaign_rescan",
                     "churn_rescan", "purge")
    @classmethod
    def _a_schedule(cls, value: str) -> str:
        parse_when(value)
        return value


class Retention(_Section):
    """How long data is kept (`jobs/purge.py`, run at `[schedule] purge`); a purge changes at most `max_rows`
    rows a table per run, `batch` rows a transaction."""

    inbound_body_days: int = Field(30, ge=1)  # SMS and Telegram bodies blanked (the rows stay)
    parked_report_days: int = Field(7, ge=1)  # delivery reports for message ids never recorded
    ussd_end_days: int = Field(30, ge=1)  # the gateway's USSD end notifications
    rq_result_hours: int = Field(72, ge=1)  # finished and failed RQ jobs
    batch: int = Field(500, ge=1, le=10_000)
    max_rows: int = Field(50_000, ge=1)


class Erase(_Section):
    """`shortcode subscriber erase` (`bot/erasure.py`)."""

    suppression_key: str = ""  # HMAC key of the opt-out records an erase keeps; set it with the env variable


class Paths(_Section):
    menus: Path = Path("menus")
    locale: Path = Path("locale")


class Log(_Section):
    level: str = "info"
    format: Literal["json", "console"] = "json"  # console: structlog's readable lines for a terminal


class Metrics(_Section):
    """Prometheus metrics at /metrics (docs/operations.md, "Metrics")."""

    dir: str = "var/metrics"  # shared by every process of one host; "" keeps each process's own
    token: str = ""  # set: /metrics wants `Authorization: Bearer <token>`; empty: loopback/private peers only


class Console(_Section):
    # the tester phone at /console/phone: "auto" is on in the embedded demo only; true or false forces it
    phone: str = "auto"

    @field_validator("phone", mode="before")
    @classmethod
    def _auto_or_bool(cls, value: Any) -> str:
        """TOML gives a bool, the environment a string: both become "auto", "true" or "false"."""
        text = str(value).strip().lower()
        text = {"1": "true", "0": "false", "yes": "true", "no": "false", "on": "true", "off": "false"}.get(text, text)
        if text not in ("auto", "true", "false"):
            raise ValueError(f'[console] phone must be "auto", true or false, not {value!r}')
        return text


class Settings(_Section):
    service: Service = Service()
    http: Http = Http()
    database: Database = Database()
    redis: Redis = Redis()
    session: Session = Session()
    ussd: Ussd = Ussd()
    sms: Sms = Sms()
    telegram: Telegram = Telegram()
    partners: Partners = Partners()
    jobs: Jobs = Jobs()
    reminders: Reminders = Reminders()
    churn: Churn = Churn()
    campaigns: Campaigns = Campaigns()
    schedule: Schedule = Schedule()
    retention: Retention = Retention()
    erase: Erase = Erase()
    paths: Paths = Paths()
    log: Log = Log()
    console: Console = Console()
    metrics: Metrics = Metrics()
    base_dir: Path = PROJECT_ROOT

    @model_validator(mode="after")
    def _lock_outlives_every_turn(self) -> Settings:
        """Every turn is abandoned at its deadline, so a lock living just past it is never lost by a live
        turn and frees a crashed turn's subscriber soon after. One shorter would let a second input in while
        the first still runs: versioned saves refuse the stale write, but that subscriber gets an apology."""
        deadline_ms = 1000 * self.turn_deadline
        if self.session.lock_ttl_ms < deadline_ms:
            raise ValueError(f"[session] lock_ttl_ms ({self.session.lock_ttl_ms}) is shorter than the longest turn "
                             f"deadline, {deadline_ms:.0f} ms ([ussd] reply_timeout, [sms] turn_timeout)")
        return self

    @property
    def secret_keys(self) -> tuple[tuple[str, str], ...]:
        """The secrets this configuration needs: Telegram's only when the channel is enabled."""
        return tuple(k for k in SECRET_KEYS if k != TELEGRAM_SECRET or self.telegram.enabled)

    @property
    def turn_deadline(self) -> float:
        """Seconds the longest turn on any channel may take before it is abandoned."""
        return max(self.ussd.reply_timeout, self.sms.turn_timeout)

    def path(self, p: Path) -> Path:
        """Resolve a configured path against the config file's folder."""
        return p if p.is_absolute() else self.base_dir / p

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(Path(url[len(prefix):])))
        return url


def unset(value: str) -> bool:
    """True for a secret that protects nothing: empty, or any comma-separated part empty or shipped."""
    return any(not part.strip() or part.strip() in SHIPPED for part in value.split(","))


def _local_secrets(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Fill in the secrets the file leaves unset from the generated `var/secrets.toml`, if there is one."""
    path = base_dir / LOCAL_SECRETS
    if not path.exists():
        return data
    generated = tomllib.loads(path.read_text("utf-8"))
    for section, key in GENERATED_KEYS:
        value = generated.get(section, {}).get(key)
        if value and unset(str(data.get(section, {}).get(key, ""))):
            data.setdefault(section, {})[key] = value
    return data


def _env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Apply SHORTCODE_<SECTION>_<KEY> variables; pydantic converts their text to the field type."""
    for name, field in Settings.model_fields.items():
        if name == "base_dir":
            continue
        section_cls = field.annotation
        for key in section_cls.model_fields:
            var = f"SHORTCODE_{name}_{key}".upper()
            if var in environ:
                data.setdefault(name, {})[key] = environ[var]
    return data


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (the path given, else SHORTCODE_CONFIG, else the project's config.toml),
    fill the secrets it leaves unset from a generated `var/secrets.toml`, and apply the environment on top."""
    environ = os.environ if environ is None else environ
    chosen = Path(path or environ.get("SHORTCODE_CONFIG") or DEFAULT_CONFIG)
    if not chosen.exists() and chosen != DEFAULT_CONFIG:
        raise FileNotFoundError(f"config file not found: {chosen}")
    data: dict[str, Any] = tomllib.loads(chosen.read_text("utf-8")) if chosen.exists() else {}
    base_dir = chosen.resolve().parent
    data = _env_overrides(_local_secrets(data, base_dir), environ)
    return Settings(**data, base_dir=base_dir)
