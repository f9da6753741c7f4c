"""`shortcode sim --sms`: a terminal handset that texts the short code through the (simulated) SMS
gateway and shows every message the gateway delivers to its number as it arrives, whether it answers
the tester's text or comes later (a confirmation, a reminder): its encoding and its segments."""
from __future__ import annotations

import asyncio
import time
from typing import Callable

from aiohttp import ClientError, ClientSession

from bot.msisdn import BadNumber, normalise
from bot.tools.phone import Sms, sms_frame

HELP = ("Type a text such as GOLF, 高尔夫 or STOP, then reply with numbers. Commands: /as NUMBER (switch "
        "subscriber), /help, /quit. Needs `shortcode serve` and `shortcode gateway` running.")


class GatewayDown(RuntimeError):
    """The SMS gateway does not answer at [sms] gateway_url."""

    def __init__(self, url: str) -> None:
        super().__init__(f"the SMS gateway at {url} ([sms] gateway_url) is not answering: "
                         "start it with `shortcode gateway` (and `shortcode serve`) in other terminals")


class SmsConsole:
    def __init__(self, http: ClientSession, gateway_url: str, msisdn: str, short_code: str,
                 region: str = "CN", out: Callable[[str], None] = print, wait_s: float = 15.0,
                 every_s: float = 0.2, notify: Callable[[str], None] | None = None) -> None:
        self.http = http
        self.gateway = gateway_url.rstrip("/")
        self.msisdn = msisdn
        self.short_code = short_code
        self.region = region
        self.out = out  # answers to what the tester typed
        self.notify = notify or out  # what arrives while the tester may be typing
        self.wait_s = wait_s  # a text with no answer this long gets a hint
        self.every_s = every_s  # how often the gateway is asked what reached the handset
        self.seen: set[str] = set()
        self.texted_at: float | None = None
        self.down = False
        self._listener: asyncio.Task | None = None

    @property
    def prompt(self) -> str:
        return f"{self.msisdn} SMS> "

    async def start(self) -> None:
        """Take what the handset already holds as read, then listen; GatewayDown if nobody answers."""
        try:
            self.seen |= {m["id"] for m in await self._inbox()}
        except (ClientError, asyncio.TimeoutError):
            raise GatewayDown(self.gateway) from None
        self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)

    async def line(self, text: str) -> bool:
        """Handle one typed line; False when the tester quits."""
        text = text.strip()
        if text in ("/quit", "/exit"):
            return False
        if text.startswith("/as "):
            await self._switch(text[4:])
        elif text.startswith("/") or not text:
            self.out(HELP)
        else:
            await self.text(text)
        return True

    async def _switch(self, raw: str) -> None:
        try:
            msisdn = normalise(raw, self.region)
        except BadNumber as exc:
            self.out(str(exc))
            return
        self.msisdn, self.texted_at = msisdn, None
        try:  # what this handset received before the tester picked it up is history
            self.seen |= {m["id"] for m in await self._inbox()}
        except (ClientError, asyncio.TimeoutError):
            pass  # the listener says the gateway is down
        self.out(f"now texting as {self.msisdn}")

    async def text(self, body: str) -> None:
        """Send one text as the handset; what comes back is shown by the listener when it arrives."""
        try:
            async with self.http.post(f"{self.gateway}/control/inbound",
                                      json={"from": self.msisdn, "to": self.short_code, "text": body}) as r:
                r.raise_for_status()
        except (ClientError, asyncio.TimeoutError):
            self.out(str(GatewayDown(self.gateway)))
            return
        self.texted_at = time.monotonic()

    async def _listen(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self.every_s)

    async def poll(self) -> None:
        """Show every message that reached the handset since the last look; say once when the gateway
        stops or starts answering, and when a text got no answer in `wait_s`."""
        try:
            received = await self._inbox()
        except (ClientError, asyncio.TimeoutError):
            if not self.down:
                self.down = True
                self.notify(str(GatewayDown(self.gateway)))
            return
        if self.down:
            self.down = False
            self.notify(f"the SMS gateway at {self.gateway} answers again")
        for message in received:
            if message["id"] not in self.seen:
                self.seen.add(message["id"])
                self.texted_at = None
                self.notify(sms_frame(Sms(message["to"], message["sender"] or self.short_code, message["text"])))
        if self.texted_at is not None and time.monotonic() - self.texted_at > self.wait_s:
            self.texted_at = None
            self.notify(f"(no reply within {self.wait_s:.0f} s: are `shortcode serve` and a worker running?)")

    async def _inbox(self) -> list[dict]:
        async with self.http.get(f"{self.gateway}/control/handset", params={"to": self.msisdn}) as r:
            r.raise_for_status()
            return await r.json()
