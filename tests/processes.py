"""Real processes for end-to-end tests: `shortcode serve`, `worker`, `gateway` and `telegram-api` on
loopback ports, each started with its own environment and stopped (or killed) by PID."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aiohttp import ClientSession

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
# Every process of a stack is told its secrets: outside embedded mode `serve` refuses empty or shipped ones.
SECRETS = {"SHORTCODE_USSD_SECRET": "test-secret", "SHORTCODE_SMS_SECRETS": "e2e-sms-secret",
           "SHORTCODE_SMS_API_KEY": "e2e-api-key"}


# for tests of the outbox's mechanics with reminder rows on the wall clock: no quiet hours, no caps (the gate
# itself is tested with fixed clocks in tests/jobs/test_gate.py)
UNGATED = {"SHORTCODE_REMINDERS_QUIET_START": "00:00", "SHORTCODE_REMINDERS_QUIET_END": "00:00",
           "SHORTCODE_REMINDERS_CAPS": "{}"}


class Stack:
    """Settings shared by every process of one test, through SHORTCODE_* variables."""

    def __init__(self, tmp: Path, redis_url: str, **extra: str) -> None:
        self.web_port, self.gateway_port = free_port(), free_port()
        self.tmp = tmp
        self.env = {**os.environ, "PYTHONPATH": str(ROOT),
                    "SHORTCODE_DATABASE_URL": f"sqlite:///{tmp}/e2e.db",
                    "SHORTCODE_REDIS_URL": redis_url,
                    "SHORTCODE_REDIS_PREFIX": f"e2e{self.web_port}:",
                    "SHORTCODE_JOBS_QUEUE": f"e2e{self.web_port}",
                    "SHORTCODE_JOBS_INPROCESS_WORKER": "false",
                    "SHORTCODE_HTTP_PORT": str(self.web_port),
                    "SHORTCODE_SMS_GATEWAY_URL": f"http://127.0.0.1:{self.gateway_port}",
                    "SHORTCODE_LOG_LEVEL": "warning",
                    "SHORTCODE_METRICS_DIR": str(tmp / "metrics"),  # this stack's processes count together
                    # the demo data's low balances would be reminded every ten minutes: off unless a test asks
                    "SHORTCODE_SCHEDULE_REMINDERS": "false", **SECRETS, **extra}
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def run(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "bot.tools.cli", *args], env=self.env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen:
        """Start `shortcode <args>`; `env` changes some SHORTCODE_* variables for this process only."""
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "bot.tools.cli", *args], env={**self.env, **env}, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL: no cleanup, no goodbye, as when the machine loses a process."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        """Stop every process, then check their logs: no full phone number, no secret, no message body."""
        from tests.privacy import leaks

        self._stop()
        found = [f"{path.name}: {line}" for path in self.tmp.glob("*.log")
                 for line in leaks(path.read_text(errors="replace"))]
        assert not found, f"logs carry full numbers, secrets or bodies: {found[:5]}"

    def _stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")


async def gateway_control(stack: Stack, path: str, body: dict | None = None) -> dict:
    """The simulated gateway's control API: GET without a body, POST with one."""
    async with ClientSession() as http:
        if body is None:
            async with http.get(stack.gateway + path) as r:
                return await r.json()
        async with http.post(stack.gateway + path, json=body) as r:
            return await r.json()


def shipped_config(tmp: Path, web_port: int, gateway_port: int, **values: str) -> Path:
    """The project's config.toml as shipped, in a folder of its own (its `var/`, so its SQLite file and
    generated secrets, are under `tmp`), on the given ports; `values` replace keys (`secret='"x"'`)."""
    lines = []
    for line in (ROOT / "config.toml").read_text().splitlines():
        key = line.split(" = ")[0]
        if key in ("menus", "locale"):
            line = f'{key} = "{ROOT / key}"'
        elif key == "port":
            line = f"port = {web_port}"
        elif key == "gateway_url":
            line = f'gateway_url = "http://127.0.0.1:{gateway_port}"'
        elif key in values:
            line = f"{key} = {values[key]}"
        lines.append(line)
    path = tmp / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def bring_up(stack: Stack, subscribers: int = 50, worker: bool = True) -> Stack:
    """Schema, demo data, then the gateway, the web process and (by default) a worker, all answering."""
    stack.run("db", "upgrade")
    stack.run("seed", "--demo", "--subscribers", str(subscribers))
    stack.start("gateway", "gateway")
    stack.start("web", "serve")
    if worker:
        stack.start("worker", "worker")
    await wait_http(stack.gateway + "/control/stats")
    await wait_http(stack.web + "/healthz")
    return stack


TELEGRAM_TOKEN, TELEGRAM_SECRET = "123456:E2E-token", "e2e-tg-secret"


def telegram_env() -> dict[str, str]:
    """Settings for a stack with the Telegram channel on, talking to its own `shortcode telegram-api`."""
    port = free_port()
    return {"SHORTCODE_TELEGRAM_ENABLED": "true", "SHORTCODE_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "SHORTCODE_TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
            "SHORTCODE_TELEGRAM_API_URL": f"http://127.0.0.1:{port}/bot"}


def telegram_api(stack: Stack) -> str:
    """The simulated Bot API's base URL (its control API is under /control)."""
    return stack.env["SHORTCODE_TELEGRAM_API_URL"].removesuffix("/bot")


async def bring_up_telegram(stack: Stack, subscribers: int = 50) -> Stack:
    """`bring_up` plus the simulated Bot API, with the webhook registered by `shortcode telegram set-webhook`."""
    stack.start("telegram-api", "telegram-api")
    await wait_http(telegram_api(stack) + "/control/stats")
    await bring_up(stack, subscribers)
    stack.run("telegram", "set-webhook", stack.web + "/telegram/webhook")
    return stack


async def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    async with ClientSession() as http:
        while True:
            try:
                async with http.get(url) as r:
                    if r.status < 500:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer in {timeout} s")
            await asyncio.sleep(0.1)


async def eventually(check, timeout: float = 20, every: float = 0.05):
    """Poll `check` (sync or async) until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {getattr(check, '__name__', check)}")
        await asyncio.sleep(every)


def clean_env(**extra: str) -> dict[str, str]:
    """This machine's environment without any SHORTCODE_ setting, plus `extra`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SHORTCODE_")}, "PYTHONPATH": str(ROOT),
            "SHORTCODE_LOG_LEVEL": "warning", **extra}


class Serve:
    """`shortcode serve` in a subprocess; `outcome()` says whether it exited (and how) or came up."""

    def __init__(self, tmp: Path, env: dict[str, str], *args: str, port: int | None = None,
                 host: str | None = None) -> None:
        self.port = port or free_port()
        self.out, self.err = tmp / f"serve-{self.port}.out", tmp / f"serve-{self.port}.err"
        where = ["--port", str(self.port), *(["--host", host] if host else [])]
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot.tools.cli", *args, "serve", *where],
                                         env=env, cwd=ROOT, stdout=out, stderr=err)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def outcome(self, timeout: float = 60) -> int | str:
        """The exit code, or "started" once /healthz answers (the process is then left running)."""
        deadline = time.monotonic() + timeout
        async with ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return self.proc.returncode
                try:
                    async with http.get(self.base + "/healthz") as r:
                        if r.status == 200:
                            return "started"
                except OSError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError("serve neither exited nor answered")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    @property
    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err.read_text(errors="replace")


async def refused(serve: Serve) -> str:
    """Assert `serve` exited with 2 and one line on stderr, no traceback; return that line."""
    try:
        result = await serve.outcome()
    finally:
        serve.stop()
    assert result == 2, f"serve {result}, stderr: {serve.stderr[-2000:]}"
    assert "Traceback" not in serve.stderr and len(serve.stderr.strip().splitlines()) == 1, serve.stderr
    return serve.stderr.strip()
