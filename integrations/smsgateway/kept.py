"""What the simulated gateway remembers of the messages it accepted: the latest ones in full, for lookups."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, fields
from collections.abc import Iterator, Mapping

from integrations.smsgateway import DLR_ORDER


@dataclass(slots=True)
class Message:
    id: str
    to: str
    sender: str
    text: str
    reference: str
    segments: int
    encoding: str
    status: str = DLR_ORDER[0]
    accepted_at: float = 0.0  # wall clock, so tests can order it against our own records
    request: int = 0  # which send request brought it (a bulk request brings many)


Row = tuple[str, str, str, str, str, int, str, str, float, int]  # a Message's fields, in order
STATUS = [f.name for f in fields(Message)].index("status")


class Kept(Mapping[str, Message]):
    """The latest `keep` accepted messages by id, oldest first; older ones are forgotten. Rows are plain
    tuples of strings and numbers, which the garbage collector stops tracking, so its full collections do
    not walk 100,000 messages (that was ~4 µs of every message accepted). Reading one builds a Message from
    its row: a copy, so its status is changed with `set_status`."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._rows: dict[str, Row] = {}
        self._order: deque[str] = deque()

    def add(self, row: Row) -> None:
        self._rows[row[0]] = row
        self._order.append(row[0])
        while len(self._order) > self.keep:
            del self._rows[self._order.popleft()]

    def set_status(self, message_id: str, status: str) -> None:
        row = self._rows.get(message_id)
        if row is not None:
            self._rows[message_id] = row[:STATUS] + (status,) + row[STATUS + 1:]  # type: ignore[assignment]

    def to(self, number: str) -> list[Message]:
        """What one handset received, in order."""
        return [Message(*row) for row in self._rows.values() if row[1] == number]

    def __getitem__(self, message_id: str) -> Message:
        return Message(*self._rows[message_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)
