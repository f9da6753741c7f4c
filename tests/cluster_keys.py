"""Redis Cluster readiness, checked on a real redis-server: MONITOR records every command the processes send
(and every command their Lua scripts run), and the checks say which keys would break in a cluster: a key
that holds a subscriber's number outside its hash tag, and a script, transaction or multi-key command whose
keys are on two slots. The slot is redis-py's `key_slot` (CLUSTER KEYSLOT needs cluster mode)."""
from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field

import redis
from redis.crc import key_slot

_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"')
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b", b'"': b'"', b"\\": b"\\"}
# RQ's own keys: RQ does not support Redis Cluster (its MULTI blocks join a job's key and its queue's), so its
# queues stay on one Redis node (docs/operations.md); only what Shortcode itself writes is held to one slot.
RQ = b"rq:"


def _unescape(raw: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i:i + 1] == b"\\" and raw[i + 1:i + 2] == b"x":
            out.append(int(raw[i + 2:i + 4], 16))
            i += 4
        elif raw[i:i + 1] == b"\\":
            out += _ESCAPES.get(raw[i + 1:i + 2], raw[i + 1:i + 2])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


@dataclass
class Seen:
    """One command as MONITOR printed it: who sent it (`lua` for a script's own calls) and its words."""

    client: str
    words: tuple[bytes, ...]

    @property
    def name(self) -> str:
        return self.words[0].decode().upper()


def parse(line: bytes) -> Seen | None:
    """`+1796305510.27 [0 127.0.0.1:50988] "SET" "k" "v"` -> Seen("127.0.0.1:50988", (b"SET", b"k", b"v"))."""
    start, end = line.find(b"["), line.find(b"]")
    if start < 0 or end < 0:
        return None
    client = line[start + 1:end].split(b" ", 1)[1].decode()
    words = tuple(_unescape(m.group(1)) for m in _QUOTED.finditer(line, end))
    return Seen(client, words) if words else None


@dataclass
class Monitor:
    """MONITOR on its own connection, read on a thread until `stop()`."""

    port: int
    lines: list[bytes] = field(default_factory=list)

    def start(self) -> None:
        self._sock = socket.create_connection(("127.0.0.1", self.port))
        self._sock.sendall(b"MONITOR\r\n")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        while chunk := self._sock.recv(1 << 16):
            buffer += chunk
            *done, buffer = buffer.split(b"\r\n")
            self.lines += done

    def stop(self) -> list[Seen]:
        self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        self._sock.close()
        return [s for s in map(parse, self.lines) if s is not None]


class Keys:
    """The keys of a command, as the server itself finds them (COMMAND GETKEYS), asked once per command."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.known: dict[tuple[bytes, ...], tuple[bytes, ...]] = {}

    def learn(self, seen: list[Seen]) -> None:
        todo = list({s.words for s in seen if s.words not in self.known and s.name not in ("MULTI", "EXEC")})
        pipe = self.client.pipeline(transaction=False)
        for words in todo:
            pipe.execute_command("COMMAND GETKEYS", *words)  # one word: no reply callback
        for words, found in zip(todo, pipe.execute(raise_on_error=False)):
            self.known[words] = () if isinstance(found, Exception) else tuple(_bytes(k) for k in found)

    def __call__(self, seen: Seen) -> tuple[bytes, ...]:
        return self.known.get(seen.words, ())


def _bytes(key: bytes | str) -> bytes:
    return key if isinstance(key, bytes) else key.encode()


def untagged(keys: list[bytes], numbers: list[str]) -> list[str]:
    """Keys holding a subscriber's number anywhere but as their whole hash tag (`{+8613800000001}`)."""
    bad = []
    for key in keys:
        text = key.decode(errors="replace")
        held = [n for n in numbers if n.lstrip("+") in text]
        tag = re.search(r"\{([^}]*)\}", text)
        if held and not (tag and tag.group(1) in held and text.count(held[0].lstrip("+")) == 1):
            bad.append(text)
    return bad


def cross_slot(seen: list[Seen], keys: Keys) -> list[str]:
    """Scripts (with the commands they ran), transactions and multi-key commands whose keys span slots."""
    return [describe(group) for group in units(seen) if _slots(group, keys) > 1 and not _rq_only(group, keys)]


def units(seen: list[Seen]) -> list[list[Seen]]:
    """What must run on one node: a MULTI..EXEC of one client, a script and its `lua` calls, or one command."""
    groups, open_tx, last_script = [], {}, None
    for s in seen:
        if s.client == "lua" and last_script is not None:
            last_script.append(s)
        elif s.name == "MULTI":
            open_tx[s.client] = []
        elif s.name == "EXEC" and s.client in open_tx:
            groups.append(open_tx.pop(s.client))
        elif s.client in open_tx:
            open_tx[s.client].append(s)
        else:
            groups.append([s])
            last_script = groups[-1] if s.name.startswith("EVAL") or s.name.startswith("FCALL") else None
    return groups


def _all_keys(group: list[Seen], keys: Keys) -> list[bytes]:
    return [k for s in group for k in keys(s)]


def _slots(group: list[Seen], keys: Keys) -> int:
    return len({key_slot(k) for k in _all_keys(group, keys)})


def _rq_only(group: list[Seen], keys: Keys) -> bool:
    return all(k.startswith(RQ) for k in _all_keys(group, keys))


def describe(group: list[Seen]) -> str:
    return " | ".join(b" ".join(w[:60] for w in s.words[:6]).decode(errors="replace") for s in group[:6])
