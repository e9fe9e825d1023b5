"""The client's address behind a load balancer: ``X-Forwarded-For`` from trusted proxies only.

Replicas behind a load balancer see the balancer as their peer, which would defeat every
address check (partner API keys' allow-lists, provider callback networks, admin IP binding)
and put the balancer's address in the audit log. With ``VENDGATE_TRUSTED_PROXIES`` set, a
request whose peer is one of those networks is handled as coming from the client the proxies
name: the ``X-Forwarded-For`` list read from the right, skipping addresses of trusted proxies
(each proxy appends the address it saw), and the first other address is the client. A list
that is missing or unreadable leaves the peer as it is. Without trusted proxies the header is
ignored entirely, so a client cannot choose its own address by sending it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from config.gateway import Network

__all__ = ["client_address", "trust_forwarded"]

_HEADER = "X-Forwarded-For"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[Network]
) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded: str | None, proxies: Sequence[Network]
) -> str | None:
    """The client's address: ``peer``, or the one trusted ``proxies`` name in ``forwarded``."""
    seen = _address(peer or "")
    if seen is None or not forwarded or not _trusted(seen, proxies):
        return peer
    for part in reversed(forwarded.split(",")):
        hop = _address(part)
        if hop is None:
            return peer  # unreadable: trust nothing further to the left
        if not _trusted(hop, proxies):
            return str(hop)
    return peer


def trust_forwarded(proxies: Sequence[Network]) -> Middleware:
    """Middleware: requests from ``proxies`` carry the forwarded client's address as ``remote``."""
    trusted = tuple(proxies)

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = client_address(request.remote, request.headers.get(_HEADER), trusted)
        if client is not None and client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)

    return forwarded
