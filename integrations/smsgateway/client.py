"""Our client of the SMS gateway's send API (synchronous: it runs inside RQ jobs). A worker runs its jobs in
its own process (RQ's SimpleWorker, no fork per job), so one kept-alive connection serves every request."""
from __future__ import annotations

import http.client
import json
import os
import threading
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from integrations.smsgateway import BULK_PATH, SEND_PATH, SENT


class GatewayError(Exception):
    """The gateway did not take the request (HTTP error, timeout, unreadable answer): try again later."""


class _Dropped(GatewayError):
    """The connection failed before any answer came; on a kept-alive one, the gateway had closed it."""


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
        self.timeout = timeout  # seconds for the connect and for each read or write, as urllib's
        self._held = threading.local()  # one connection per thread; `_connection` drops one a fork inherited

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
        or an answer we cannot read is a GatewayError (named as urllib named them: URLError when the
        request could not be sent, HTTPError for a status other than 2xx)."""
        raw = self._exchange(url, body, content_type)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise GatewayError(type(exc).__name__) from None
        try:
            return [(str(r.get("clientReference", "")), Submitted(r["number"], int(r["statusCode"]),
                                                                 str(r.get("messageId", ""))))
                    for r in data["SMSMessageData"]["Recipients"]]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GatewayError(f"unreadable answer: {type(exc).__name__}") from None

    def _exchange(self, url: str, body: bytes, content_type: str) -> bytes:
        """POST on this thread's kept connection. One the gateway closed while idle fails before any
        answer: the request goes once more on a new one (the references make a repeat harmless)."""
        target = urlsplit(url)
        headers = {"apiKey": self.api_key, "Accept": "application/json", "Content-Type": content_type}
        connection, reused = self._connection(target.scheme, target.netloc)
        try:
            return self._round_trip(connection, target.path, body, headers)
        except _Dropped:
            if not reused:
                raise
        return self._round_trip(self._connection(target.scheme, target.netloc)[0], target.path, body, headers)

    def _round_trip(self, connection: http.client.HTTPConnection, path: str, body: bytes,
                    headers: dict[str, str]) -> bytes:
        """One request and its answer's body. A transport failure closes the connection, so a late answer
        is never read as the next request's; errors are named as urllib named them."""
        try:
            connection.request("POST", path, body, headers)
        except (OSError, http.client.HTTPException):
            self._close()
            raise _Dropped("URLError") from None
        try:
            response = connection.getresponse()
            raw = response.read()
        except ConnectionResetError as exc:  # RemoteDisconnected too: closed before answering
            self._close()
            raise _Dropped(type(exc).__name__) from None
        except (OSError, http.client.HTTPException) as exc:  # a timeout, a broken answer
            self._close()
            raise GatewayError(type(exc).__name__) from None
        if response.will_close:
            self._close()
        if not 200 <= response.status < 300:
            raise GatewayError("HTTPError")
        return raw

    def _connection(self, scheme: str, netloc: str) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it served a request before."""
        held = getattr(self._held, "connection", None)
        if held is not None and held[1] == os.getpid():
            return held[0], True
        kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        connection = kind(netloc, timeout=self.timeout)
        self._held.connection = (connection, os.getpid())
        return connection, False

    def _close(self) -> None:
        held = getattr(self._held, "connection", None)
        self._held.connection = None
        if held is not None and held[1] == os.getpid():
            held[0].close()

    def close(self) -> None:
        """Close this thread's connection (the next request opens another)."""
        self._close()
