"""The compose topology as processes on one machine: a real redis-server (append-only, `noeviction`), a real
PostgreSQL cluster, `serve` ×N, workers ×N, one scheduler and the simulated SMS gateway and Bot API, each a
`shortcode` subprocess with SHORTCODE_* variables. `shortcode cluster` (cluster_cli.py), the scale-out test
and bench/scale_out.py all start it from here."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "shortcode"
TELEGRAM_TOKEN = "123456:CLUSTER-demo"  # the simulated Bot API accepts this one; nothing real


@dataclass(frozen=True)
class Ports:
    """Where each part listens: serve i on `serve + i`."""

    serve: int = 8100
    gateway: int = 8190
    telegram: int = 8191
    redis: int = 6390
    postgres: int = 5490


@dataclass(frozen=True)
class Topology:
    """How many of each process; the compose file's is the default."""

    serve: int = 2
    workers: int = 2
    scheduler: bool = True
    telegram: bool = True
    subscribers: int = 1000
    shared_port: bool = False  # every serve on one port (SO_REUSEPORT): the kernel spreads the connections


@dataclass
class Part:
    """One process: what `down` and `status` read back from cluster.json."""

    name: str
    pid: int
    log: str
    url: str = ""


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the postgres user when we are root (as tests/conftest.py)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def pg_bindir() -> Path:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        raise RuntimeError("PostgreSQL is not installed: `make postgresql` installs it")
    return bins[-1].parent


class Cluster:
    """Stores first (`start_stores`), then the `shortcode` processes (`start_apps`); `stop` ends what it
    started, apps before stores, each by its PID. `base` keeps logs, the Redis AOF, PostgreSQL's data and
    the cluster's generated secrets, so a second `up` finds its data again, as a compose volume would."""

    def __init__(self, base: Path, ports: Ports = Ports(), env: dict[str, str] | None = None) -> None:
        self.base, self.ports, self.extra = base.resolve(), ports, env or {}
        self.logs = self.base / "logs"
        self.parts: list[Part] = []
        self.procs: dict[str, subprocess.Popen] = {}
        self.topology = Topology()

    # --- where things are -------------------------------------------------------------------------------
    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}/0"

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.ports.postgres}/{DATABASE}"

    def web(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports.serve + (0 if self.topology.shared_port else i)}"

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def secrets(self) -> dict[str, str]:
        """The cluster's own secrets, made once (owner-only file): `serve` refuses empty or shipped ones."""
        path = self.base / "secrets.json"
        if not path.exists():
            self.base.mkdir(parents=True, exist_ok=True)
            made = {"SHORTCODE_USSD_SECRET": secrets.token_urlsafe(24), "SHORTCODE_SMS_SECRETS": secrets.token_urlsafe(24),
                    "SHORTCODE_SMS_API_KEY": secrets.token_urlsafe(24),
                    "SHORTCODE_TELEGRAM_SECRET_TOKEN": secrets.token_urlsafe(24)}
            path.write_text(json.dumps(made))
            path.chmod(0o600)
        return json.loads(path.read_text())

    def env(self) -> dict[str, str]:
        """What every `shortcode` process of the cluster is told (the compose file's `environment`)."""
        telegram = {"SHORTCODE_TELEGRAM_ENABLED": "true", "SHORTCODE_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
                    "SHORTCODE_TELEGRAM_API_URL": f"http://127.0.0.1:{self.ports.telegram}/bot"}
        return {**os.environ, "PYTHONPATH": str(ROOT), **self.secrets,
                "SHORTCODE_DATABASE_URL": self.database_url, "SHORTCODE_REDIS_URL": self.redis_url,
                "SHORTCODE_JOBS_INPROCESS_WORKER": "false", "SHORTCODE_SCHEDULE_INPROCESS": "false",
                "SHORTCODE_HTTP_PORT": str(self.ports.serve),  # the gateway's callbacks go to the first serve
                "SHORTCODE_SMS_GATEWAY_URL": self.gateway,
                "SHORTCODE_METRICS_DIR": str(self.base / "metrics"),  # every process's counters, one folder
                **(telegram if self.topology.telegram else {}), **self.extra}

    # --- processes ---------------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None, url: str = "") -> None:
        """Start one process in a session of its own: Ctrl-C in the terminal reaches only `cluster up`,
        which then stops everything in order."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with open(log, "wb") as out:  # the last start's log: readiness reads it for "worker on ..."
            proc = subprocess.Popen(argv, env=env or self.env(), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs[name] = proc
        self.parts.append(Part(name, proc.pid, str(log), url))
        self.save()  # recorded at once: `down` finds it even if `up` is killed while starting

    def shortcode(self, *args: str, env: dict[str, str] | None = None) -> None:
        """A one-off `shortcode` command (migrate, seed) on the cluster's settings; fails loudly."""
        done = subprocess.run([sys.executable, "-m", "bot.tools.cli", *args], env=env or self.env(), cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"shortcode {' '.join(args)}: {done.stderr.strip()[-2000:]}")

    def start_stores(self) -> None:
        """redis-server (AOF on, noeviction, as the compose file) and PostgreSQL, both answering."""
        for port in (self.ports.redis, self.ports.postgres):
            if not _free(port):
                raise RuntimeError(f"port {port} is taken: is a cluster already up? (`shortcode cluster down`)")
        (self.base / "redis").mkdir(parents=True, exist_ok=True)
        self._spawn("redis", ["redis-server", "--port", str(self.ports.redis), "--bind", "127.0.0.1",
                              "--dir", str(self.base / "redis"), "--appendonly", "yes", "--save", "",
                              "--maxmemory-policy", "noeviction"], env=dict(os.environ), url=self.redis_url)
        self._postgres_start()
        self._wait(lambda: not _free(self.ports.redis), "redis")

    def _postgres_start(self) -> None:
        bindir, pg = pg_bindir(), self.base / "pg"
        pg.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(pg, "postgres", "postgres")
        if not (pg / "data").exists():
            subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(pg / "data"), "-U", "postgres",
                                         "--auth=trust", "-E", "UTF8", "--locale=C"]), check=True,
                           stdout=subprocess.DEVNULL)
        opts = f"-p {self.ports.postgres} -k {pg} -c listen_addresses=127.0.0.1 -c max_connections=200"
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(pg / "data"), "-o", opts, "-w", "-l",
                                     str(pg / "log"), "start"]), check=True, stdout=subprocess.DEVNULL)
        pid = int((pg / "data" / "postmaster.pid").read_text().split()[0])
        self.parts.append(Part("postgres", pid, str(pg / "log"), self.database_url))
        self.save()
        self._createdb()

    def _createdb(self) -> None:
        """The cluster's database, made once: a second `up` finds its data."""
        created = subprocess.run(_as_postgres([str(pg_bindir() / "createdb"), "-h", "127.0.0.1", "-p",
                                               str(self.ports.postgres), "-U", "postgres", DATABASE]),
                                 capture_output=True, text=True)
        if created.returncode and "already exists" not in created.stderr:
            raise RuntimeError(f"createdb: {created.stderr.strip()}")

    def reset_data(self) -> None:
        """An empty database and Redis again (the apps stopped): a test's second topology starts where the
        first one did."""
        import redis

        with redis.Redis.from_url(self.redis_url) as client:
            client.flushall()
        subprocess.run(_as_postgres([str(pg_bindir() / "dropdb"), "-h", "127.0.0.1", "-p", str(self.ports.postgres),
                                     "-U", "postgres", "--force", DATABASE]), check=True, capture_output=True)
        self._createdb()

    def start_apps(self, topology: Topology = Topology(), seed: bool = True) -> None:
        """Migrate, seed the demo if empty, then the gateway (and Bot API), `serve` ×N, workers ×N and the
        scheduler; returns once every one answers or says it is running."""
        self.topology = topology
        self.shortcode("db", "upgrade")
        self.shortcode("metrics", "wipe")  # a fresh cluster: no counts of processes gone
        if seed:
            self.shortcode("seed", "--demo", "--if-empty", "--subscribers", str(topology.subscribers))
        py = [sys.executable, "-m", "bot.tools.cli"]
        self._spawn("gateway", [*py, "gateway"], url=self.gateway)
        if topology.telegram:
            self._spawn("telegram-api", [*py, "telegram-api"], url=f"http://127.0.0.1:{self.ports.telegram}/control/")
        shared = ["--reuse-port"] if topology.shared_port else []
        for i in range(topology.serve):
            port = self.web(i).rsplit(":", 1)[1]
            self._spawn(f"serve-{i + 1}", [*py, "serve", "--port", port, *shared], url=self.web(i))
        for i in range(topology.workers):
            self._spawn(f"worker-{i + 1}", [*py, "worker"])
        if topology.scheduler:
            self._spawn("scheduler", [*py, "scheduler"])
        self.wait_ready()
        if topology.telegram:
            self.shortcode("telegram", "set-webhook", self.web(0) + "/telegram/webhook")

    # --- readiness ---------------------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 60) -> None:
        """Every HTTP part answers its health URL; workers and the scheduler have printed their first line."""
        checks = {"gateway": self.gateway + "/control/counts",
                  "telegram-api": f"http://127.0.0.1:{self.ports.telegram}/control/stats"}
        for part in self.parts:
            if part.name.startswith("serve"):  # on a shared port: one answers, each has said it is starting
                self._wait(lambda url=part.url: self._http_ok(url + "/healthz"), part.name, timeout)
                self._wait(lambda log=part.log: "Shortcode on http" in Path(log).read_text(errors="replace"),
                           part.name, timeout)
            elif part.name in checks:
                self._wait(lambda url=checks[part.name]: self._http_ok(url), part.name, timeout)
            elif part.name.startswith(("worker", "scheduler")):
                word = part.name.split("-")[0]
                self._wait(lambda log=part.log, w=word: f"{w} on " in Path(log).read_text(errors="replace"),
                           part.name, timeout)

    def _wait(self, check, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}): {self._tail(name)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after {timeout:.0f} s: {self._tail(name)}")
            time.sleep(0.1)

    def _tail(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-1500:] if path.exists() else ""

    @staticmethod
    def _http_ok(url: str) -> bool:
        try:
            with urlopen(url, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    # --- stopping ----------------------------------------------------------------------------------------
    def stop_apps(self) -> None:
        """SIGTERM every `shortcode` process (SIGKILL after 10 s), then wait for each."""
        apps = [p for p in self.parts if p.name not in ("redis", "postgres")]
        stop_pids([p.pid for p in apps], self.procs)
        self.parts = [p for p in self.parts if p not in apps]
        for part in apps:
            self.procs.pop(part.name, None)

    def stop(self) -> None:
        """Apps first, then PostgreSQL (fast shutdown) and Redis: nothing left running."""
        self.stop_apps()
        if (self.base / "pg" / "data" / "postmaster.pid").exists():
            subprocess.run(_as_postgres([str(pg_bindir() / "pg_ctl"), "-D", str(self.base / "pg" / "data"),
                                         "-m", "fast", "-w", "stop"]), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        stop_pids([p.pid for p in self.parts if p.name == "redis"], self.procs)
        self.parts, self.procs = [], {}

    # --- the record `down` and `status` read ----------------------------------------------------------------
    def save(self) -> Path:
        path = self.base / "cluster.json"
        path.write_text(json.dumps({"ports": asdict(self.ports), "topology": asdict(self.topology),
                                    "parts": [asdict(p) for p in self.parts]}, indent=2))
        return path


def stop_pids(pids: list[int], procs: dict[str, subprocess.Popen] | None = None, grace: float = 10) -> None:
    """SIGTERM each live PID, wait up to `grace` s for all, SIGKILL the rest; our own children are reaped."""
    children = {p.pid: p for p in (procs or {}).values()}
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(pid, children) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if alive(pid, children):
            _signal(pid, signal.SIGKILL)
            if pid in children:
                children[pid].wait(5)


def alive(pid: int, children: dict[int, subprocess.Popen] | None = None) -> bool:
    if children and pid in children:
        return children[pid].poll() is None
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):  # gone, even between the two calls
        return False


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def loaded(base: Path) -> dict | None:
    """What cluster.json recorded, or None when no cluster was started here."""
    path = base / "cluster.json"
    return json.loads(path.read_text()) if path.exists() else None


def default_base() -> Path:
    return ROOT / "var" / "cluster"
