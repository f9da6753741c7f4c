"""Our gateway client over real HTTP: one kept-alive connection, replaced when it is gone, never reused after a
failure, and the same GatewayError names as before."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from integrations.smsgateway import client as client_module
from integrations.smsgateway.client import GatewayClient, GatewayError
from integrations.smsgateway.simulator import GATEWAY, Gateway, make_gateway_app
from tests.conftest import free_port

PEERS = web.AppKey("peers", list)


@web.middleware
async def record_peer(request: web.Request, handler):
    request.app[PEERS].append(request.transport.get_extra_info("peername")[1])
    return await handler(request)


class Worker:
    """The client in a thread of its own, as in an RQ worker (its connection belongs to that thread)."""

    def __init__(self, client: GatewayClient) -> None:
        self.client, self.pool = client, ThreadPoolExecutor(1)

    async def send(self, *refs: str) -> list[str]:
        messages = [("+8613800000001", "hi", ref) for ref in refs]
        found = await asyncio.get_running_loop().run_in_executor(self.pool, self.client.send_many, messages, "12580")
        return [s.message_id for s in found]

    def close(self) -> None:
        self.pool.submit(self.client.close).result()
        self.pool.shutdown()


async def served(keepalive_timeout: float = 75.0) -> tuple[TestServer, Worker]:
    app = make_gateway_app(Gateway("shortcode", "k"))
    app[PEERS] = []
    app.middlewares.append(record_peer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(keepalive_timeout=keepalive_timeout)
    return server, Worker(GatewayClient(f"http://127.0.0.1:{server.port}", "shortcode", "k", timeout=0.3))


async def test_requests_share_one_kept_alive_connection():
    """A worker's requests go over one TCP connection, not one each."""
    server, client = await served()
    try:
        answers = [await client.send(f"r{n}") for n in range(3)]
        assert len({a[0] for a in answers}) == 3 and len(server.app[PEERS]) == 3
        assert len(set(server.app[PEERS])) == 1
    finally:
        client.close()
        await server.close()


async def test_a_connection_the_gateway_closed_while_idle_is_replaced_without_an_error():
    server, client = await served(keepalive_timeout=0.1)
    try:
        first = await client.send("a1")
        await asyncio.sleep(0.4)  # the gateway closes the idle connection; the client has not noticed
        second = await client.send("a2")
        assert first != second and len(set(server.app[PEERS])) == 2 and server.app[GATEWAY].accepted == 2
    finally:
        client.close()
        await server.close()


async def test_a_timed_out_request_leaves_no_late_answer_for_the_next_one():
    """The late answer of a request given up on must not be read as the answer of the next."""
    server, client = await served()
    gw = server.app[GATEWAY]
    try:
        gw.faults.timeout_rate, gw.faults.timeout_s = 1.0, 0.5
        with pytest.raises(GatewayError, match="TimeoutError"):
            await client.send("t1")
        gw.faults.timeout_rate = 0.0
        await asyncio.sleep(0.4)  # the late answer to t1 arrives meanwhile
        ids = await client.send("t2", "t1")  # the late answer named t1 alone: read as this one's, a GatewayError
        assert [gw.messages[i].reference for i in ids] == ["t2", "t1"] and gw.accepted == 2
    finally:
        client.close()
        await server.close()


async def test_errors_keep_their_names_and_a_refusal_is_a_gateway_error():
    server, client = await served()
    try:
        server.app[GATEWAY].faults.error_rate = 1.0
        with pytest.raises(GatewayError, match="^HTTPError$"):
            await client.send("e1")
        server.app[GATEWAY].faults.error_rate = 0.0
        assert len(await client.send("e1")) == 1  # the connection still serves after an error answer
    finally:
        client.close()
        await server.close()
    refused = Worker(GatewayClient(f"http://127.0.0.1:{free_port()}", "shortcode", "k"))
    with pytest.raises(GatewayError, match="^URLError$"):
        await refused.send("x1")
    refused.close()


async def test_a_connection_inherited_across_a_fork_is_not_used(monkeypatch):
    """RQ forks (its scheduler): a child must not write on its parent's socket."""
    server, client = await served()
    try:
        await client.send("f1")
        monkeypatch.setattr(client_module.os, "getpid", lambda: -1)
        await client.send("f2")
        assert len(set(server.app[PEERS])) == 2
    finally:
        client.close()
        await server.close()
