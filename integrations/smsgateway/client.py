"""Our client of the SMS gateway's send API (synchronous: it runs inside RQ jobs)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from integrations.smsgateway import BULK_PATH, SEND_PATH, SENT


class GatewayError(Exception):
    """The gateway did not take the request (HTTP error, timeout, unreadable answer): try again later."""


@dataclass(frozen=True)
class Submitted:
    number: str
    status_code: int
    message_id: str

    @property
    def accepted(self) -> bool:
        return self.status_code == SENT


class GatewayClient:
    def __init__(self, base_url: str, username: str, api_key: str, timeout: float = 10.0) -> None:
        self.url = base_url.rstrip("/") + SEND_PATH
        self.bulk_url = base_url.rstrip("/") + BULK_PATH
        self.username = username
        self.api_key = api_key
        self.timeout = timeout

    def send(self, numbers: list[str], text: str, reference: str, sender: str = "") -> list[Submitted]:
        """Submit one text to one or more numbers; `reference` lets the gateway accept a retry once."""
        body = urlencode({"username": self.username, "to": ",".join(numbers), "message": text,
                          "from": sender, "clientReference": reference}).encode()
        found = [submitted for _, submitted in self._post(self.url, body, "application/x-www-form-urlencoded")]
        if sorted(r.number for r in found) != sorted(numbers):
            raise GatewayError(f"answer names {len(found)} of {len(numbers)} recipients")
        return found

    def send_many(self, messages: list[tuple[str, str, str]], sender: str = "") -> list[Submitted]:
        """Submit (number, text, reference) messages in one request; the answer has one entry per
        message, in order. Any other answer is a GatewayError: the whole request is tried again later,
        and the references make the gateway accept each message once."""
        body = json.dumps({"username": self.username, "messages": [
            {"to": n, "message": t, "from": sender, "clientReference": r} for n, t, r in messages]}).encode()
        found = self._post(self.bulk_url, body, "application/json")
        if [ref for ref, _ in found] != [r for _, _, r in messages]:
            raise GatewayError(f"answer names {len(found)} of {len(messages)} messages, or out of order")
        return [submitted for _, submitted in found]

    def _post(self, url: str, body: bytes, content_type: str) -> list[tuple[str, Submitted]]:
        """One request; the recipients of the answer with their client references. A transport error
        or an answer we cannot read is a GatewayError."""
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "apiKey": self.api_key, "Accept": "application/json", "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read())
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise GatewayError(type(exc).__name__) from None
        try:
            return [(str(r.get("clientReference", "")), Submitted(r["number"], int(r["statusCode"]),
                                                                 str(r.get("messageId", ""))))
                    for r in data["SMSMessageData"]["Recipients"]]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GatewayError(f"unreadable answer: {type(exc).__name__}") from None
