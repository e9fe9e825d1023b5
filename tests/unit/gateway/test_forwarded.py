"""``X-Forwarded-For`` is believed only from trusted proxies, read from the right."""

from __future__ import annotations

import ipaddress

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.forwarded import client_address, trust_forwarded

LB = (ipaddress.ip_network("10.0.0.0/24"),)


def test_a_trusted_proxy_names_the_client() -> None:
    """The balancer 10.0.0.5 forwarded 203.0.113.7: the client is 203.0.113.7."""
    assert client_address("10.0.0.5", "203.0.113.7", LB) == "203.0.113.7"


def test_the_rightmost_untrusted_hop_wins() -> None:
    """A client-sent spoof on the left is ignored: two trusted hops, then the real client.

    ``1.2.3.4`` (typed by the client), ``198.51.100.9`` (appended by the first trusted proxy,
    the address it saw), ``10.0.0.7`` (an inner trusted proxy): the client is 198.51.100.9.
    """
    header = "1.2.3.4, 198.51.100.9, 10.0.0.7"
    assert client_address("10.0.0.5", header, LB) == "198.51.100.9"


def test_an_untrusted_peer_cannot_choose_its_address() -> None:
    """A peer outside the trusted networks keeps its own address whatever it sends."""
    assert client_address("198.51.100.1", "10.0.0.1", LB) == "198.51.100.1"
    assert client_address("198.51.100.1", "203.0.113.7", ()) == "198.51.100.1"


def test_unreadable_or_missing_lists_keep_the_peer() -> None:
    """Garbage, an empty header, or only trusted hops leave the peer's address."""
    assert client_address("10.0.0.5", "not-an-ip", LB) == "10.0.0.5"
    assert client_address("10.0.0.5", "", LB) == "10.0.0.5"
    assert client_address("10.0.0.5", None, LB) == "10.0.0.5"
    assert client_address("10.0.0.5", "10.0.0.9, 10.0.0.8", LB) == "10.0.0.5"
    assert client_address(None, "203.0.113.7", LB) is None


async def test_the_middleware_changes_request_remote() -> None:
    """Through the middleware a handler sees the forwarded client (loopback trusted here)."""

    async def whoami(request: web.Request) -> web.Response:
        return web.Response(text=request.remote or "")

    app = web.Application(middlewares=[trust_forwarded((ipaddress.ip_network("127.0.0.0/8"),))])
    app.router.add_get("/", whoami)
    async with TestClient(TestServer(app)) as client:
        forwarded = await client.get("/", headers={"X-Forwarded-For": "203.0.113.7"})
        assert await forwarded.text() == "203.0.113.7"
        plain = await client.get("/")
        assert await plain.text() == "127.0.0.1"
