"""RQ's records in a Redis, as text: what a job hash and a result stream hold that came from a caller
or an exception, decoded the way RQ 2.x/3.x stores it (rq/job.py `to_dict`, rq/results.py `serialize`)."""
from __future__ import annotations

import base64
import binascii
import zlib
from typing import Iterator

import redis
from rq.defaults import RQ_KEY_PREFIX

# a job hash: its description (the call, arguments included), the pickled call (zlib), its meta and
# result, and the traceback of its last failure (zlib); ids and timestamps are left out
JOB_FIELDS = {b"description", b"data", b"meta", b"result", b"exc_info"}
# a result stream entry: the traceback of a failed run (zlib, then base64) or a return value (base64 pickle)
RESULT_FIELDS = {b"exc_string", b"return_value"}


def records(client: redis.Redis) -> Iterator[tuple[str, str]]:
    """("key field", text) for every field of interest of every RQ job and result in this database."""
    for key in client.scan_iter(f"{RQ_KEY_PREFIX}:job:*", count=1000):
        if client.type(key) == b"hash":
            for field, value in client.hgetall(key).items():
                if field in JOB_FIELDS:
                    yield f"{key.decode()} {field.decode()}", readable(value)
    for key in client.scan_iter(f"{RQ_KEY_PREFIX}:results:*", count=1000):
        if client.type(key) == b"stream":
            for entry_id, entry in client.xrange(key):
                for field, value in entry.items():
                    if field in RESULT_FIELDS:
                        yield f"{key.decode()} {entry_id.decode()} {field.decode()}", readable(value)


def readable(raw: bytes) -> str:
    """The value as stored and every decoding of it that works (zlib, base64, base64 of zlib), one after
    the other: a plain description may happen to be valid base64, so nothing is given up for a guess.
    Pickled arguments keep their strings as UTF-8, so a number or a body in them reads as text; the
    rest of a pickle's bytes read as "?"."""
    texts = [raw]
    for decode in (zlib.decompress, _base64, lambda value: zlib.decompress(_base64(value))):
        try:
            texts.append(decode(raw))
        except (zlib.error, binascii.Error, ValueError):
            pass
    text = "\n".join(text.decode("utf-8", "replace") for text in texts)
    return "".join(c if c.isprintable() or c == "\n" else "?" for c in text)  # pickles: printable excerpts


def _base64(value: bytes) -> bytes:
    return base64.b64decode(value, validate=True)
