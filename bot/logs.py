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


def configure(level: str = "info", stream: Any = None) -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _scrub_numbers,
            structlog.processors.JSONRenderer(ensure_ascii=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
