"""Fixtures for the SMPP integration tests: the fake SMSC, the smpp34 peer, and links to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from smpp.client import SmppLink
from smpp.config import BindConfig
from tests.support.fake_smsc import PASSWORD, SYSTEM_ID, FakeSmsc
from tests.support.smpp34_peer import smpp34_peer

__all__ = ["fake_smsc", "make_link", "smpp34_peer"]

LinkFactory = Callable[..., SmppLink]


def fast_config(port: int, **changes: Any) -> BindConfig:
    """A bind to 127.0.0.1:port with test-sized timers (reconnect in 50-200 ms)."""
    fields: dict[str, Any] = {
        "name": "test",
        "host": "127.0.0.1",
        "port": port,
        "system_id": SYSTEM_ID,
        "password": PASSWORD,
        "tps": 1000.0,
        "response_timeout_s": 2.0,
        "reconnect_base_s": 0.05,
        "reconnect_cap_s": 0.2,
        "reconnect_jitter": 0.0,
        "throttle_pause_s": 0.2,
    }
    fields.update(changes)
    return BindConfig(**fields)


@pytest.fixture
async def fake_smsc() -> AsyncIterator[FakeSmsc]:
    """A started fake SMSC (happy scenario until a test flips a switch)."""
    fake = FakeSmsc()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def make_link() -> AsyncIterator[LinkFactory]:
    """Builds started links (``make_link(port, **config)``); all are stopped afterwards."""
    links: list[SmppLink] = []

    def make(port: int, **changes: Any) -> SmppLink:
        link = SmppLink(fast_config(port, **changes))
        link.start()
        links.append(link)
        return link

    yield make
    for link in links:
        await link.stop()
