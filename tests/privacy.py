"""The privacy check of the whole suite: no log line written by any test, in-process or by the processes
the end-to-end tests start, and no RQ record left in Redis, carries a full phone number, a secret or a
message body. The suite logs through the production configuration (`bot.logs.configure`), so what is
checked is what an operator would store.

Message bodies are found two ways, because neither is enough alone:
- the canary: `body()` gives a text no source file holds (random per run, letters only, so it passes as
  a patient's name and no number masking alters it). tests/test_privacy.py sends it as SMS text and
  USSD input down the happy and the failing paths, including other processes and RQ jobs; a canary
  found anywhere is a leak, with no false positive possible.
- the bodies themselves: `record_bodies()` wraps the doors where bodies enter (the SMS webhook's and
  USSD hop's form, `jobs.outbox.add`, and Telegram's: tests/privacy_telegram.py), so every test's
  distinctive bodies are looked for too, not only the privacy tests'. Short or repetitive ones ("1",
  "GOLF", "x" * 10_000) would match by chance and are skipped; a traceback's quoted source line is
  skipped for bodies, as tests quote bodies as literals.
Telegram adds who a user is: their user id (also their private chat's id) is found like a number, by
value, among the ids the tests use and every id that entered by a door; their first and last names and
username are found like bodies, by value (names shorter than MIN_NAME, "Li", are left out: any log
could hold them by chance).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import secrets
import string
from typing import Any, Callable, Iterator

import redis

from bot.msisdn import scrub
from tests.rq_records import records

PHONE = re.compile(r"(?<![\d*])\+?86 ?1[3-9]\d{9}(?!\d)")
# every secret the tests configure: the USSD keys, the SMS signing secrets, the gateway API key, the
# Telegram webhook's secret tokens and bot tokens (whole, and the part after the bot id, which is public)
SECRETS = ("test-secret", "demo-secret", "demo-sms-secret", "new-secret", "old-secret", "dlr-secret",
           "console-secret", "demo-key", "hostile-secret", "openapi-secret", "s3cret", "privacy-db-password",
           "e2e-sms-secret", "e2e-api-key", "tg-secret-1", "e2e-tg-secret", "tg-own", "TEST-token", "E2E-token",
           "123456:wrong", "123456:other", "REVOKED-token")
# the Telegram user (= private chat) ids the tests use, more by `remember_user`: like a number, never in a
# log in full. The tests' bot id (the token's public part, a row's `bot`) is logged on purpose.
TELEGRAM_USERS = {str(n) for n in (*range(5550000, 5550010), 7000011, *range(7100001, 7100041))}
BOT_IDS = frozenset({"123456"})
MIN_USER_ID = 100_000  # a smaller number is in logs by chance (a port, a count, a row id)
_DIGITS = re.compile(r"\d+")
MIN_NAME, MIN_NAME_DISTINCT = 5, 4
_NAMES: set[str] = set()
_names: list[re.Pattern | None] = [None]  # the names as one pattern, rebuilt when one is added
LOG_LINE = re.compile(r'^(\{"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(,\d+)? (DEBUG|INFO|WARNING|ERROR|CRITICAL) )')

def _canary_letters() -> str:
    """Random per run; under pytest-xdist the same in every worker (the run's shared id picks them), as the
    workers must collect the same test ids and some ids show the canary."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        return "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
    digest = hashlib.sha256(run.encode()).digest()
    return "".join(string.ascii_lowercase[b % 26] for b in digest[:8])


CANARY = "Privbody" + _canary_letters()
_CANARY = re.compile(CANARY, re.IGNORECASE)
MIN_BODY, MIN_DISTINCT = 12, 8  # shorter or more repetitive bodies could be in any log by chance
_BODIES: dict[str, set[str]] = {}  # first MIN_BODY characters -> the bodies (and body lines) seen


def body(note: str = "") -> str:
    """A message body that must never reach a log or a record: the canary, and `note` for readability."""
    return f"{note} {CANARY}".strip()


def remember(text: str) -> None:
    """Look for this body in logs and records from now on, as written and as the log masking leaves it."""
    for part in {text, scrub(text), *text.splitlines(), *scrub(text).splitlines()}:
        part = part.strip()
        if len(part) >= MIN_BODY and len(set(part)) >= MIN_DISTINCT:
            _BODIES.setdefault(part[:MIN_BODY], set()).add(part)


def remember_user(user_id: object) -> None:
    """Look for this Telegram user (or private chat) id in logs and records from now on."""
    digits = str(user_id).lstrip("-")
    if digits.isdigit() and int(digits) >= MIN_USER_ID and digits not in BOT_IDS:
        TELEGRAM_USERS.add(digits)


def remember_phone(number: object) -> None:
    """A shared contact's number, as Telegram sends it (no "+", any country): found like a user id."""
    digits = "".join(c for c in str(number) if c.isdigit())
    if len(digits) >= 7:
        TELEGRAM_USERS.update({digits, digits[2:]} if digits.startswith("86") else {digits})


def remember_name(name: object) -> None:
    """A user's first or last name or username: found as a whole word, as written."""
    if isinstance(name, str) and len(name := name.strip().lstrip("@")) >= MIN_NAME and \
            len(set(name)) >= MIN_NAME_DISTINCT and name not in _NAMES:
        _NAMES.add(name)
        _names[0] = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, sorted(_NAMES, key=len, reverse=True)))
                               + r")(?!\w)")


def telegram_user_in(text: str) -> str | None:
    """A remembered user id or contact number standing alone (not part of a longer number) in `text`."""
    return next((m.group() for m in _DIGITS.finditer(text) if m.group() in TELEGRAM_USERS), None)


def name_in(text: str) -> str | None:
    found = _names[0].search(text) if _names[0] else None
    return found.group() if found else None


def body_in(text: str) -> str | None:
    """The canary or a remembered body found in `text`: one dict lookup per position, as the suite
    remembers thousands of bodies."""
    if _CANARY.search(text):
        return CANARY
    for i in range(len(text) - MIN_BODY + 1):
        for found in _BODIES.get(text[i:i + MIN_BODY], ()):
            if text.startswith(found, i):
                return found
    return None


def leaks(text: str, all_lines: bool = False) -> list[str]:
    """Log lines of `text` that carry a full number, a secret or a body (`all_lines`: every line is a
    log line, as in pytest's "Captured log" sections and RQ's exception texts)."""
    lines = text.splitlines()
    quoted = [False] + [_quotes_source(frame, line) for frame, line in zip(lines, lines[1:])]
    return [line[:300] for line, source in zip(lines, quoted)
            if (all_lines or LOG_LINE.match(line)) and _carries(line, bodies=not source)]


def _quotes_source(frame: str, line: str) -> bool:
    """Whether `line` is the source a traceback quotes under this frame line: two spaces deeper than its
    `File "..."` (an exception's message, even right after a frame with no source, is not)."""
    at = frame.find('File "')
    if at < 0 or frame[:at].strip(" |"):
        return False
    return line.startswith(frame[:at] + "  ") and line[at + 2:at + 3] not in ("", " ")


def _carries(line: str, bodies: bool) -> bool:
    if PHONE.search(line) or telegram_user_in(line) or any(s in line for s in SECRETS):
        return True
    if not bodies:
        return False
    decoded = _json_text(line)  # JSON escapes non-ASCII and newlines: read a JSON line decoded
    if decoded is not None:
        return bool(leaks(decoded, all_lines=True))
    return body_in(line) is not None or name_in(line) is not None


# the gateway's session id, logged on purpose: a fuzzer may send one equal to a body it also sends
IDENTIFIERS = ("session",)


def _json_text(line: str) -> str | None:
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in IDENTIFIERS}
    return "\n".join(_strings(data))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from _strings(item)
    else:
        yield str(value)


def rq_leaks(client: redis.Redis) -> list[tuple[str, str]]:
    """Every RQ record in this Redis (job descriptions, arguments, exception texts) that carries a full
    number, a secret or a body: ("key field", its first such line)."""
    return [(where, line) for where, text in records(client) for line in leaks(text, all_lines=True)[:1]]


def record_bodies() -> None:
    """Remember every body that enters by the SMS webhook or a USSD hop (even one refused with a 400)
    and every body written to the outbox, for the rest of this process; Telegram's doors too."""
    from bot.channels import sms, ussd
    from jobs import outbox
    from tests.privacy_telegram import record_telegram

    sms.to_row = _remembering(sms.to_row, lambda form, *_: form.get("text", ""))
    ussd.to_inbound = _remembering(ussd.to_inbound, lambda form, *_: form.get("text", "").split("*")[-1])
    outbox.add = _remembering(outbox.add, lambda conn, msisdn, text, *_, **__: text)
    record_telegram()


def _remembering(function: Callable[..., Any], text_of: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        text = text_of(*args, **kwargs)
        if isinstance(text, str):
            remember(text)
        return function(*args, **kwargs)
    return wrapper
