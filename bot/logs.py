"""Structured logs: JSON lines, context bound at the edge, phone numbers masked everywhere."""
from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from bot.msisdn import scrub


def _scrub_numbers(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Safety net: whatever a caller passes, no full phone number reaches the log."""
    return {k: scrub(v) if isinstance(v, str) else v for k, v in event.items()}


class ScrubbingFormatter(logging.Formatter):
    """For libraries that log through the standard library (RQ's job tracebacks, aiohttp, asyncio):
    the same masking as our own events, applied to the message and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


# python-telegram-bot logs Bot API data itself: each call's parameters (chat id, text) at DEBUG, and at
# CRITICAL a whole getUpdates batch it cannot parse (texts, names, numbers), at ERROR an answer that is not
# JSON. The error reaches our code, which logs its type; PTB's own records are off at every level.
SILENCED = ("telegram",)


def _renderer(fmt: str, stream: Any) -> Any:
    """JSON lines for collectors (the default); for a terminal, structlog's aligned console lines, in colour
    only when they go to a terminal."""
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(colors=bool(getattr(stream or sys.stdout, "isatty", lambda: False)()))
    return structlog.processors.JSONRenderer(ensure_ascii=True)


def configure(level: str = "info", stream: Any = None, fmt: str = "json") -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # libraries' INFO and DEBUG (httpx logs each URL, the bot token in it) stay out
    for name in SILENCED:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,  # a traceback is text before the masking, in both formats
            _scrub_numbers,
            _renderer(fmt, stream),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # no stream: each logger writes to whatever sys.stdout is when it logs (pytest swaps it per test)
        logger_factory=structlog.PrintLoggerFactory(stream) if stream else structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
