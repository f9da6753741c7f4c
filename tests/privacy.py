"""The privacy check of the whole suite: no log line written by any test, in-process or by the processes
the end-to-end tests start, carries a full phone number or a secret. The suite logs through the
production configuration (`bot.logs.configure`), so what is checked is what an operator would store."""
from __future__ import annotations

import re

PHONE = re.compile(r"(?<![\d*])\+?86 ?1[3-9]\d{9}(?!\d)")
# every secret the tests configure: the USSD key, the SMS signing secrets, the gateway API key
SECRETS = ("test-secret", "demo-secret", "demo-sms-secret", "new-secret", "old-secret", "dlr-secret",
           "console-secret", "demo-key")
LOG_LINE = re.compile(r'^(\{"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(,\d+)? (DEBUG|INFO|WARNING|ERROR|CRITICAL) )')


def leaks(text: str, all_lines: bool = False) -> list[str]:
    """Log lines of `text` that carry a full number or a secret (`all_lines`: every line is a log line)."""
    return [line[:300] for line in text.splitlines()
            if (all_lines or LOG_LINE.match(line)) and (PHONE.search(line) or any(s in line for s in SECRETS))]
