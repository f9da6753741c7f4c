"""The deployment files hold to the code: this machine cannot pull base images, so docker-compose.yml, the
Dockerfile and .dockerignore are read here and every command, variable and health check is checked against
the CLI's parser, the settings and the routes the processes really serve."""
from __future__ import annotations

import re
import secrets
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from bot.settings import SECRET_KEYS, SHIPPED, Settings, load_settings
from bot.tools.cli import parser

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
SERVICES = COMPOSE["services"]
OURS = {name: s for name, s in SERVICES.items() if s.get("build")}  # the services running our image
VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")
SECRET_VARS = {f"SHORTCODE_{s}_{k}".upper() for s, k in SECRET_KEYS} | {"SHORTCODE_TELEGRAM_TOKEN"}
FROM_ENV = "from-env-"  # what a required ${VAR:?...} becomes here: a value only the operator's .env gives


def interpolate(value: str) -> str:
    """Compose's ${VAR:?msg} as an operator's own value, ${VAR:-default} as its default."""
    def one(m: re.Match) -> str:
        return f"{FROM_ENV}{secrets.token_hex(6)}" if m.group(2) in (":?", "?") else (m.group(3) or "")

    return VARIABLE.sub(one, str(value))


def env_of(service: dict) -> dict[str, str]:
    return {k: interpolate(v) for k, v in (service.get("environment") or {}).items()}


def setting_variables() -> set[str]:
    """Every SHORTCODE_<SECTION>_<KEY> the loader reads (bot/settings.py `_env_overrides`), and SHORTCODE_CONFIG."""
    names = {f"SHORTCODE_{section}_{key}".upper() for section, field in Settings.model_fields.items()
             if section != "base_dir" for key in field.annotation.model_fields}
    return names | {"SHORTCODE_CONFIG"}


def parses(argv: list[str]) -> str | None:
    """None when `shortcode ARGV` parses, else why not (argparse's own message is on stderr)."""
    try:
        parser().parse_args(argv)
    except SystemExit as exc:
        return f"`shortcode {' '.join(argv)}` does not parse (exit {exc.code})"
    return None


# -- docker-compose.yml ------------------------------------------------------------------------------------
def test_the_topology_is_the_one_the_operations_doc_describes():
    """PostgreSQL, Redis, a migration, serve x2, workers x2, one scheduler; the simulators only in the demo."""
    assert {"postgres", "redis", "migrate", "serve", "worker", "scheduler", "gateway", "telegram-api"} <= set(SERVICES)
    assert SERVICES["serve"]["deploy"]["replicas"] == 2 and SERVICES["worker"]["deploy"]["replicas"] == 2
    assert SERVICES["scheduler"].get("deploy", {}).get("replicas", 1) == 1
    demo = {name for name, s in SERVICES.items() if "demo" in s.get("profiles", [])}
    assert demo == {"gateway", "telegram-api"}


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_command_is_a_real_subcommand_with_flags_that_parse(name):
    command = OURS[name]["command"]
    assert command[0] == "shortcode", f"{name}: {command}"
    assert parses(command[1:]) is None, parses(command[1:])


def test_the_command_check_refuses_what_the_cli_refuses():
    """The check is not blind: an unknown subcommand or flag fails it."""
    assert parses(["serve", "--host", "0.0.0.0"]) is None
    assert parses(["serve", "--hots", "0.0.0.0"]) and parses(["workers"])


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_shortcode_variable_names_a_setting_and_its_value_loads(name):
    """A misspelt variable would be ignored silently by the loader: here it fails; a wrong type fails too."""
    env = env_of(OURS[name])
    unknown = sorted(k for k in env if k.startswith("SHORTCODE_") and k not in setting_variables())
    assert not unknown, f"{name}: not settings: {unknown}"
    load_settings(environ=env)  # raises on a value pydantic cannot read as its setting


def test_the_variable_check_refuses_a_misspelt_name():
    assert "SHORTCODE_REDIS_URL" in setting_variables() and "SHORTCODE_REDIS_ULR" not in setting_variables()


def test_the_migration_runs_once_before_every_other_shortcode_process():
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["shortcode", "db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, service in OURS.items():
        if name in ("migrate", "gateway", "telegram-api"):  # the simulators touch no database
            continue
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_redis_keeps_every_write_and_never_evicts():
    """Sessions, locks, queued jobs and idempotency marks: an append-only file, and refused writes when full."""
    command = SERVICES["redis"]["command"]
    pairs = set(zip(command, command[1:]))
    assert ("--appendonly", "yes") in pairs and ("--maxmemory-policy", "noeviction") in pairs


def test_no_secret_is_written_in_the_file():
    """Every secret, password and key comes from the operator's .env (${VAR:?...}); none has a default,
    and no value published with the project appears anywhere."""
    text = (ROOT / "docker-compose.yml").read_text("utf-8")
    assert not [value for value in SHIPPED if value in text]
    for name, service in SERVICES.items():
        raw = service.get("environment") or {}
        for key in raw.keys() & (SECRET_VARS | {"POSTGRES_PASSWORD", "REDISCLI_AUTH"}):
            assert re.fullmatch(r"\$\{\w+(:\?[^}]*|:-)?\}", raw[key]), f"{name}: {key} is written in the file"
        env = env_of(service)
        for key in ("SHORTCODE_REDIS_URL", "SHORTCODE_DATABASE_URL"):
            if key in env:
                assert (urlsplit(env[key]).password or "").startswith(FROM_ENV), f"{name}: {key}'s password"
    command = SERVICES["redis"]["command"]
    assert interpolate(command[command.index("--requirepass") + 1]).startswith(FROM_ENV)


def _routes(name: str, env: dict[str, str]) -> set[str]:
    """The GET paths the process `name` serves, from the app it really builds."""
    settings = load_settings(environ=env)
    if name == "serve":
        from bot.web import make_app
        from bot.wiring import build_core

        app = make_app(build_core(settings))
    elif name == "gateway":
        from integrations.smsgateway.simulator import Gateway, make_gateway_app

        app = make_gateway_app(Gateway(settings.sms.username, settings.sms.api_key))
    else:
        from integrations.telegram.simulator import Simulator, make_telegram_app

        app = make_telegram_app(Simulator("1:T"), prefix=urlsplit(settings.telegram.api_url).path)
    return {r.resource.canonical for r in app.router.routes() if r.method == "GET"}


def _listens(name: str, env: dict[str, str]) -> tuple[str, int]:
    """Where `name` listens inside its container: --host/--port for serve, its URL setting for a simulator."""
    if name == "serve":
        command = OURS[name]["command"]
        return "0.0.0.0", int(command[command.index("--port") + 1])
    settings = load_settings(environ=env)
    url = urlsplit(settings.sms.gateway_url if name == "gateway" else settings.telegram.api_url)
    return url.hostname, url.port


@pytest.mark.parametrize("name", ["serve", "gateway", "telegram-api"])
def test_every_health_check_asks_a_route_the_process_serves_where_it_listens(name):
    """serve is checked on /readyz (Redis, the database and the migrations), not the bare liveness of /healthz."""
    test = SERVICES[name]["healthcheck"]["test"]
    url = urlsplit(re.search(r"https?://[^'\"\s]+", " ".join(test)).group())
    env = env_of(SERVICES[name])
    host, port = _listens(name, env)
    assert url.port == port and url.hostname in ("127.0.0.1", "localhost", name, host), (url, host, port)
    assert url.path in _routes(name, env), f"{name} serves no GET {url.path}"
    if name == "serve":
        assert url.path == "/readyz"


def test_the_databases_health_checks_use_their_images_tools():
    postgres, redis = SERVICES["postgres"], SERVICES["redis"]
    check = postgres["healthcheck"]["test"]
    assert check[1] == "pg_isready" and check[check.index("-U") + 1] == postgres["environment"]["POSTGRES_USER"]
    assert redis["healthcheck"]["test"][1:] == ["redis-cli", "ping"]  # REDISCLI_AUTH carries the password
    assert redis["environment"]["REDISCLI_AUTH"] == redis["command"][redis["command"].index("--requirepass") + 1]


# -- Dockerfile and .dockerignore ----------------------------------------------------------------------------
DOCKERFILE = (ROOT / "Dockerfile").read_text("utf-8")
INSTRUCTIONS = [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in
                re.sub(r"\\\n\s*", " ", DOCKERFILE).splitlines() if line.strip() and not line.startswith("#")]


def _all(kind: str) -> list[str]:
    return [args for instruction, args in INSTRUCTIONS if instruction == kind]


def test_the_image_runs_as_a_user_of_its_own():
    user = _all("USER")[-1].strip()
    assert user not in ("root", "0") and not user.startswith("0:")
    assert any("useradd" in run and run.split()[-1] == user for run in _all("RUN"))


def test_the_image_leaves_out_tests_benchmarks_and_docs():
    """Nothing of them is copied, and the build context does not even carry them."""
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()}
    assert {"tests", "bench", "docs", ".env", "var", ".git", ".venv"} <= ignored
    sources = [part for args in _all("COPY") for part in shlex.split(args)[:-1] if not part.startswith("--")]
    assert not [s for s in sources if s.split("/")[0] in ("tests", "bench", "docs", ".")], sources
    assert all((ROOT / s).exists() for s in sources), sources
    needed = {"bot", "flows", "integrations", "jobs", "menus", "locale", "config.toml", "pyproject.toml"}
    assert needed <= {s.rstrip("/") for s in sources}


def test_the_image_installs_from_the_runtime_lock_only():
    """One install from requirements.lock with --require-hashes; the project itself with --no-deps."""
    installs = [cmd for run in _all("RUN") for cmd in run.split("&&") if "pip install" in cmd]
    assert any("--require-hashes" in c and "-r requirements.lock" in c for c in installs), installs
    assert all("--require-hashes" in c or "--no-deps" in c for c in installs), installs
    assert "requirements.lock" in " ".join(_all("COPY"))


def test_the_image_says_it_is_a_container_and_its_command_parses():
    assert re.search(r"\bSHORTCODE_IN_CONTAINER=1\b", " ".join(_all("ENV")))
    command = " ".join(shlex.split(_all("CMD")[-1].strip("[]").replace(",", " "))[2:])
    for step in command.split("&&"):
        argv = shlex.split(step.replace("exec ", "", 1))
        assert argv[0] == "shortcode" and parses(argv[1:]) is None, step
