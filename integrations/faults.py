"""Fault injection for simulated partners, so tests and testers can see failures handled."""
from __future__ import annotations

import time
from dataclasses import dataclass


class PartnerUnavailable(Exception):
    """The partner did not answer (down, timed out, refused)."""


@dataclass
class Faults:
    """Switches a tester flips: `down` fails every call, `latency_s` delays each one."""

    down: bool = False
    latency_s: float = 0.0

    def check(self, partner: str) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)
        if self.down:
            raise PartnerUnavailable(partner)
