"""Signed callbacks: HMAC-SHA256 over "timestamp.body", checked in constant time within a tolerance.

Two secrets can be valid at once, so a secret is rotated without a window where callbacks fail.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Iterable

TIMESTAMP = "X-Shortcode-Timestamp"
SIGNATURE = "X-Shortcode-Signature"
TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    ts = int(time.time() if now is None else now)
    return {TIMESTAMP: str(ts), SIGNATURE: sign(secret, ts, body)}


def verify(secrets: Iterable[str], timestamp: str | None, signature: str | None, body: bytes,
           now: float | None = None, tolerance: int = TOLERANCE_S) -> bool:
    """True when the signature matches one of the secrets and the timestamp is recent."""
    if not timestamp or not signature or not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False  # "²" is a digit to isdigit(), and int() of 5,000 digits is refused
    if not signature.isascii():
        return False  # compare_digest refuses non-ASCII str
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    good = False
    for secret in secrets:
        if secret:
            good |= hmac.compare_digest(sign(secret, int(timestamp), body), signature)
    return good
