"""`shortcode sim --sms`: a terminal handset that texts the short code through the (simulated) SMS
gateway, so a tester sees exactly what a subscriber's phone receives: every reply, its encoding and
its number of segments."""
from __future__ import annotations

import asyncio
import time
from typing import Callable

from aiohttp import ClientSession, ClientTimeout

from bot.msisdn import BadNumber, normalise
from integrations.gsm import count

HELP = ("Type a text such as GOLF, 高尔夫 or STOP, then reply with numbers. Commands: /as NUMBER (switch "
        "subscriber), /help, /quit. Needs `shortcode serve` and `shortcode gateway` running.")


def frame(text: str) -> str:
    counted = count(text)
    width = min(max(max(len(line) for line in text.splitlines() or [""]), 20), 40)
    rule = "-" * width
    return f"{rule}\n{text}\n{rule}\n[SMS {counted.encoding} {counted.units} units, {counted.segments} segment(s)]"


class SmsConsole:
    def __init__(self, http: ClientSession, gateway_url: str, msisdn: str, short_code: str,
                 region: str = "CN", out: Callable[[str], None] = print, wait_s: float = 15.0) -> None:
        self.http = http
        self.gateway = gateway_url.rstrip("/")
        self.msisdn = msisdn
        self.short_code = short_code
        self.region = region
        self.out = out
        self.wait_s = wait_s

    async def line(self, text: str) -> bool:
        """Handle one typed line; False when the tester quits."""
        text = text.strip()
        if text in ("/quit", "/exit"):
            return False
        if text.startswith("/as "):
            try:
                self.msisdn = normalise(text[4:], self.region)
                self.out(f"now texting as {self.msisdn}")
            except BadNumber as exc:
                self.out(str(exc))
        elif text.startswith("/") or not text:
            self.out(HELP)
        else:
            for reply in await self.text(text):
                self.out(frame(reply))
        return True

    async def text(self, body: str) -> list[str]:
        """Send one text as the handset and return what arrives on it (after a short settle time)."""
        before = len(await self._inbox())
        async with self.http.post(f"{self.gateway}/control/inbound",
                                  json={"from": self.msisdn, "to": self.short_code, "text": body}) as r:
            r.raise_for_status()
        deadline, settled = time.monotonic() + self.wait_s, None
        while time.monotonic() < deadline:
            received = await self._inbox()
            if len(received) > before:
                settled = settled or time.monotonic() + 0.3  # a reply and a confirmation can both come
                if time.monotonic() >= settled:
                    return [m["text"] for m in received[before:]]
            await asyncio.sleep(0.05)
        got = [m["text"] for m in (await self._inbox())[before:]]
        return got or [f"(no reply within {self.wait_s:.0f} s: are `shortcode serve` and a worker running?)"]

    async def _inbox(self) -> list[dict]:
        async with self.http.get(f"{self.gateway}/control/handset", params={"to": self.msisdn}) as r:
            r.raise_for_status()
            return await r.json()


async def sms_repl(gateway_url: str, msisdn: str, short_code: str, region: str,
                   read: Callable[[str], str | None]) -> None:
    async with ClientSession(timeout=ClientTimeout(total=30)) as http:
        console = SmsConsole(http, gateway_url, msisdn, short_code, region)
        console.out(HELP)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, lambda: read(f"{console.msisdn} SMS> "))
            if line is None or not await console.line(line):
                return
