"""Shared fixtures: a real redis-server on a free port, a seeded SQLite database, the app over loopback."""
from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import redis

from bot.db import make_engine, upgrade
from bot.logs import ScrubbingFormatter, configure
from bot.tools.seed import seed_demo
from bot.settings import load_settings
from bot.wiring import build_core
from tests.privacy import leaks, record_bodies, rq_leaks

ROOT = Path(__file__).resolve().parent.parent


TMPFS = Path("/dev/shm")
TMPFS_FREE = 4 << 30  # what a run may use at most, with room to spare


def pytest_configure(config) -> None:
    """The run's temporary folders (every SQLite database, the fake gateways' files) on tmpfs where the
    machine has one with room: on disk each migration and commit waits for an fsync, about 0.5 s a test and
    half the suite's time. A folder given with --basetemp is used as it is."""
    if config.option.basetemp is None and os.access(TMPFS, os.W_OK) and shutil.disk_usage(TMPFS).free > TMPFS_FREE:
        config.option.basetemp = config._shortcode_tmpfs = tempfile.mkdtemp(prefix="shortcode-tests-", dir=TMPFS)


def pytest_unconfigure(config) -> None:
    """tmpfs is memory: the run's folder goes with the run (pytest keeps its own only on disk)."""
    if folder := getattr(config, "_shortcode_tmpfs", None):
        shutil.rmtree(folder, ignore_errors=True)


configure("info")  # the production log pipeline (masking included): tests/privacy.py checks its output
record_bodies()
PRIVACY_LEAKS: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def production_logs() -> None:
    """Every test starts on the production log pipeline: a test that configures logging its own way
    (tests/bot/test_logs.py resets structlog) would leave the later ones unmasked and unchecked.
    pytest's own capture handlers stay."""
    root = logging.getLogger()
    pytests = [h for h in root.handlers if not isinstance(h.formatter, ScrubbingFormatter)]
    configure("info")
    root.handlers.extend(pytests)


def pytest_runtest_logreport(report) -> None:
    """Collect every captured log line of every test that carries a full number, a secret or a body.
    A report repeats the sections of the earlier phases: each phase's own are read once."""
    for title, text in report.sections:
        if title.endswith(f" {report.when}"):
            PRIVACY_LEAKS.extend((report.nodeid, line) for line in leaks(text, all_lines="log" in title.lower()))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A redis-server a test starts itself (a fixture with a redis:// `url` and a `client()`, as
    tests/hardening's RedisServer) dies with the test: read its RQ records before the fixtures go."""
    for value in getattr(item, "funcargs", {}).values():
        if str(getattr(value, "url", "")).startswith("redis://") and callable(getattr(value, "client", None)):
            scan_rq(value.url, item.nodeid)
    return (yield)


def scan_rq(url: str, where: str) -> None:
    """Add the RQ records of this Redis that leak; a server already gone (killed by its test) has none."""
    try:
        with redis.Redis.from_url(url, socket_timeout=10) as client:
            PRIVACY_LEAKS.extend((f"{where}, RQ record {key}", line) for key, line in rq_leaks(client))
    except (redis.ConnectionError, redis.TimeoutError):
        pass


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    """Last, after the session's fixtures are gone (the session Redis's RQ records are read then). Under
    pytest-xdist a worker hands its findings to the controller, which reports them all."""
    if (output := getattr(session.config, "workeroutput", None)) is not None:
        output["privacy_leaks"] = [list(leak) for leak in PRIVACY_LEAKS]
        return
    found = list(dict.fromkeys(PRIVACY_LEAKS))  # a worker's log lines reach the controller twice
    if found:
        print(f"\nprivacy: {len(found)} log line(s) or RQ record(s) carry a full phone number, a secret "
              "or a message body, e.g.:")
        for nodeid, line in found[:10]:
            print(f"  {nodeid}: {line}")
        session.exitstatus = 1


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist: a worker is done; what it found counts as found here."""
    PRIVACY_LEAKS.extend(tuple(leak) for leak in getattr(node, "workeroutput", {}).get("privacy_leaks", []))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """A real redis-server for the whole run (SHORTCODE_TEST_REDIS_URL to use one already running)."""
    if os.environ.get("SHORTCODE_TEST_REDIS_URL"):
        yield os.environ["SHORTCODE_TEST_REDIS_URL"]
        scan_rq(os.environ["SHORTCODE_TEST_REDIS_URL"], "session Redis")
        return
    binary = shutil.which("redis-server")
    if not binary:
        pytest.exit("redis-server is not installed: run `make test`, which installs it", returncode=1)
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.02)
    yield f"redis://127.0.0.1:{port}/0"
    scan_rq(f"redis://127.0.0.1:{port}/0", "session Redis")  # every job of the run, failed ones kept a year
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own, for a test that stops, kills or configures it."""
    from tests.hardening.redis_server import RedisServer

    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed")
    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(tmp_path, redis_url):
    env = {
        "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp_path}/test.db",
        "SHORTCODE_REDIS_URL": redis_url,
        "SHORTCODE_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}:",
        "SHORTCODE_USSD_SECRET": "test-secret",
        "SHORTCODE_JOBS_INPROCESS_WORKER": "false",
    }
    return load_settings(ROOT / "config.toml", environ=env)


@pytest.fixture
def settings_with(settings):
    """The test settings with some keys changed: settings_with(ussd_reply_timeout=0.5)."""
    def make(**changes):
        env = {"SHORTCODE_DATABASE_URL": settings.database.url, "SHORTCODE_REDIS_URL": settings.redis.url,
               "SHORTCODE_REDIS_PREFIX": settings.redis.prefix, "SHORTCODE_USSD_SECRET": "test-secret",
               "SHORTCODE_JOBS_INPROCESS_WORKER": "false"}
        env.update({f"SHORTCODE_{key.upper()}": str(value) for key, value in changes.items()})
        return load_settings(ROOT / "config.toml", environ=env)
    return make


@pytest.fixture
async def serve():
    """Start the web app for some settings on a real loopback port; returns its base URL."""
    from aiohttp.test_utils import TestServer

    from bot.web import make_app

    servers = []

    async def start(settings) -> str:
        server = TestServer(make_app(build_core(settings)), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
def core(settings):
    return build_core(settings)


@pytest.fixture
def db(settings):
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    seed_demo(engine, 50)
    yield engine
    engine.dispose()


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> str:
    """A real PostgreSQL cluster for the whole run, on a free port (SHORTCODE_TEST_PG_URL to reuse one)."""
    if os.environ.get("SHORTCODE_TEST_PG_URL"):
        yield os.environ["SHORTCODE_TEST_PG_URL"]
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        pytest.exit("PostgreSQL is not installed: run `make test`, which installs it", returncode=1)
    bindir = bins[-1].parent
    base = Path(tempfile.mkdtemp(prefix="shortcode-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                 "-E", "UTF8", "--locale=C"]), check=True, stdout=subprocess.DEVNULL)
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l",
                                 str(base / "log"), "start"]), check=True, stdout=subprocess.DEVNULL)
    yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, empty database for one test."""
    import sqlalchemy

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return f"{pg_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request, tmp_path) -> str:
    """Each storage test runs on both the embedded SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return request.getfixturevalue("pg_url")
