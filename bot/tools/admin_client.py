"""A small client of the admin API for CLI commands: the base URL from `[http]` (or `--url`), the token from
`--token` or SHORTCODE_TOKEN, JSON in and out. Every refusal becomes one line (`AdminError`) with exit 2, so
a command is `add_client_options(parser)` plus one `client(args, settings).call(...)`."""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from bot.settings import Settings

TOKEN_ENV = "SHORTCODE_TOKEN"
WHY = {400: "bad request", 401: "not authenticated", 403: "not allowed", 404: "not found", 409: "conflict",
       413: "too large", 422: "invalid"}


class AdminError(Exception):
    """A request the API refused or could not get: one line for the user, and the exit code."""

    def __init__(self, line: str, code: int = 2) -> None:
        super().__init__(line)
        self.code = code


@dataclass
class AdminClient:
    url: str
    token: str
    timeout: float = 30.0

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        """The answer's JSON; `key` sends an Idempotency-Key (a retry with the same key is safe)."""
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        request = urllib.request.Request(self.url.rstrip("/") + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AdminError(_refusal(exc.code, exc.read()), 2 if exc.code < 500 else 1) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AdminError(f"cannot reach the admin API at {self.url}: {reason}") from None


def _refusal(status: int, raw: bytes) -> str:
    try:
        answer = json.loads(raw)
        reason = answer.get("reason") or answer.get("error") or ""
    except (ValueError, AttributeError):
        reason = raw.decode("utf-8", "replace").strip().splitlines()[0][:200] if raw.strip() else ""
    return f"{status} {WHY.get(status, 'refused' if status < 500 else 'server error')}: {reason}".rstrip(": ")


def add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the admin API's base URL (default: http://[http] host:[http] port)")
    parser.add_argument("--token", help=f"the agent's token (default: ${TOKEN_ENV})")


def client(args: argparse.Namespace, settings: Settings) -> AdminClient:
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise AdminError(f"no token: pass --token or set {TOKEN_ENV} (an operator issues one with "
                         "`shortcode agent add NAME --role ROLE`)")
    host = "127.0.0.1" if settings.http.host in ("0.0.0.0", "::") else settings.http.host
    return AdminClient(args.url or f"http://{host}:{settings.http.port}", token)


def describe(sub) -> None:
    """Each action of a command group shows its help as its description and takes --config after its name."""
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name, command in sub.choices.items():
        command.description = command.description or helps.get(name)
        command.add_argument("--config", default=argparse.SUPPRESS, help="config file")


def new_key() -> str:
    return str(uuid.uuid4())


def run(name: str, work: Callable[[], Any]) -> int:
    """Print the JSON answer of `work`, or its one-line refusal on stderr."""
    try:
        answer = work()
    except AdminError as exc:
        print(f"shortcode {name}: {exc}", file=sys.stderr)
        return exc.code
    print(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0
