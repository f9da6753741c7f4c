"""Reading gateway requests at the door: shared secrets, form fields with limits, reasons for a 400."""
from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError


INT_MAX = 2**31 - 1  # an INTEGER column on PostgreSQL


class BadRequest(ValueError):
    """The form is malformed; the message is the reason returned with 400."""


def authorised(request: web.Request, secret: str) -> bool:
    """The shared secret from ?key= or X-Shortcode-Key, compared in constant time."""
    given = request.query.get("key") or request.headers.get("X-Shortcode-Key") or ""
    # surrogateescape: a header of raw non-UTF-8 bytes is a wrong key, not a crash
    return bool(secret) and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode())


async def read_form(request: web.Request) -> dict[str, str]:
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise BadRequest("expected an application/x-www-form-urlencoded form")
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError, LookupError, HttpProcessingError) as exc:  # LookupError: charset=xyz
        raise BadRequest(f"unreadable form: {type(exc).__name__}") from None
    return {k: v for k, v in form.items() if isinstance(v, str)}


def field(form: dict[str, str], name: str, limit: int = 128, required: bool = True) -> str:
    value = form.get(name)
    if value is None:
        if required:
            raise BadRequest(f"missing field '{name}'")
        return ""
    if len(value) > limit:
        raise BadRequest(f"field '{name}' is longer than {limit} characters")
    if "\x00" in value:
        raise BadRequest(f"field '{name}' contains a NUL character")
    return value


def number(form: dict[str, str], name: str) -> int | None:
    raw = field(form, name, 16, required=False)
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > INT_MAX:
        raise BadRequest(f"field '{name}' must be a whole number up to {INT_MAX}")
    return int(raw)
